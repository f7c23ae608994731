/*
 * tsrun-init entry: seal, read the plan, then run (clone a new container) or
 * exec (join a running one). The parent half stays as the monitor; the child
 * half carries out the plan and reports a failed step over the sync socket
 * (SOCK_SEQPACKET, close-on-exec: EOF means the execve succeeded).
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* The container's process starts with no signal blocked, whatever tsrun-init had. */
static sigset_t old_mask;

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

static int block_signals(void)
{
  sigset_t set;
  monitor_signals(&set);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Set by fork_container when clone3 put the child in its cgroup (then it need not join). */
static bool born_in_cgroup;

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define X_CLONE_INTO_CGROUP 0x200000000ULL
#define X_CGROUP2_SUPER_MAGIC 0x63677270

/* struct clone_args up to .cgroup (CLONE_ARGS_SIZE_VER2), without <linux/sched.h>'s clash with <sched.h>. */
struct x_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/*
 * Forks the container process; born_in_cgroup says whether it was born in its cgroup.
 * cgroup v2 (one cgroup.procs, on a cgroup2 fs): clone3 with CLONE_INTO_CGROUP
 * (Linux 5.7+) puts it there atomically, without the migration that waits for
 * an RCU grace period. UNTESTED here (this host has cgroup v1 only); any clone3
 * failure falls back to clone, and the child joins itself (child_join_cgroup).
 */
static pid_t fork_container(const struct plan *p, unsigned long flags)
{
  born_in_cgroup = false;
  if (p->ncgroup_procs == 1) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", p->cgroup_procs[0]);
    char *slash = strrchr(dir, '/');
    struct statfs sf;
    int cfd = -1;
    if (slash && strcmp(slash, "/cgroup.procs") == 0) {
      *slash = '\0';
      cfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (cfd >= 0 && fstatfs(cfd, &sf) == 0 && sf.f_type == X_CGROUP2_SUPER_MAGIC) {
      struct x_clone_args a = { .flags = flags | X_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cfd };
      pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof a);
      if (pid >= 0) {
        close(cfd);
        born_in_cgroup = true; /* in the parent and in the child */
        return pid;
      }
    }
    if (cfd >= 0)
      close(cfd);
  }
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

/* Lets the child run: 'G' starts it. */
static void tell_child(pid_t pid, int sock, const char *msg)
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
static int await_child(pid_t pid, int sock)
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

static void stdio_for_child(const struct plan *p, int out, int err)
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

#define X_CGROUP_SUPER_MAGIC 0x27e0eb

/*
 * The child moves itself into its cgroup, first thing: in each cgroup v1
 * hierarchy it writes "0" (itself) to the `tasks` file. A thread moving
 * itself is the one move for which the kernel skips the global
 * cgroup_threadgroup_rwsem (cgroup_procs_write_start), whose write side
 * waits out an RCU grace period: 4-25 ms on this machine when another
 * process (the monitor, as before) writes the child's PID to cgroup.procs,
 * against ~0.1 ms. The child is single-threaded, so moving the thread moves
 * the process, and all it forks and execs is born inside.
 * v2: the clone3(CLONE_INTO_CGROUP) of fork_container already put it there;
 * should that have failed, it writes "0" to cgroup.procs (the slow move).
 */
static void child_join_cgroup(char **procs, size_t n, int sync)
{
  if (born_in_cgroup)
    return;
  for (size_t i = 0; i < n; i++) {
    char file[4200];
    snprintf(file, sizeof file, "%s", procs[i]);
    char *slash = strrchr(file, '/');
    struct statfs sf;
    if (slash && strcmp(slash, "/cgroup.procs") == 0) {
      *slash = '\0';
      if (statfs(file, &sf) == 0 && sf.f_type == X_CGROUP_SUPER_MAGIC)
        strcpy(slash, "/tasks");
      else
        *slash = '/';
    }
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, "0", 1) < 0)
      child_fail(sync, "join cgroup", procs[i]);
    close(fd);
  }
}

/*
 * The container process. The monitor forwards it the plan's early block as
 * soon as it has it: with it, it joins its cgroup and sets up its filesystem,
 * up to and including pivot_root (the overlay alone is ~1 ms of overlayfs
 * probing the upper dir), while tsrun is still building the rest of the plan
 * (confinement and process); then it reads that rest, with the seccomp
 * filter the monitor prepared. On a cgroup v1 host it is forked before even
 * the early block is in (run_main), so the new namespaces (a network
 * namespace costs 0.7-2 ms) are made while tsrun still creates the container.
 *
 * fwd carries: the early block and its empty record, u32 length, the rest
 * of the plan, the filter.
 */
static _Noreturn void run_child(struct plan *p, int fwd, int sync, int out, int err)
{
  close(STATUS_FD); /* the monitor's; an --init PID 1 (which never execs) must not hold it */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* every record from fwd: this copy of the plan may hold some of the monitor's already */
  memset(p, 0, sizeof *p);
  char perr[256];
  struct planbuf b = { 0 };
  if (planbuf_read_early(fwd, &b, perr, sizeof perr) < 0 || plan_parse_early(&b, p, perr, sizeof perr) < 0)
    _exit(125); /* the monitor parsed the same bytes first and reports why */
  child_join_cgroup(p->cgroup_procs, p->ncgroup_procs, sync);
  /* right after the join (runc's order): the namespace's root is the container's cgroup, and
     each cgroup fs mounted at /sys/fs/cgroup shows that cgroup as its root */
  if ((p->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    child_fail(sync, "unshare cgroup namespace", NULL);
  mount_root_overlay(p, sync);
  if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
    child_fail(sync, "sethostname", p->hostname);
  if (p->lo_up)
    set_lo_up(sync);
  setup_rootfs(p, sync);
  pivot_to_rootfs(p, sync);
  uint32_t planlen = 0;
  if (planbuf_read_rest(fwd, &b, perr, sizeof perr) < 0 || b.len < b.early_len + 1 + sizeof planlen)
    _exit(125); /* the monitor reports why */
  char *rest = b.data + b.early_len + 1;
  size_t restlen = b.len - b.early_len - 1 - sizeof planlen;
  memcpy(&planlen, rest, sizeof planlen);
  rest += sizeof planlen;
  if (planlen > restlen || plan_parse(rest, planlen, p, perr, sizeof perr) < 0 || plan_check(p, perr, sizeof perr) < 0)
    _exit(125); /* the monitor parsed the same bytes first and reports why */
  if (take_prepared_seccomp(rest + planlen, restlen - planlen) < 0)
    child_fail(sync, "seccomp filter from the monitor", NULL);
  if (p->tty) { /* the monitor made output pipes before it knew */
    close(out);
    close(err);
    out = err = -1;
  }
  struct winsize ws = { 0 };
  ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
  stdio_for_child(p, out, err);
  if (p->detach && !p->tty)
    setsid();
  if (p->tty)
    setup_child_tty(sync, &ws, true);
  apply_rlimits(p, sync);
  confine(p, sync);
  if (p->init)
    become_pid1(sync, p->tty);
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  exec_process(p, sync);
}

/*
 * --rm of a container nobody waits for (run -d, start): the monitor is the
 * only process left that sees it exit, so it becomes `tsrun rm -f ID` (the
 * same removal as the CLI's: locks, cgroup, trash rename). exit.json is
 * written first, so rm sees an exited container.
 */
static void auto_remove(const struct plan *p)
{
  /* tsrun may still be recording the start (a container that exits at once):
     let it finish and exit first, so rm never removes a dir it still writes to */
  pid_t parent = getppid();
  int pfd = parent > 1 ? (int)syscall(SYS_pidfd_open, parent, 0) : -1;
  if (pfd >= 0) {
    struct pollfd pf = { .fd = pfd, .events = POLLIN };
    poll(&pf, 1, 10000);
    close(pfd);
  } else
    for (int i = 0; i < 500 && parent > 1 && getppid() == parent; i++)
      usleep(20000);
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  char *args[] = { p->autorm_node, p->autorm_bin, "--root", p->autorm_root, "rm", "-f", p->autorm_id, NULL };
  extern char **environ;
  execve(p->autorm_node, args, environ);
}

/*
 * After the "ok" line: a detached launcher closes the status pipe (nobody
 * waits on it). In the foreground the monitor keeps it open until it exits:
 * tsrun sees the exit as EOF (see native/addon/spawn.c). It is close-on-exec
 * (main), so the container never holds it, and neither does the `rm -f` that
 * auto_remove becomes.
 */
static void release_status(const struct plan *p)
{
  if (p->detach)
    close(STATUS_FD);
}

#define X_CGROUP2_MAGIC 0x63677270

/* A v2-only host: /sys/fs/cgroup is the cgroup2 hierarchy (as src/runtime/cgroups.ts decides). */
static bool cgroup2_host(void)
{
  struct statfs sf;
  return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == X_CGROUP2_MAGIC;
}

/*
 * run: the plan's first record says which namespaces. On a cgroup v1 host the
 * container process is forked at once, while tsrun still creates the
 * container; on v2 it is forked once the early block is in, straight into its
 * cgroup (clone3 CLONE_INTO_CGROUP needs the cgroup). The monitor forwards
 * the early block, then reads the rest of the plan, checks it, prepares the
 * seccomp filter and forwards both (run_child).
 */
static int run_main(struct plan *p, struct planbuf *b, size_t first)
{
  char err[256];
  const char *step = "plan", *detail = err;
  if (strncmp(b->data, "clone=", 6) != 0) {
    status_err("plan", EINVAL, "a run plan starts with clone=");
    return 125;
  }
  char *rec = strndup(b->data, first);
  int rc = rec ? plan_parse(rec, first + 1, p, err, sizeof err) : -ENOMEM;
  if (rc < 0) {
    status_err("plan", -rc, rec ? err : "out of memory");
    return 125;
  }
  int sfd = block_signals();
  int sv[2], outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, fwd[2] = { -1, -1 };
  if (sfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    status_err("socketpair", errno, NULL);
    return 125;
  }
  /* without a tty the container writes into pipes the monitor reads: it copies them to the
     json-file log and, in the foreground, on to tsrun's stdout/stderr (made before the plan
     says whether there is a tty; dropped if there is) */
  if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(fwd, O_CLOEXEC) < 0) {
    status_err("pipe", errno, NULL);
    return 125;
  }
  unsigned long cflags = p->clone_flags & ~(unsigned long)CLONE_NEWCGROUP;
  bool fork_first = !cgroup2_host();
  pid_t pid = fork_first ? fork_container(p, cflags) : 0;
  if (fork_first && pid == 0)
    goto child;
  rc = planbuf_read_early(PLAN_FD, b, err, sizeof err);
  if (rc == 0)
    rc = plan_parse_early(b, p, err, sizeof err);
  if (rc == 0 && !fork_first) {
    pid = fork_container(p, cflags);
    if (pid == 0)
      goto child;
  }
  if (pid < 0) {
    status_err("clone", errno, "new namespaces");
    return 125;
  }
  close(sv[1]);
  close(outp[1]);
  close(errp[1]);
  close(fwd[0]);
  /* a child that failed already has reported: await_child reads it */
  if (rc == 0)
    write_all(fwd[1], b->data, b->early_len + 1);
  if (rc == 0)
    rc = planbuf_read_rest(PLAN_FD, b, err, sizeof err);
  char *rest = b->data + b->early_len + 1;
  size_t restlen = rc == 0 ? b->len - b->early_len - 1 : 0;
  /* parsing works in place: the child gets a copy of the bytes as they came */
  char *copy = rc == 0 ? malloc(restlen ? restlen : 1) : NULL;
  if (rc == 0 && !copy) {
    rc = -ENOMEM;
    snprintf(err, sizeof err, "out of memory");
  }
  if (rc == 0) {
    memcpy(copy, rest, restlen);
    rc = plan_parse(rest, restlen, p, err, sizeof err);
  }
  if (rc == 0)
    rc = plan_check(p, err, sizeof err);
  if (rc == 0 && p->exec_mode) {
    rc = -EINVAL;
    snprintf(err, sizeof err, "an exec plan for a run launch");
  }
  /* the filter is compiled (or read from its cache) here: the child has left the host's filesystem */
  if (rc == 0 && prepare_seccomp(p, &step, &detail) < 0)
    rc = -errno;
  if (rc == 0) {
    uint32_t planlen = (uint32_t)restlen;
    const void *filter;
    size_t filterlen;
    prepared_seccomp_bytes(&filter, &filterlen);
    if (write_all(fwd[1], &planlen, sizeof planlen) == 0 && write_all(fwd[1], copy, restlen) == 0)
      write_all(fwd[1], filter, filterlen);
  }
  close(fwd[1]);
  free(copy);
  if (rc < 0) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    status_err(step, -rc, detail);
    return 125;
  }
  if (p->tty) {
    close(outp[0]);
    close(errp[0]);
    outp[0] = errp[0] = -1;
  }
  int master = await_child(pid, sv[0]);
  status_ok(pid);
  release_status(p);
  int status = monitor_loop(p, pid, sfd, master, outp[0], errp[0]);
  write_exit_file(p->exit_file, status);
  if (p->autorm_node)
    auto_remove(p);
  return exit_code(status);
child:
  close(sv[0]);
  close(sfd);
  close(outp[0]);
  close(errp[0]);
  close(fwd[1]);
  close(PLAN_FD);
  run_child(p, fwd[0], sv[1], outp[1], errp[1]);
}

static const struct {
  const char *name;
  int flag;
} NS[] = { { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS } };

static _Noreturn void exec_child(const struct plan *p, int sync, int *nsfd)
{
  /* nothing in the container may read this process's memory or fds before it execs */
  prctl(PR_SET_DUMPABLE, 0);
  close(STATUS_FD);
  char go;
  if (read(sync, &go, 1) != 1)
    _exit(125);
  child_join_cgroup(p->cgroup_procs, p->ncgroup_procs, sync); /* before setns: the host's cgroup fs is reachable only from here */
  struct winsize ws = { 0 };
  ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
  for (size_t i = 0; i < sizeof NS / sizeof *NS; i++)
    if (nsfd[i] >= 0 && setns(nsfd[i], NS[i].flag) < 0)
      child_fail(sync, "setns", NS[i].name);
  stdio_for_child(p, -1, -1);
  if (p->detach && !p->tty)
    setsid();
  if (p->tty)
    setup_child_tty(sync, &ws, false);
  apply_rlimits(p, sync);
  confine(p, sync);
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  exec_process(p, sync);
}

static int exec_main(const struct plan *p)
{
  int nsfd[sizeof NS / sizeof *NS];
  char path[64];
  for (size_t i = 0; i < sizeof NS / sizeof *NS; i++) {
    nsfd[i] = -1;
    for (size_t k = 0; k < p->nns; k++)
      if (strcmp(p->ns[k], NS[i].name) == 0) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)p->target_pid, NS[i].name);
        nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd[i] < 0) {
          status_err("open namespace", errno, path);
          return 125;
        }
      }
  }
  /* the PID namespace applies to children: join it here, then fork into it */
  snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)p->target_pid);
  int pidns = open(path, O_RDONLY | O_CLOEXEC);
  if (pidns < 0 || setns(pidns, CLONE_NEWPID) < 0) {
    status_err("join pid namespace", errno, path);
    return 125;
  }
  close(pidns);
  const char *step, *detail;
  if (prepare_seccomp(p, &step, &detail) < 0) {
    status_err(step, errno, detail);
    return 125;
  }
  int sfd = block_signals();
  int sv[2];
  if (sfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    status_err("socketpair", errno, NULL);
    return 125;
  }
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    status_err("fork into the container", errno, NULL);
    return 125;
  }
  if (pid == 0) {
    close(sv[0]);
    close(sfd);
    exec_child(p, sv[1], nsfd);
  }
  close(sv[1]);
  for (size_t i = 0; i < sizeof NS / sizeof *NS; i++)
    if (nsfd[i] >= 0)
      close(nsfd[i]);
  tell_child(pid, sv[0], "G");
  int master = await_child(pid, sv[0]);
  status_ok(pid);
  release_status(p);
  int status = monitor_loop(p, pid, sfd, master, -1, -1);
  return exit_code(status);
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
