/*
 * exec: a process in a running container. The monitor joins the container's
 * PID namespace and forks; the child joins its cgroup and the other
 * namespaces, takes the container's confinement and execs.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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
  restore_signal_mask();
  exec_process(p, sync);
}

int exec_main(const struct plan *p)
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

