/*
 * create: reads and checks the bundle's config.json, makes ROOT/ID (locked),
 * the cgroup and exec.fifo, forks the init into its new namespaces (init.c),
 * writes its id maps, runs prestart/createRuntime hooks when the init's mounts
 * are in place, waits for "ready", records state.json and the pid file, and
 * exits: the init, blocked on the fifo, is left to the caller's subreaper.
 * Any failure undoes it all (init killed, cgroup and ROOT/ID removed).
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int connect_console(const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof addr.sun_path)
    return fail(ENAMETOOLONG, "console socket %s", path);
  strcpy(addr.sun_path, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
    return fail(errno, "connect console socket %s", path);
  return s;
}

/* The init's error record ("E" step 0x1f errno 0x1f detail) → oci_err. */
static int child_error_msg(const char *msg)
{
  char buf[1300];
  snprintf(buf, sizeof buf, "%s", msg + 1);
  char *f1 = strchr(buf, FIELD_SEP), *f2 = f1 ? strchr(f1 + 1, FIELD_SEP) : NULL;
  if (!f2)
    return fail(0, "container init: %s", buf);
  *f1 = *f2 = '\0';
  int err = atoi(f1 + 1);
  if (*(f2 + 1))
    return fail(err, "container init: %s %s", buf, f2 + 1);
  return fail(err, "container init: %s", buf);
}

/* The next message from the init: its first byte, or -1 (error recorded) */
static int from_init(int sync, char want)
{
  char msg[1300];
  int fd;
  int n = recv_msg(sync, msg, sizeof msg, &fd);
  if (n > 0 && msg[0] == want)
    return 0;
  if (n > 0 && msg[0] == 'E')
    return child_error_msg(msg);
  return fail(0, "container init exited during setup");
}

static int copy_config(const char *bundle, const char *dir)
{
  char src[PATH_MAX + 16], dst[PATH_MAX + 16];
  snprintf(src, sizeof src, "%s/config.json", bundle);
  snprintf(dst, sizeof dst, "%s/config.json", dir);
  FILE *in = fopen(src, "re"), *out = fopen(dst, "we");
  if (!in || !out) {
    if (in)
      fclose(in);
    if (out)
      fclose(out);
    return fail(errno, "copy config.json");
  }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, n, out);
  fclose(in);
  return fclose(out) == 0 ? 0 : fail(errno, "copy config.json");
}

/* The init's move into its cgroup, by create: inside a new user namespace it may not write there itself. */
static int join_cgroup(pid_t pid, const struct container *c)
{
  char num[32];
  snprintf(num, sizeof num, "%d", (int)pid);
  for (size_t i = 0; i < c->ncgroups; i++) {
    char file[PATH_MAX + 32];
    snprintf(file, sizeof file, "%s/cgroup.procs", c->cgroups[i]);
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, num, strlen(num)) < 0) {
      int err = errno;
      if (fd >= 0)
        close(fd);
      return fail(err, "join cgroup %s", c->cgroups[i]);
    }
    close(fd);
  }
  return 0;
}

/*
 * net, ipc and uts namespaces given by path are joined before a user namespace, new or joined
 * (runc's order): the host's root may join those the host's root owns (a network namespace an
 * engine made), root of the user namespace may not. Each joined is marked -1 (the init does not
 * join it again). back: this process's own, to go back to after the clone; NULL (a helper about
 * to exit): a failure is left to the init, which tries again from inside.
 */
static int prejoin(const struct oci *o, int *nsfd, int *back)
{
  for (size_t i = 0; i < o->nns && i < 8; i++) {
    int t = o->ns[i].type;
    if (nsfd[i] < 0 || (t != CLONE_NEWNET && t != CLONE_NEWIPC && t != CLONE_NEWUTS))
      continue;
    if (back) {
      char own[64];
      snprintf(own, sizeof own, "/proc/self/ns/%s", t == CLONE_NEWNET ? "net" : t == CLONE_NEWIPC ? "ipc" : "uts");
      if ((back[i] = open(own, O_RDONLY | O_CLOEXEC)) < 0)
        return fail(errno, "open %s", own);
    }
    if (setns(nsfd[i], t) < 0) {
      if (!back)
        continue;
      return fail(errno, "join namespace %s", o->ns[i].path);
    }
    close(nsfd[i]);
    nsfd[i] = -1;
  }
  return 0;
}

static void unjoin(const struct oci *o, int *back)
{
  for (size_t i = 0; i < o->nns && i < 8; i++)
    if (back[i] >= 0) {
      setns(back[i], o->ns[i].type);
      close(back[i]);
    }
}

/*
 * The init, cloned with the spec's new namespaces. With a user namespace joined by path those must
 * be owned by it (runc's order: setns into the user namespace, then make the rest), so a helper
 * joins it (and a pid namespace given by path, while it still may), clones the init with
 * CLONE_PARENT (it stays create's child) and sends its pid on sync. Returns the pid in the child
 * (0), the init's pid, or -1 (oci_err).
 */
static pid_t clone_init(const struct oci *o, int *nsfd, unsigned long flags, int userfd, int pidnsfd, const int sync[2])
{
  if (userfd < 0) {
    if (pidnsfd >= 0 && setns(pidnsfd, CLONE_NEWPID) < 0) /* applies to the init we fork */
      return fail(errno, "join pid namespace");
    int back[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
    if ((flags & CLONE_NEWUSER) && prejoin(o, nsfd, back) < 0) {
      unjoin(o, back);
      return -1;
    }
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
      return 0;
    int err = errno;
    unjoin(o, back);
    return pid < 0 ? fail(err, "clone the container init") : pid;
  }
  pid_t helper = fork();
  if (helper < 0)
    return fail(errno, "fork");
  if (helper == 0) {
    prejoin(o, nsfd, NULL);
    if ((pidnsfd >= 0 && setns(pidnsfd, CLONE_NEWPID) < 0) || setns(userfd, CLONE_NEWUSER) < 0) {
      child_fail(sync[1], "setns", pidnsfd >= 0 ? "user or pid namespace" : "user namespace");
    }
    pid_t pid = (pid_t)syscall(SYS_clone, flags | CLONE_PARENT, 0, 0, 0, 0);
    if (pid == 0)
      return 0;
    if (pid < 0)
      child_fail(sync[1], "clone the container init", "in the joined user namespace");
    char msg[32];
    int n = snprintf(msg, sizeof msg, "P%d", (int)pid);
    _exit(send(sync[1], msg, (size_t)n, MSG_NOSIGNAL) == n ? 0 : 1);
  }
  /* the helper sends before it exits: a helper that died without a word must not hang create */
  int st, fd, n = 0;
  while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
    ;
  char msg[1300];
  struct pollfd pf = { .fd = sync[0], .events = POLLIN };
  if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN))
    n = recv_msg(sync[0], msg, sizeof msg - 1, &fd);
  if (n > 0 && msg[0] == 'E')
    return child_error_msg(msg);
  if (n <= 1 || msg[0] != 'P')
    return fail(0, "container init: the helper that joins the user namespace exited");
  msg[n] = '\0';
  return (pid_t)atoi(msg + 1);
}

static void created_time(char *out, size_t len)
{
  iso_time(out, len);
}

int cmd_create(struct opts *op)
{
  static struct oci o;
  struct container c;
  char bundle[PATH_MAX];
  if (!realpath(op->bundle ? op->bundle : ".", bundle))
    return fail(errno, "bundle %s", op->bundle ? op->bundle : ".");
  if (spec_load(bundle, &o) < 0)
    return -1;
  spec_allow_default_devices(&o);
  if (o.terminal && !op->console_socket)
    return fail(0, "cannot allocate tty if runc will detach without setting console socket");
  if (!o.terminal && op->console_socket)
    return fail(0, "cannot use console socket if runc will not detach or allocate tty");
  if (container_new(op->args[0], &c) < 0)
    return -1;
  snprintf(c.bundle, sizeof c.bundle, "%s", bundle);
  c.annotations = o.annotations;
  created_time(c.created, sizeof c.created);
  pid_t pid = -1;
  int sync[2] = { -1, -1 }, console = -1, fifofd = -1;
  int nsfd[8];
  for (int i = 0; i < 8; i++)
    nsfd[i] = -1;
  char fifo[PATH_MAX + 16];
  snprintf(fifo, sizeof fifo, "%s/exec.fifo", c.dir);
  if (copy_config(bundle, c.dir) < 0 || cg_create(&o, c.id, &c.cgroups, &c.ncgroups) < 0)
    goto fail;
  if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0) {
    fail(errno, "mkfifo %s", fifo);
    goto fail;
  }
  fifofd = open(fifo, O_PATH | O_CLOEXEC);
  if (fifofd < 0) {
    fail(errno, "open %s", fifo);
    goto fail;
  }
  if (op->console_socket && (console = connect_console(op->console_socket)) < 0)
    goto fail;
  unsigned long flags = 0;
  for (size_t i = 0; i < o.nns; i++) {
    if (!o.ns[i].path) {
      if (o.ns[i].type != CLONE_NEWCGROUP) /* unshared by the init after it joined its cgroup */
        flags |= (unsigned long)o.ns[i].type;
      continue;
    }
    nsfd[i] = open(o.ns[i].path, O_RDONLY | O_CLOEXEC);
    if (nsfd[i] < 0) {
      fail(errno, "namespace %s", o.ns[i].path);
      goto fail;
    }
  }
  const struct oci_ns *user = spec_ns(&o, CLONE_NEWUSER);
  int userfd = -1, pidnsfd = -1;
  for (size_t i = 0; i < o.nns; i++) {
    if (o.ns[i].type == CLONE_NEWUSER && nsfd[i] >= 0) {
      userfd = nsfd[i]; /* joined before the clone: the init needs it no more */
      nsfd[i] = -1;
    }
    if (o.ns[i].type == CLONE_NEWPID && nsfd[i] >= 0)
      pidnsfd = nsfd[i];
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    fail(errno, "socketpair");
    goto fail;
  }
  pid = clone_init(&o, nsfd, flags, userfd, pidnsfd, sync);
  if (userfd >= 0)
    close(userfd);
  if (pid < 0)
    goto fail;
  if (pid == 0) {
    close(sync[0]);
    close(c.lockfd); /* the flock belongs to this create: start must get it while the init waits */
    struct init_args a = { .o = &o, .sync = sync[1], .fifo = fifofd, .console = console, .preserve_fds = op->preserve_fds,
                           .no_pivot = op->no_pivot, .procs = cg_procs_files(c.cgroups, c.ncgroups) };
    memcpy(a.nsfd, nsfd, sizeof nsfd);
    container_init(&a);
  }
  close(sync[1]);
  sync[1] = -1;
  if (console >= 0)
    close(console);
  c.pid = pid;
  c.starttime = proc_starttime(pid);
  /* in a user namespace (new or joined) the init may not write the host's cgroup files itself */
  if (user && ((!user->path && write_idmaps(pid, &o) < 0) || join_cgroup(pid, &c) < 0))
    goto fail;
  if (send(sync[0], "G", 1, MSG_NOSIGNAL) != 1 && from_init(sync[0], 'H') < 0)
    goto fail;
  if (from_init(sync[0], 'H') < 0)
    goto fail;
  char *state = state_json(&c, "creating", false);
  if (run_hooks(&o, HOOK_PRESTART, state) < 0 || run_hooks(&o, HOOK_CREATE_RUNTIME, state) < 0)
    goto fail;
  size_t slen = strlen(state);
  char *smsg = malloc(slen + 2);
  smsg[0] = 'S';
  memcpy(smsg + 1, state, slen + 1);
  if (send(sync[0], smsg, slen + 2, MSG_NOSIGNAL) < 0 && from_init(sync[0], 'R') < 0)
    goto fail;
  if (from_init(sync[0], 'R') < 0)
    goto fail;
  if (container_save(&c) < 0 || (op->pid_file && write_pid_file(op->pid_file, pid) < 0))
    goto fail;
  return 0;
fail:;
  char saved[sizeof oci_err.msg];
  memcpy(saved, oci_err.msg, sizeof saved);
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  if (c.ncgroups)
    rt_cg_remove(c.cgroups, c.ncgroups);
  container_remove_dir(&c);
  memcpy(oci_err.msg, saved, sizeof saved);
  return -1;
}
