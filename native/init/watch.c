/*
 * The watcher's part of the monitor: restart policies and healthchecks.
 *
 * The monitor of a container with a restart policy or a healthcheck gets one
 * plan record (src/runtime/watch-records.ts writes it):
 *   watch=NODE \x1f BIN \x1f ROOT \x1f ID \x1f ONEXIT \x1f INTERVAL_MS \x1f START_PERIOD_MS \x1f START_INTERVAL_MS
 *         \x1f ONEXIT_IF
 * NODE BIN --root ROOT is how it runs tsrun. ONEXIT_IF (may be empty) is a
 * file whose presence at exit means hand over as ONEXIT = 1 does:
 * `tsrun update --restart` gives a running container a policy after its
 * monitor read this record (src/containers/update.ts writes the file).
 *
 * Healthchecks (INTERVAL_MS > 0): while the container runs, the monitor runs
 * `tsrun healthcheck run --scheduled ID` (which execs the check into the
 * container, as `tsrun exec` does, and records the result), one at a time,
 * each INTERVAL after the previous one ended; within the start period, until
 * a check passed, START_INTERVAL instead (docker's daemon schedules the same way).
 * That process exits 0 when the container is healthy after its check.
 *
 * Restart policies (ONEXIT = 1): once the container has exited and exit.json
 * is written, the monitor hands over to `tsrun __on-exit ID`, which applies
 * the policy (back-off, restart count) and starts the container again with a
 * new monitor. A detached monitor becomes that process (exec: the same PID
 * watches on); a foreground one (tsrun run waits for it to exit) starts it
 * in a session of its own. A detached monitor that was itself signalled (a
 * system shutdown stopping the session or service it runs in: tsrun's own
 * stop and kill signal the container, never the monitor) does not hand over:
 * docker's daemon does not restart what its own shutdown stopped.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct watch {
  char *node, *bin, *root, *id;
  bool onexit;
  char *onexit_if;
  long long interval_ms, start_period_ms, start_interval_ms;
  /* runtime: the check now running (0: none), when the next is due, when the container started */
  pid_t check_pid;
  long long next_at, started_at;
  bool passed, signalled;
};

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_field(const char *s, long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || end == s || v < 0)
    return -1;
  *out = v;
  return 0;
}

int watch_parse(struct plan *p, char *v)
{
  char *f[9];
  size_t n = 0;
  for (char *s = v; n < 9; n++) {
    f[n] = s;
    char *sep = strchr(s, FIELD_SEP);
    if (!sep) {
      n++;
      break;
    }
    *sep = 0;
    s = sep + 1;
  }
  if (n != 9 || !*f[0] || !*f[1] || !*f[2] || !*f[3])
    return -1;
  struct watch *w = calloc(1, sizeof *w);
  if (!w)
    return -1;
  w->node = f[0];
  w->bin = f[1];
  w->root = f[2];
  w->id = f[3];
  w->onexit = strcmp(f[4], "1") == 0;
  w->onexit_if = f[8];
  if (ms_field(f[5], &w->interval_ms) || ms_field(f[6], &w->start_period_ms) || ms_field(f[7], &w->start_interval_ms)) {
    free(w);
    return -1;
  }
  free(p->watch);
  p->watch = w;
  return 0;
}

static long long interval_now(const struct watch *w)
{
  bool starting = !w->passed && now_ms() - w->started_at < w->start_period_ms;
  return starting && w->start_interval_ms > 0 ? w->start_interval_ms : w->interval_ms;
}

void watch_started(const struct plan *p)
{
  struct watch *w = p->watch;
  if (!w)
    return;
  w->started_at = now_ms();
  w->next_at = w->started_at + interval_now(w);
}

int watch_timeout(const struct plan *p)
{
  const struct watch *w = p->watch;
  if (!w || w->interval_ms <= 0 || w->check_pid > 0)
    return -1;
  long long left = w->next_at - now_ms();
  return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

/* The child's side of every process the monitor starts: default signals, /dev/null, no fds of ours. */
static void child_exec(char **args)
{
  restore_signal_mask();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
    for (int fd = 3; fd < 1024; fd++)
      close(fd);
  extern char **environ;
  execve(args[0], args, environ);
  _exit(127);
}

void watch_tick(const struct plan *p)
{
  struct watch *w = p->watch;
  if (!w || w->interval_ms <= 0 || w->check_pid > 0 || now_ms() < w->next_at)
    return;
  if (!container_dir_exists(w->root, w->id)) {
    w->next_at = now_ms() + interval_now(w);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    char *args[] = { w->node, w->bin, "--root", w->root, "healthcheck", "run", "--scheduled", w->id, NULL };
    setsid();
    child_exec(args);
  }
  if (pid < 0) /* try again at the next interval */
    w->next_at = now_ms() + interval_now(w);
  else
    w->check_pid = pid;
}

bool watch_reaped(const struct plan *p, pid_t pid, int status)
{
  struct watch *w = p->watch;
  if (!w || pid != w->check_pid)
    return false;
  w->check_pid = 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    w->passed = true;
  w->next_at = now_ms() + interval_now(w);
  return true;
}

void watch_signalled(const struct plan *p, int signo)
{
  if (p->watch && p->detach && signo != SIGCHLD && signo != SIGWINCH)
    p->watch->signalled = true;
}

/*
 * A foreground run the detach keys let go of: nobody waits for it any more, so at exit it hands
 * over as a detached one on its own network would (the exit recorded, the network's teardown
 * handed to a job) rather than leave that to whichever command looks next.
 */
void watch_detached(const struct plan *p)
{
  if (p->watch)
    p->watch->onexit = true;
}

void watch_exited(const struct plan *p)
{
  const struct watch *w = p->watch;
  if (!w || w->signalled)
    return;
  if (!w->onexit && !(*w->onexit_if && access(w->onexit_if, F_OK) == 0))
    return;
  if (!container_dir_exists(w->root, w->id))
    return;
  char *args[] = { w->node, w->bin, "--root", w->root, "__on-exit", w->id, NULL };
  if (p->detach) {
    child_exec(args);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    child_exec(args);
  }
}
