/*
 * tsrun-init entry: seal, read the plan's first record, then run (clone a new
 * container: run.c) or exec (join a running one: exec.c). Here too: what both
 * share, the monitor's signals and its side of the sync socket with the child
 * (SOCK_SEQPACKET, close-on-exec: EOF means the execve succeeded).
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The container's process starts with no signal blocked, whatever tsrun-init had. */
static sigset_t old_mask;

/* Before exec (and before auto_remove's exec of tsrun): the signal mask tsrun-init started with. */
void restore_signal_mask(void)
{
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

static void monitor_signals(sigset_t *set)
{
  sigemptyset(set);
  int sigs[] = { SIGCHLD, FORWARDED_SIGNALS };
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
    sigaddset(set, sigs[i]);
}

/*
 * Blocked first thing in main (the mask survives the sealed re-exec), so a
 * signal tsrun forwards while the launcher is still starting waits in the
 * queue instead of killing it; the monitor reads them from a signalfd.
 */
static void block_early(void)
{
  sigset_t set;
  monitor_signals(&set);
  sigaddset(&set, SIGPIPE); /* a closed stdout must not kill the monitor: write gets EPIPE */
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigemptyset(&old_mask);
}

int block_signals(void)
{
  sigset_t set;
  monitor_signals(&set);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Lets the child run: 'G' starts it. */
void tell_child(pid_t pid, int sock, const char *msg)
{
  if (send(sock, msg, 1, MSG_NOSIGNAL) == 1 || errno == EPIPE || errno == ECONNRESET)
    return; /* a child that already failed has sent its error record: await_child reads it */
  int err = errno;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  status_err("release child", err, NULL);
  exit(125);
}

/*
 * Waits for the outcome of the child's setup: a pty master (tty), then EOF
 * (exec'd) or an error record. Returns the master fd or -1; exits on error.
 */
int await_child(pid_t pid, int sock)
{
  int master = -1;
  for (;;) {
    char msg[1300];
    int fd;
    int n = recv_msg(sock, msg, sizeof msg, &fd);
    if (n <= 0)
      break;
    if (fd >= 0) {
      master = fd;
      continue;
    }
    if (msg[0] == 'E') {
      char *f[3] = { msg + 1, "", "" };
      char *s1 = strchr(f[0], FIELD_SEP);
      if (s1) {
        *s1 = '\0';
        f[1] = s1 + 1;
        char *s2 = strchr(f[1], FIELD_SEP);
        if (s2) {
          *s2 = '\0';
          f[2] = s2 + 1;
        }
      }
      waitpid(pid, NULL, 0);
      status_err(f[0], atoi(f[1]), f[2]);
      exit(125);
    }
  }
  close(sock);
  return master;
}

void stdio_for_child(const struct plan *p, int out, int err)
{
  if (!p->open_stdin || p->detach) {
    int n = open("/dev/null", O_RDWR);
    dup2(n, 0);
    if (n > 2)
      close(n);
  }
  if (out >= 0) {
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
  } else if (p->detach) {
    int n = open("/dev/null", O_RDWR);
    dup2(n, 1);
    dup2(n, 2);
    if (n > 2)
      close(n);
  }
}

/*
 * After the "ok" line: a detached launcher closes the status pipe (nobody
 * waits on it). In the foreground the monitor keeps it open until it exits:
 * tsrun sees the exit as EOF (see native/addon/spawn.c). It is close-on-exec
 * (main), so the container never holds it, and neither does the `rm -f` that
 * auto_remove becomes.
 */
void release_status(const struct plan *p)
{
  if (p->detach)
    close(STATUS_FD);
}

int main(int argc, char **argv)
{
  block_early();
  if (seal_self(argc, argv) < 0) {
    status_err("seal launcher", errno, "memfd copy of /proc/self/exe");
    return 125;
  }
  remember_args(argc, argv);
  /* after the sealed re-exec (which must keep fds 3 and 4): nothing tsrun-init execs gets the status pipe */
  fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
  static struct plan p;
  struct planbuf b = { 0 };
  char err[256];
  size_t first;
  int rc = planbuf_read_first(PLAN_FD, &b, &first, err, sizeof err);
  if (rc < 0) {
    status_err("plan", -rc, err);
    return 125;
  }
  if (first) /* only a run has an early block */
    return run_main(&p, &b, first);
  rc = planbuf_read_rest(PLAN_FD, &b, err, sizeof err);
  if (rc == 0)
    rc = plan_parse(b.data + 1, b.len - 1, &p, err, sizeof err);
  if (rc == 0)
    rc = plan_check(&p, err, sizeof err);
  if (rc < 0) {
    status_err("plan", -rc, err);
    return 125;
  }
  if (!p.exec_mode) {
    status_err("plan", EINVAL, "a run plan needs an early block");
    return 125;
  }
  return exec_main(&p);
}
