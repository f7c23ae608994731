/*
 * exec: a process in a running container, as runc's. The process is
 * --process FILE (a spec "process" object) or the container's own process
 * with the command line's args, --cwd, --env, --user, -t. It joins the init's
 * namespaces (those that differ from ours; the user namespace first) and
 * cgroup, and takes the container's seccomp profile and the process's
 * confinement. Errors before its execve come back over the sync socket.
 * With --detach, exec returns once it exec'd (pid file written); without,
 * it waits and exits with the process's status.
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct {
  const char *name;
  int type;
} NS[] = { { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
           { "cgroup", CLONE_NEWCGROUP }, { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS } };
#define NNS (sizeof NS / sizeof *NS)

/* The container's config.json copy: its process (the base of the exec'd one) and seccomp profile. */
static int load_process(const struct container *c, struct opts *op, struct oci *o)
{
  char file[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/config.json", c->dir);
  json_object *cfg = json_object_from_file(file), *proc = NULL, *linux_ = NULL, *sc = NULL;
  if (!cfg)
    return fail(0, "read %s: %s", file, json_util_get_last_err());
  if (op->process) {
    proc = json_object_from_file(op->process);
    if (!proc || !json_object_is_type(proc, json_type_object))
      return fail(0, "process %s: not a JSON object", op->process);
  } else {
    if (jget_obj(cfg, "process", "", &proc) < 0 || !proc)
      return fail(0, "config.json: process is missing");
    if (op->nargs < 2)
      return fail(0, "exec needs a command (or --process FILE)");
    json_object *args = json_object_new_array();
    for (int i = 1; i < op->nargs; i++)
      json_object_array_add(args, json_object_new_string(op->args[i]));
    json_object_object_add(proc, "args", args);
    json_object_object_add(proc, "terminal", json_object_new_boolean(op->tty));
    if (op->cwd)
      json_object_object_add(proc, "cwd", json_object_new_string(op->cwd));
    json_object *env = NULL;
    if (op->nenv && (!json_object_object_get_ex(proc, "env", &env) || !json_object_is_type(env, json_type_array))) {
      env = json_object_new_array();
      json_object_object_add(proc, "env", env);
    }
    for (size_t i = 0; i < op->nenv; i++)
      json_object_array_add(env, json_object_new_string(op->env[i]));
    if (op->user) {
      unsigned uid, gid = 0;
      int n = sscanf(op->user, "%u:%u", &uid, &gid);
      if (n < 1)
        return fail(0, "--user %s: uid[:gid] numbers only", op->user);
      json_object *user = json_object_new_object();
      json_object_object_add(user, "uid", json_object_new_int64(uid));
      json_object_object_add(user, "gid", json_object_new_int64(gid));
      json_object_object_add(proc, "user", user);
    }
  }
  o->umask = -1;
  if (spec_read_process(proc, o) < 0)
    return -1;
  if (jget_obj(cfg, "linux", "", &linux_) < 0 || (linux_ && jget_obj(linux_, "seccomp", "linux.", &sc) < 0) ||
      (sc && spec_read_seccomp(sc, o) < 0))
    return -1;
  return 0;
}

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

static void exec_console(int console, int sync)
{
  if (setsid() < 0)
    child_fail(sync, "setsid", NULL);
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
    child_fail(sync, "open /dev/ptmx", NULL);
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
    child_fail(sync, "open pty slave", name);
  if (send_fd(console, master) < 0)
    child_fail(sync, "send pty master to the console socket", NULL);
  close(master);
  close(console);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0)
      child_fail(sync, "dup pty slave", NULL);
  close(slave);
}

static _Noreturn void exec_child(struct oci *o, int sync, int *nsfd, char **procs, size_t nprocs, int console)
{
  struct plan *p = &o->p;
  prctl(PR_SET_DUMPABLE, 0);
  child_join_cgroup(procs, nprocs, sync); /* while the host's cgroup fs is reachable */
  for (size_t i = 0; i < NNS; i++)
    if (nsfd[i] >= 0 && NS[i].type != CLONE_NEWPID && setns(nsfd[i], NS[i].type) < 0)
      child_fail(sync, "setns", NS[i].name);
  if (o->terminal) {
    if (console < 0) {
      errno = EINVAL;
      child_fail(sync, "terminal", "process.terminal needs --console-socket");
    }
    exec_console(console, sync);
  }
  umask(o->umask >= 0 ? (mode_t)o->umask : 022);
  apply_rlimits(p, sync);
  if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
    child_fail(sync, "close_range", NULL);
  oci_confine(o, sync);
  if (p->nnp && oci_load_seccomp(o) < 0)
    child_fail(sync, "seccomp load", NULL);
  oci_exec(p);
  child_fail(sync, "exec", p->argv[0]);
}

int cmd_exec(struct opts *op)
{
  struct container c;
  static struct oci o;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  if (strcmp(c.status, "running") != 0)
    return fail(0, "cannot exec in a container that is %s", c.status);
  if (load_process(&c, op, &o) < 0)
    return -1;
  if (o.terminal != (op->console_socket != NULL))
    return fail(0, o.terminal ? "cannot allocate tty without --console-socket" : "cannot use console socket without a tty");
  /* the init's namespaces that are not ours, opened while the pid is checked to be the init's */
  int pfd = container_pidfd(&c);
  if (pfd < 0)
    return fail(0, "container not running");
  int nsfd[NNS];
  for (size_t i = 0; i < NNS; i++) {
    char theirs[64], mine[64];
    struct stat a, b;
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)c.pid, NS[i].name);
    snprintf(mine, sizeof mine, "/proc/self/ns/%s", NS[i].name);
    nsfd[i] = -1;
    if (stat(theirs, &a) < 0 || (stat(mine, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev))
      continue;
    nsfd[i] = open(theirs, O_RDONLY | O_CLOEXEC);
    if (nsfd[i] < 0)
      return fail(errno, "open %s", theirs);
  }
  if (proc_starttime(c.pid) != c.starttime)
    return fail(0, "container not running");
  close(pfd);
  for (size_t i = 0; i < NNS; i++) /* the pid namespace applies to the child forked next */
    if (NS[i].type == CLONE_NEWPID && nsfd[i] >= 0 && setns(nsfd[i], CLONE_NEWPID) < 0)
      return fail(errno, "join the container's pid namespace");
  int console = -1;
  if (op->console_socket && (console = connect_console(op->console_socket)) < 0)
    return -1;
  const char *step = "seccomp", *detail = NULL;
  if (prepare_seccomp(&o.p, &step, &detail) < 0)
    return fail(errno, "%s %s", step, detail ? detail : "");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return fail(errno, "socketpair");
  char **procs = cg_procs_files(c.cgroups, c.ncgroups);
  pid_t pid = fork();
  if (pid < 0)
    return fail(errno, "fork");
  if (pid == 0) {
    close(sv[0]);
    close(c.lockfd);
    exec_child(&o, sv[1], nsfd, procs, c.ncgroups, console);
  }
  close(sv[1]);
  if (console >= 0)
    close(console);
  /* the lock is not held while the process runs: other verbs (kill, delete) must get in */
  close(c.lockfd);
  char msg[1300];
  int fd;
  int n = recv_msg(sv[0], msg, sizeof msg, &fd);
  if (n > 0 && msg[0] == 'E') {
    waitpid(pid, NULL, 0);
    char *f1 = strchr(msg, FIELD_SEP), *f2 = f1 ? strchr(f1 + 1, FIELD_SEP) : NULL;
    if (!f2)
      return fail(0, "exec: %s", msg + 1);
    *f1 = *f2 = '\0';
    return fail(atoi(f1 + 1), "exec failed: %s %s", msg + 1, f2 + 1);
  }
  if (op->pid_file && write_pid_file(op->pid_file, pid) < 0)
    return -1;
  if (op->detach)
    return 0;
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}
