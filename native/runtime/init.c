/*
 * The container's init, forked by create into the new namespaces. It sets up
 * everything the spec asks for, reporting the first failure over the sync
 * socket (child_fail: create prints it), then says "ready" and blocks on
 * exec.fifo until start; then startContainer hooks, the last seccomp step and
 * the user's process. Messages with create (SOCK_SEQPACKET):
 *   create → init  'G' go (after writing the id maps)
 *   init → create  'H' mounts are in place: run prestart/createRuntime hooks
 *   create → init  'S' + state JSON: run createContainer hooks, continue
 *   init → create  'R' ready, blocking on the fifo (then the socket closes)
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static const int NS_ORDER[] = { CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS };

static void join_namespaces(struct init_args *a)
{
  const struct oci *o = a->o;
  for (size_t k = 0; k < sizeof NS_ORDER / sizeof *NS_ORDER; k++)
    for (size_t i = 0; i < o->nns; i++)
      if (o->ns[i].type == NS_ORDER[k] && a->nsfd[i] >= 0) {
        if (setns(a->nsfd[i], o->ns[i].type) < 0)
          child_fail(a->sync, "setns", o->ns[i].path);
        close(a->nsfd[i]);
        a->nsfd[i] = -1;
      }
}

/* The pty: made in the container's devpts, the slave its stdio and /dev/console, the master sent to the console socket. */
static void setup_console(const struct oci *o, int console, int sync)
{
  if (setsid() < 0)
    child_fail(sync, "setsid", NULL);
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    child_fail(sync, "open /dev/ptmx", NULL);
  char name[64];
  if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
    child_fail(sync, "unlockpt", NULL);
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    child_fail(sync, "open pty slave", name);
  if (o->console_height || o->console_width) {
    struct winsize ws = { .ws_row = (unsigned short)o->console_height, .ws_col = (unsigned short)o->console_width };
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  int c = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (c >= 0)
    close(c);
  if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
    child_fail(sync, "bind /dev/console", name);
  if (send_fd(console, master) < 0)
    child_fail(sync, "send pty master to the console socket", NULL);
  close(master);
  close(console);
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    child_fail(sync, "set controlling terminal", name);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0)
      child_fail(sync, "dup pty slave", NULL);
  close(slave);
}

static void expect(int sync, char what, char *buf, size_t len)
{
  int fd;
  int n = recv_msg(sync, buf, len, &fd);
  if (n <= 0 || buf[0] != what)
    _exit(1); /* create is gone or failed: it reports why */
}

static void root_propagation(const struct oci *o, int sync)
{
  /* nothing mounted from here on reaches the host (runc's default: rslave) */
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    child_fail(sync, "make / rslave", NULL);
  if (mount(o->root_path, o->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
    child_fail(sync, "bind rootfs", o->root_path);
  /* rootfsPropagation is applied after pivot_root, which refuses a shared new root */
}

static void mount_propagations(const struct oci *o, int sync)
{
  for (size_t i = 0; i < o->nprops; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", o->root_path, o->props[i].dst);
    if (mount(NULL, path, NULL, o->props[i].flags, NULL) < 0)
      child_fail(sync, "mount propagation", o->props[i].dst);
  }
}

static void enter_root(const struct init_args *a, int sync)
{
  if (!a->no_pivot)
    pivot_to_rootfs(&a->o->p, sync);
  else if (chdir(a->o->root_path) < 0 || mount(a->o->root_path, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
    child_fail(sync, "move rootfs to / (--no-pivot)", a->o->root_path);
  if (a->o->rootfs_propagation && mount(NULL, "/", NULL, a->o->rootfs_propagation, NULL) < 0)
    child_fail(sync, "rootfsPropagation", "/");
}

_Noreturn void container_init(struct init_args *a)
{
  struct oci *o = a->o;
  struct plan *p = &o->p;
  int sync = a->sync;
  char msg[65536];
  /* nothing in the container may read this process's memory or fds before it execs */
  prctl(PR_SET_DUMPABLE, 0);
  expect(sync, 'G', msg, sizeof msg);
  /* the host's cgroup fs is reachable until the namespaces are joined; in a new user namespace
     the host's root is nobody: create put the init in its cgroup before 'G' */
  size_t nprocs = 0;
  while (a->procs && a->procs[nprocs])
    nprocs++;
  const struct oci_ns *user = spec_ns(o, CLONE_NEWUSER);
  if (!user) /* in a user namespace, create moved it (join_cgroup) */
    child_join_cgroup(a->procs, nprocs, sync);
  join_namespaces(a);
  if (user) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
      child_fail(sync, "become root in the user namespace", NULL);
    devices_as_binds(p);
  }
  const struct oci_ns *cg = spec_ns(o, CLONE_NEWCGROUP);
  if (cg && !cg->path && unshare(CLONE_NEWCGROUP) < 0)
    child_fail(sync, "unshare cgroup namespace", NULL);
  if (o->has_oom_score_adj) {
    char v[16];
    snprintf(v, sizeof v, "%d", o->oom_score_adj);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, v, strlen(v)) < 0)
      child_fail(sync, "oom_score_adj", v);
    close(fd);
  }
  const struct oci_ns *uts = spec_ns(o, CLONE_NEWUTS);
  if (uts && p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
    child_fail(sync, "sethostname", p->hostname);
  if (uts && o->domainname && setdomainname(o->domainname, strlen(o->domainname)) < 0)
    child_fail(sync, "setdomainname", o->domainname);
  const char *step = "seccomp", *detail = NULL;
  if (prepare_seccomp(p, &step, &detail) < 0) /* compiled while the host's files are reachable */
    child_fail(sync, step, detail);
  root_propagation(o, sync);
  write_sysctls(o, sync); /* before the read-only paths, as tsrun-init (spec_apply.c) */
  setup_rootfs(p, sync);
  mount_propagations(o, sync);
  int fifo = a->fifo; /* O_PATH, opened by create: ROOT/ID is not searchable from a user namespace */
  if (send(sync, "H", 1, MSG_NOSIGNAL) != 1)
    _exit(1);
  expect(sync, 'S', msg, sizeof msg);
  const char *state = strdup(msg + 1);
  if (run_hooks(o, HOOK_CREATE_CONTAINER, state) < 0) {
    errno = 0;
    child_fail(sync, "createContainer hook", oci_err.msg);
  }
  enter_root(a, sync);
  if (o->terminal) {
    if (a->console < 0) {
      errno = EINVAL;
      child_fail(sync, "terminal", "process.terminal needs --console-socket");
    }
    setup_console(o, a->console, sync);
  } else if (a->console >= 0)
    close(a->console);
  umask(o->umask >= 0 ? (mode_t)o->umask : 022);
  apply_rlimits(p, sync);
  /* only 0-2 and the preserved fds reach the process; done before seccomp (close_range may be denied) */
  if (syscall(SYS_close_range, 3 + a->preserve_fds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
    child_fail(sync, "close_range", NULL);
  oci_confine(o, sync);
  if (chdir(p->cwd) < 0)
    child_fail(sync, "chdir", p->cwd);
  char exe[4096];
  if (find_executable(p, exe, sizeof exe) < 0) /* before ready: create reports a missing binary */
    child_fail(sync, "exec", p->argv[0]);
  if (send(sync, "R", 1, MSG_NOSIGNAL) != 1)
    _exit(1);
  close(sync);
  /* the barrier: opening the fifo for writing blocks until start opens it for reading */
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fifo);
  int w = open(path, O_WRONLY | O_CLOEXEC);
  if (w < 0 || write(w, "0", 1) != 1) {
    dprintf(2, "tsrun-runtime: open exec.fifo: %s\n", strerror(errno));
    _exit(1);
  }
  close(w);
  close(fifo);
  if (o->nhooks[HOOK_START_CONTAINER]) {
    /* the state create sent, now running */
    json_object *st = json_tokener_parse(state);
    if (st) {
      json_object_object_add(st, "status", json_object_new_string("running"));
      state = json_object_to_json_string(st);
    }
    if (run_hooks(o, HOOK_START_CONTAINER, state) < 0) {
      dprintf(2, "tsrun-runtime: %s\n", oci_err.msg);
      _exit(1);
    }
  }
  if (p->nnp && oci_load_seccomp(o) < 0) {
    dprintf(2, "tsrun-runtime: seccomp load: %s\n", strerror(errno));
    _exit(1);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  oci_exec(p);
  dprintf(2, "tsrun-runtime: exec %s: %s\n", p->argv[0], strerror(errno));
  _exit(127);
}
