/*
 * Namespaces by path: making a network namespace file (make_netns), and joining namespaces by path (the spec's namespaces with a path): a network namespace
 * tsrun made and had netavark set up before the container existed (podman's
 * model; the OCI spec's namespaces-by-path are the same thing). The path lives
 * in the host's mount namespace, which the container process has left by the
 * time it reads its early block (on a cgroup v1 host it was forked even
 * before), so the monitor opens each path and passes the fd over the sync
 * socket; the container process joins right after its cgroup, before it sets
 * up anything that depends on the namespace.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int send_nsjoin_fds(const struct plan *p, int sock, char *err, size_t errlen)
{
  for (size_t i = 0; i < p->nnsjoins; i++) {
    int fd = open(p->nsjoins[i].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || send_fd(sock, fd) < 0) {
      int e = errno;
      if (fd >= 0)
        close(fd);
      snprintf(err, errlen, "%s", p->nsjoins[i].path);
      return -e;
    }
    close(fd);
  }
  return 0;
}

void child_join_namespaces(const struct plan *p, int sync)
{
  for (size_t i = 0; i < p->nnsjoins; i++) {
    char buf[8];
    int fd;
    errno = EPIPE; /* the monitor went away without sending it */
    if (recv_msg(sync, buf, sizeof buf, &fd) <= 0 || fd < 0)
      child_fail(sync, "receive namespace", p->nsjoins[i].path);
    if (setns(fd, p->nsjoins[i].type) < 0)
      child_fail(sync, "join namespace", p->nsjoins[i].path);
    close(fd);
  }
}

/*
 * The launcher is single-threaded, so it can unshare where Node cannot; it
 * runs in the host's mount namespace, so the bind mount is the host's. The
 * namespace lives on in the mount when this process exits.
 */
int make_netns(const char *path)
{
  if (path[0] != '/') {
    status_err("netns", EINVAL, path);
    return 125;
  }
  if (unshare(CLONE_NEWNET) < 0) {
    status_err("unshare network namespace", errno, NULL);
    return 125;
  }
  if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0) {
    status_err("bind network namespace", errno, path);
    return 125;
  }
  status_ok(0);
  return 0;
}

/*
 * A run that joins a user namespace by path: its new namespaces must be owned
 * by that one, or root in it could not use them (sethostname, mounting /proc),
 * so they are made from inside it, as runc does (setns into the user
 * namespace, then the rest). A helper joins it and clones the container
 * process with CLONE_PARENT, so this monitor stays its parent (it reaps it and
 * gets its SIGCHLD), and sends back its pid and errno. Returns as fork does,
 * with errno on failure.
 */
pid_t fork_in_userns(const char *path, unsigned long flags)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC), pfd[2];
  if (fd < 0)
    return -1;
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    close(fd);
    return -1;
  }
  pid_t helper = fork();
  if (helper == 0) {
    int msg[2] = { -1, 0 };
    close(pfd[0]);
    if (setns(fd, CLONE_NEWUSER) < 0)
      msg[1] = errno;
    else if ((msg[0] = (int)syscall(SYS_clone, flags | CLONE_PARENT, 0, 0, 0, 0)) == 0) {
      close(pfd[1]);
      close(fd);
      return 0;
    } else if (msg[0] < 0)
      msg[1] = errno;
    _exit(write(pfd[1], msg, sizeof msg) == sizeof msg ? 0 : 1);
  }
  int err = errno;
  close(fd);
  close(pfd[1]);
  if (helper < 0) {
    close(pfd[0]);
    errno = err;
    return -1;
  }
  int msg[2];
  ssize_t n;
  do
    n = read(pfd[0], msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  close(pfd[0]);
  while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t)sizeof msg) {
    errno = ECHILD;
    return -1;
  }
  if (msg[0] < 0) {
    errno = msg[1];
    return -1;
  }
  return (pid_t)msg[0];
}
