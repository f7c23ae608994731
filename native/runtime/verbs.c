/*
 * The verbs on an existing container: start, state, kill, delete, pause,
 * resume, update. Each runs under the container's lock with its status
 * refreshed (container_load), checks the status allows it, then acts.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static int load_hooks(const struct container *c, struct oci *o)
{
  char file[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/config.json", c->dir);
  return spec_load_hooks(file, o);
}

int cmd_start(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  if (strcmp(c.status, "created") != 0)
    return fail(0, "cannot start a container that is %s", c.status);
  static struct oci o;
  if (load_hooks(&c, &o) < 0)
    return -1;
  char fifo[PATH_MAX + 16];
  snprintf(fifo, sizeof fifo, "%s/exec.fifo", c.dir);
  /* the pidfd first: once the fifo is open the process may run and exit at once */
  int pfd = container_pidfd(&c);
  if (pfd < 0)
    return fail(0, "container init exited before start");
  int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return fail(errno, "open %s", fifo);
  /* the init's open for writing returns now; its "0" says it is on its way to exec */
  struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
  for (;;) {
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      return fail(errno, "wait for the container init");
    if (p[0].revents & POLLIN)
      break;
    if (p[1].revents)
      return fail(0, "container init exited before start");
  }
  char b;
  if (read(fd, &b, 1) != 1)
    return fail(0, "container init exited before start");
  close(fd);
  unlink(fifo);
  close(pfd);
  char *state = state_json(&c, "running", false);
  if (run_hooks(&o, HOOK_POSTSTART, state) < 0)
    fprintf(stderr, "warning: %s\n", oci_err.msg); /* the spec: log a warning and go on */
  return 0;
}

int cmd_state(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  char *s = state_json(&c, c.status, true);
  printf("%s\n", s);
  return 0;
}

/* every process of the cgroup: the manager's kill-all (frozen while signalled, as runc's) */
static int signal_all(struct container *c, int sig)
{
  return cg_kill_all(c->cgroups, c->ncgroups, cg_v2_host(), sig);
}

int cmd_kill(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  int sig = op->nargs > 1 ? signal_number(op->args[1]) : SIGTERM;
  if (sig < 0)
    return fail(0, "unknown signal \"%s\"", op->args[1]);
  if (strcmp(c.status, "stopped") == 0 || strcmp(c.status, "creating") == 0)
    return fail(0, "container not running");
  if (op->all)
    return signal_all(&c, sig);
  int pfd = container_pidfd(&c);
  if (pfd < 0)
    return fail(0, "container not running");
  if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
    return fail(errno, "kill");
  close(pfd);
  return 0;
}

/* SIGKILL the init (and, without a pid namespace of its own, the rest of the cgroup) and wait for its exit */
static int kill_and_wait(struct container *c)
{
  int pfd = container_pidfd(c);
  if (rt_cg_paused(c->cgroups, c->ncgroups))
    rt_cg_freeze(c->cgroups, c->ncgroups, false);
  signal_all(c, SIGKILL);
  if (pfd < 0)
    return 0;
  syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
  struct pollfd p = { .fd = pfd, .events = POLLIN };
  int r = poll(&p, 1, 10000);
  close(pfd);
  return r == 1 ? 0 : fail(0, "container init did not exit after SIGKILL");
}

int cmd_delete(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return op->force && strstr(oci_err.msg, "does not exist") ? 0 : -1;
  if (!strcmp(c.status, "running") || !strcmp(c.status, "paused")) {
    if (!op->force)
      return fail(0, "cannot delete container %s that is not stopped: %s", c.id, c.status);
  } else if (!strcmp(c.status, "creating") && !op->force)
    return fail(0, "cannot delete container %s that is being created", c.id);
  if (kill_and_wait(&c) < 0)
    return -1;
  static struct oci o;
  bool hooks = load_hooks(&c, &o) == 0;
  if (c.ncgroups && rt_cg_remove(c.cgroups, c.ncgroups) < 0)
    return -1;
  if (hooks && *c.bundle) {
    char *state = state_json(&c, "stopped", false);
    if (run_hooks(&o, HOOK_POSTSTOP, state) < 0)
      fprintf(stderr, "warning: %s\n", oci_err.msg); /* the spec: log a warning and go on */
  }
  container_remove_dir(&c);
  return 0;
}

int cmd_pause(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  if (strcmp(c.status, "running") != 0)
    return fail(0, "container not running");
  return rt_cg_freeze(c.cgroups, c.ncgroups, true);
}

int cmd_resume(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  if (strcmp(c.status, "paused") != 0)
    return fail(0, "container not paused");
  return rt_cg_freeze(c.cgroups, c.ncgroups, false);
}

int cmd_update(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  if (!strcmp(c.status, "stopped"))
    return fail(0, "container not running");
  if (!op->resources)
    return fail(0, "update: only --resources FILE is supported");
  json_object *res = strcmp(op->resources, "-") ? json_object_from_file(op->resources) : json_object_from_fd(0);
  if (!res || !json_object_is_type(res, json_type_object))
    return fail(0, "update: %s is not a JSON object of linux.resources", op->resources);
  struct oci_resources r = { 0 };
  if (spec_read_resources(res, &r) < 0)
    return -1;
  return rt_cg_apply(&r, c.cgroups, c.ncgroups, cg_v2_host());
}
