/*
 * The container process and its cgroup: born in it (v2: clone3 with
 * CLONE_INTO_CGROUP) or moving itself in before anything else (v1).
 */
#include "spec.h"
#include "../cgroup/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

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
 * an RCU grace period (test/integration/cgroup-v2.test.ts). Any clone3
 * failure falls back to clone, and the child joins itself (child_join_cgroup).
 */
pid_t fork_container(const struct plan *p, unsigned long flags)
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
/* The file a process moves itself in with: `tasks` on a v1 hierarchy (see below), else cgroup.procs. */
static void join_file(const char *procs, char *file, size_t len)
{
  snprintf(file, len, "%s", procs);
  char *slash = strrchr(file, '/');
  struct statfs sf;
  if (slash && strcmp(slash, "/cgroup.procs") == 0) {
    *slash = '\0';
    if (statfs(file, &sf) == 0 && sf.f_type == X_CGROUP_SUPER_MAGIC)
      strcpy(slash, "/tasks");
    else
      *slash = '/';
  }
}

void child_join_cgroup(char **procs, size_t n, int sync)
{
  if (born_in_cgroup)
    return;
  for (size_t i = 0; i < n; i++) {
    char file[4200];
    join_file(procs[i], file, sizeof file);
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, "0", 1) < 0)
      child_fail(sync, "join cgroup", procs[i]);
    close(fd);
  }
}

int parent_join_cgroup(const struct plan *p, pid_t pid, char *err, size_t errlen)
{
  if (born_in_cgroup)
    return 0;
  char num[32];
  snprintf(num, sizeof num, "%d", (int)pid);
  for (size_t i = 0; i < p->ncgroup_procs; i++) {
    int fd = open(p->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, num, strlen(num)) < 0) {
      int e = errno;
      if (fd >= 0)
        close(fd);
      snprintf(err, errlen, "%s", p->cgroup_procs[i]);
      return -e;
    }
    close(fd);
  }
  return 0;
}

/*
 * exec: the same move, by files the monitor opened while the host's cgroup fs was
 * in its view (the child is born in the container's mount namespace). Reports and
 * returns -1 on failure.
 */
int open_cgroup_files(char **procs, size_t n, int *fds, size_t max, size_t *nfds)
{
  *nfds = 0;
  if (n > max) {
    status_err("join cgroup", E2BIG, NULL);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    char file[4200];
    join_file(procs[i], file, sizeof file);
    fds[i] = open(file, O_WRONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      status_err("join cgroup", errno, procs[i]);
      return -1;
    }
    *nfds = i + 1;
  }
  return 0;
}

/* Writes "0" to each and closes it at once: these are host files, and the child is in the container. */
void join_cgroup_files(int *fds, size_t n, char **procs, int sync)
{
  for (size_t i = 0; i < n; i++) {
    if (write_all(fds[i], "0", 1) < 0)
      child_fail(sync, "join cgroup", procs[i]);
    close(fds[i]);
  }
}

/* A v2-only host: /sys/fs/cgroup is the cgroup2 hierarchy (the manager's test, as tsrun's). */
bool cgroup2_host(void)
{
  return cg_v2_host();
}

int make_cgroup(struct oci *o, char *err, size_t errlen)
{
  struct plan *p = &o->p;
  if (!p->ncgroup_dirs)
    return 0;
  bool v2 = cgroup2_host();
  struct oci_resources lim = o->res;
  lim.ndevices = 0; /* apply_device_rules' */
  if (cg_make(p->cgroup_dirs, p->ncgroup_dirs, v2, &lim) == 0 && (!cg_limits_given(&lim) || cg_apply(&lim, p->cgroup_dirs, p->ncgroup_dirs, v2) == 0))
    return 0;
  int e = oci_err.errnum ? oci_err.errnum : EINVAL;
  snprintf(err, errlen, "%s", oci_err.msg);
  cg_remove(p->cgroup_dirs, p->ncgroup_dirs, v2, 1000, false);
  return -e;
}

