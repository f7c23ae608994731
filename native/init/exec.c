/*
 * exec: a process in a running container. The monitor opens what the child
 * needs from the host (namespaces, cgroup files, the seccomp filter),
 * then enters the container's mount namespace, and with it its root,
 * and its PID namespace for children, and forks: the child is born inside the
 * container's filesystem, non-dumpable (runc's order). A child forked first
 * and moved later would show, for a moment, in the container's /proc with
 * the host's / as its /proc/PID/root. The child joins the cgroup and the
 * other namespaces (its user namespace first), takes the container's confinement and execs; its stdio
 * are pipes the monitor copies to and from the caller's.
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* joined by the child, in this order: the user namespace first (runc's order: the others are
   owned by it), the cgroup namespace after the cgroup itself */
static const struct {
  const char *name;
  int flag;
} NS[] = { { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP } };
/* oomScoreAdj is the container's (inherited from the monitor, which joined nothing of it) */
#define NNS (sizeof NS / sizeof *NS)

struct exec_fds {
  int ns[NNS];
  int cgroup[32]; /* the files the child writes "0" to (open_cgroup_files) */
  size_t ncgroup;
  int io[6];
  bool merged; /* stdout and stderr one pipe (io[2], io[3]): see same_output */
};

/*
 * The caller's stdout and stderr are one file (2>&1, a terminal, a
 * healthcheck probe's one pipe): the child gets one pipe for both, so what it
 * writes keeps its order (two pipes copied side by side interleave at random:
 * a shell's trace line split by the command's output).
 */
static bool same_output(void)
{
  struct stat a, b;
  return fstat(STDOUT_FILENO, &a) == 0 && fstat(STDERR_FILENO, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static _Noreturn void exec_child(const struct oci *o, int sync, struct exec_fds *f)
{
  const struct plan *p = &o->p;
  close(STATUS_FD);
  char go;
  if (read(sync, &go, 1) != 1)
    _exit(125);
  join_cgroup_files(f->cgroup, f->ncgroup, p->cgroup_procs, sync);
  struct winsize ws = { 0 };
  ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
  /* runc's order: those the host's root may join go first (a network namespace made before the
     container's user namespace is the host root's, and no longer joinable from inside that one),
     then the user namespace, then the rest, owned by it */
  bool joined[NNS] = { false };
  for (size_t i = 1; f->ns[0] >= 0 && i < NNS; i++)
    joined[i] = f->ns[i] >= 0 && setns(f->ns[i], NS[i].flag) == 0;
  for (size_t i = 0; i < NNS; i++)
    if (f->ns[i] >= 0 && !joined[i] && setns(f->ns[i], NS[i].flag) < 0)
      child_fail(sync, "setns", NS[i].name);
  if (p->tty) {
    for (int i = 0; i < 6; i++)
      close(f->io[i]);
    f->io[0] = f->io[3] = f->io[5] = -1;
  }
  stdio_for_child(p, f->io[0], p->detach ? -1 : f->io[3], p->detach ? -1 : f->merged ? f->io[3] : f->io[5], sync);
  /* a session of its own, always (see run.c): never the caller's terminal */
  if (p->tty)
    setup_child_tty(sync, &ws, false);
  else if (setsid() < 0)
    child_fail(sync, "setsid", NULL);
  umask(o->umask >= 0 ? (mode_t)o->umask : 022);
  apply_rlimits(p, sync);
  confine(p, sync);
  restore_signal_mask();
  exec_process(p, sync);
}

/* a namespace of the target (a path the spec gives), opened while /proc is the host's */
static int open_ns(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    status_err("open namespace", errno, path);
  return fd;
}

/*
 * The spec's namespaces, each joined by path (spec_tsrun.c checks they have
 * one): the mount and pid ones by the monitor, the others by the child.
 */
int exec_main(struct oci *o)
{
  struct plan *p = &o->p;
  struct exec_fds f;
  int mntns = -1, pidns = -1;
  for (size_t i = 0; i < NNS; i++)
    f.ns[i] = -1;
  for (size_t k = 0; k < o->nns; k++) {
    int *fd = o->ns[k].type == CLONE_NEWNS ? &mntns : o->ns[k].type == CLONE_NEWPID ? &pidns : NULL;
    for (size_t i = 0; i < NNS && !fd; i++)
      if (o->ns[k].type == NS[i].flag)
        fd = &f.ns[i];
    if (!fd) {
      status_err("spec", EINVAL, "exec: a namespace it cannot join");
      return 125;
    }
    if ((*fd = open_ns(o->ns[k].path)) < 0)
      return 125;
  }
  if (pidns < 0) {
    status_err("spec", EINVAL, "exec: the container's pid namespace is missing");
    return 125;
  }
  if (open_cgroup_files(p->cgroup_procs, p->ncgroup_procs, f.cgroup, sizeof f.cgroup / sizeof *f.cgroup, &f.ncgroup) < 0)
    return 125; /* reported */
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
  if (stdio_pipes(f.io) < 0) {
    status_err("pipe", errno, NULL);
    return 125;
  }
  f.merged = !p->tty && !p->detach && same_output();
  if (f.merged) {
    close(f.io[4]);
    close(f.io[5]);
    f.io[4] = f.io[5] = -1;
  }
  /* inherited by the child, which stays so until it execs: nothing in the container may
     read its memory or fds (the monitor itself is never visible in the container) */
  prctl(PR_SET_DUMPABLE, 0);
  if (p->ndetach_keys)
    monitor_open_null();
  /* the monitor needs nothing from the host's filesystem from here on (but the /dev/null a
     detach gives its stdio, just opened); setns lands it on
     the namespace's root, the container's, and the child inherits that root and cwd */
  if (mntns >= 0 && setns(mntns, CLONE_NEWNS) < 0) {
    status_err("join namespace", errno, "mnt");
    return 125;
  }
  if (setns(pidns, CLONE_NEWPID) < 0) {
    status_err("join pid namespace", errno, NULL);
    return 125;
  }
  close(pidns);
  if (mntns >= 0)
    close(mntns);
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    status_err("fork into the container", errno, NULL);
    return 125;
  }
  if (pid == 0) {
    close(sv[0]);
    close(sfd);
    exec_child(o, sv[1], &f);
  }
  close(sv[1]);
  for (size_t i = 0; i < NNS; i++)
    if (f.ns[i] >= 0)
      close(f.ns[i]);
  for (size_t i = 0; i < f.ncgroup; i++)
    close(f.cgroup[i]);
  close(f.io[0]);
  close(f.io[3]);
  if (f.io[5] >= 0)
    close(f.io[5]);
  int in = f.io[1], out = f.io[2], err = f.io[4];
  if (p->tty || !p->open_stdin || p->detach) {
    close(in);
    in = -1;
  }
  if (p->tty || p->detach) {
    close(out);
    if (err >= 0)
      close(err);
    out = err = -1;
  }
  tell_child(pid, sv[0], "G");
  int master = await_child(pid, sv[0]);
  status_ok(pid);
  release_status(p);
  int status = monitor_loop(p, pid, sfd, master, in, out, err);
  return exit_code(status);
}
