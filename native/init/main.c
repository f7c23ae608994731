/*
 * tsrun-init entry: seal, read the plan's first record, then run (clone a new
 * container: run.c) or exec (join a running one: exec.c). Here too: what both
 * share, the monitor's signals and its side of the sync socket with the child
 * (SOCK_SEQPACKET, close-on-exec: EOF means the execve succeeded).
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
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
    if (msg[0] == 'E')
      child_error_exit(pid, msg);
  }
  close(sock);
  return master;
}

/* The child's error record ("E" step 0x1f errno 0x1f detail): reported as the launch's, and the launcher exits. */
_Noreturn void child_error_exit(pid_t pid, char *msg)
{
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

/*
 * The container's /dev/null, opened from inside the container: an fd of the host's
 * would let the container chmod or chown the host's /dev/null through
 * /proc/self/fd/0. Only the null device itself (an exec'd process meets a
 * /dev/null the container may have replaced).
 */
static int container_null(int sync)
{
  int fd = open("/dev/null", O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    child_fail(sync, "open /dev/null", NULL);
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
    errno = EPERM;
    child_fail(sync, "open /dev/null", "not the null device");
  }
  return fd;
}

/*
 * The container process's fds 0-2: never the caller's own files (a file given as
 * stdin could be reopened for writing through /proc/self/fd/0). Pipes the
 * monitor copies (in, out, err; -1 when there are none: detached), else the
 * container's /dev/null. A pty replaces them all later (setup_child_tty).
 */
void stdio_for_child(const struct plan *p, int in, int out, int err, int sync)
{
  /* a run's -i keeps its stdin pipe when detached too (attach writes to it); a detached exec's is /dev/null */
  int src[3] = { p->open_stdin && (!p->detach || !p->exec_mode) ? in : -1, out, err };
  int null = src[0] < 0 || src[1] < 0 || src[2] < 0 ? container_null(sync) : -1;
  for (int i = 0; i < 3; i++)
    if (dup2(src[i] >= 0 ? src[i] : null, i) < 0)
      child_fail(sync, "stdio", NULL);
  int all[4] = { null, in, out, err == out ? -1 : err }; /* one pipe for both: closed once */
  for (int i = 0; i < 4; i++)
    if (all[i] > 2)
      close(all[i]);
}

/* Pipes for the container's stdin, stdout and stderr: fds[0..5] as pipe2 gives them. */
int stdio_pipes(int fds[6])
{
  for (int i = 0; i < 3; i++)
    if (pipe2(fds + 2 * i, O_CLOEXEC) < 0)
      return -1;
  return 0;
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

/*
 * `tsrun-init --dump-spec run|exec` (hidden; the round-trip test): reads a spec
 * on stdin, reads it as the launcher would, and prints what it understood
 * (spec_dump.c), or the reader's one-line error (exit 1).
 */
static int dump_spec(const char *mode)
{
  static struct oci o;
  struct planbuf b = { 0 };
  char err[256];
  if (planbuf_read_rest(STDIN_FILENO, &b, err, sizeof err) < 0 || spec_launcher_load(&o, b.data ? b.data : "", b.len, strcmp(mode, "exec") == 0) < 0) {
    fprintf(stderr, "%s\n", oci_err.msg[0] ? oci_err.msg : err);
    return 1;
  }
  puts(json_object_to_json_string_ext(spec_dump(&o), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 4 && strcmp(argv[1], PID1_ARG) == 0)
    return pid1_main(argc, argv); /* --init's PID 1, inside the container (init1.c) */
  if (argc == 3 && strcmp(argv[1], "--dump-spec") == 0)
    return dump_spec(argv[2]);
  block_early();
  if (seal_self(argc, argv) < 0) {
    status_err("seal launcher", errno, "memfd copy of /proc/self/exe");
    return 125;
  }
  remember_args(argc, argv);
  /* after the sealed re-exec (which must keep fds 3 and 4): nothing tsrun-init execs gets the status pipe */
  fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
  /* and nothing else the caller left open (`200</` on the command line): an --init PID 1, which
     never execs, would carry it into the container, a monitor would hold it open for its life */
  syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0);
  static struct oci o;
  struct planbuf b = { 0 };
  char err[256];
  size_t first;
  int rc = planbuf_read_first(PLAN_FD, &b, &first, err, sizeof err);
  if (rc < 0) {
    status_err("spec", -rc, err);
    return 125;
  }
  if (first && strncmp(b.data, "netns=", 6) == 0)
    return make_netns(b.data + 6);
  if (first && strncmp(b.data, "attach=", 7) == 0)
    return attach_client_main(b.data + 7);
  if (first) /* a run starts with its namespaces */
    return run_main(&o, &b, first);
  rc = planbuf_read_rest(PLAN_FD, &b, err, sizeof err);
  if (rc < 0) {
    status_err("spec", -rc, err);
    return 125;
  }
  if (spec_launcher_load(&o, b.data + 1, b.len - 1, true) < 0) {
    status_err("spec", EINVAL, oci_err.msg);
    return 125;
  }
  return exec_main(&o);
}
