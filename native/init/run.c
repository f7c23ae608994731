/*
 * run: a new container. The monitor (run_main) forks the container process
 * (run_child) as early as the plan allows, forwards it the plan, and stays
 * as its parent: it reports the start, copies output, writes exit.json.
 */
#include "spec.h"

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
#include <time.h>
#include <unistd.h>

/* After the early block on the monitor's pipe to the container process: go on (see run_child). */
#define READY 'R'

/* The spec in the early block: its second frame (after the namespaces). */
static const char *early_spec(const struct planbuf *b, size_t *len)
{
  const char *nul = memchr(b->data, '\0', b->early_len);
  const char *spec = nul ? nul + 1 : b->data + b->early_len;
  *len = (size_t)(b->data + b->early_len - spec);
  return spec;
}

/* What the spec's process asks for that confine() does not do: the umask. */
static void process_extras(const struct oci *o)
{
  umask(o->umask >= 0 ? (mode_t)o->umask : 022);
}

/*
 * The container process. The monitor forwards it the early block (the
 * namespaces and the spec) as soon as it has it: with it, it joins its cgroup
 * and sets up its filesystem, up to and including pivot_root (the overlay
 * alone is ~1 ms of overlayfs probing the upper dir), while tsrun still
 * records the start (or sets up the network); then it waits for the go
 * (EOF on fwd), with the seccomp filter the monitor prepared. On a cgroup v1
 * host it is forked before even the spec is in (run_main), so the new
 * namespaces (a network namespace costs 0.7-2 ms) are made while tsrun still
 * creates the container.
 *
 * fwd carries: the early block and its NUL, READY once the monitor has read
 * the spec too and put the device rules on the cgroup, then the filter, then
 * EOF. On a v1 host the block comes as soon as the monitor has it, so that
 * both read the spec at once (two cores).
 */
static _Noreturn void run_child(struct oci *o, int fwd, int sync, int in, int out, int err)
{
  close(STATUS_FD); /* the monitor's; an --init PID 1 (which never execs) must not hold it */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* everything from fwd: this copy of the spec may hold some of the monitor's already */
  memset(o, 0, sizeof *o);
  struct plan *p = &o->p;
  char perr[256];
  struct planbuf b = { 0 };
  size_t len;
  if (planbuf_read_early(fwd, &b, perr, sizeof perr) < 0)
    _exit(125); /* the monitor read the same bytes first and reports why */
  const char *spec = early_spec(&b, &len);
  if (spec_launcher_load(o, spec, len, false) < 0)
    _exit(125); /* the monitor reads the same bytes and reports why */
  /* the root overlay (~1 ms: overlayfs probes its work dir) while the monitor puts the device
     rules on the cgroup: it needs neither the cgroup nor a namespace joined by path, and happens
     in this process's own mount namespace (its few kernel objects are charged to the cgroup the
     launcher started in rather than the container's) */
  bool userns = (p->clone_flags & CLONE_NEWUSER) || p->userns_path;
  if (!userns) /* in a user namespace the monitor makes it (below) */
    mount_root_overlay(p, sync, -1);
  /* the monitor's go-ahead: its own reading of the spec agrees and the cgroup's device rules
     are in place (the monitor reads the spec and sets the cgroup up while this one reads it);
     in a new user namespace it has written the id maps and moved this process into its cgroup */
  if (planbuf_read_to(fwd, &b, b.early_len + 2, perr, sizeof perr) < 0 || b.data[b.early_len + 1] != READY)
    _exit(125); /* the monitor failed a step: it reports it */
  if (!userns)
    child_join_cgroup(p->cgroup_procs, p->ncgroup_procs, sync);
  child_join_namespaces(p, sync);
  if (userns) {
    /* the root overlay the monitor made (make_root_overlay), attached while this process is
       still the host's root by uid: the store's dirs on the way are searchable for it */
    int mfd = -1;
    char buf[8];
    errno = EPIPE;
    if (p->upper && (recv_msg(sync, buf, sizeof buf, &mfd) <= 0 || mfd < 0))
      child_fail(sync, "receive the root overlay", p->rootfs);
    mount_root_overlay(p, sync, mfd);
    /* while still the host's root by uid: a network namespace joined by path is the host root's,
       and only its owner or a holder of CAP_NET_ADMIN there may write its sysctls; the IPC
       namespace's are its root's (below) */
    write_sysctls_of(o, sync, SYSCTL_NET);
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
      child_fail(sync, "become root in the user namespace", NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a change of credentials cleared it */
    devices_as_binds(p);
  }
  /* right after the join (runc's order): the namespace's root is the container's cgroup, and
     each cgroup fs mounted at /sys/fs/cgroup shows that cgroup as its root */
  if ((p->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    child_fail(sync, "unshare cgroup namespace", NULL);
  if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
    child_fail(sync, "sethostname", p->hostname);
  if (o->domainname && setdomainname(o->domainname, strlen(o->domainname)) < 0)
    child_fail(sync, "setdomainname", o->domainname);
  if (p->lo_up)
    set_lo_up(sync);
  /* through the host's /proc, in the container's namespaces, before its read-only paths */
  write_sysctls_of(o, sync, userns ? SYSCTL_NOT_NET : SYSCTL_ALL);
  setup_rootfs(p, sync);
  /* the mounts are in place: the monitor runs prestart/createRuntime hooks, sends the state; then
     createContainer's, here, in the container's namespaces before pivot_root (the spec's points) */
  static char state[262144];
  if (needs_state(o)) {
    int fd;
    if (send(sync, "H", 1, MSG_NOSIGNAL) != 1 || recv_msg(sync, state, sizeof state, &fd) <= 0 || state[0] != 'S')
      _exit(125); /* the monitor reports why */
    if (run_hooks(o, HOOK_CREATE_CONTAINER, state + 1) < 0) {
      errno = oci_err.errnum;
      child_fail(sync, "createContainer hook", oci_err.msg);
    }
  }
  pivot_to_rootfs(p, sync);
  size_t early = b.early_len + 2; /* the block, its NUL, READY */
  if (planbuf_read_rest(fwd, &b, perr, sizeof perr) < 0)
    _exit(125); /* the monitor reports why */
  if (take_prepared_seccomp(b.data + early, b.len - early) < 0)
    child_fail(sync, "seccomp filter from the monitor", NULL);
  if (o->nhooks[HOOK_START_CONTAINER]) {
    /* started: the state the monitor sent, now running; the hooks resolve in the container */
    json_object *st = json_tokener_parse(state + 1);
    if (st)
      json_object_object_add(st, "status", json_object_new_string("running"));
    if (run_hooks(o, HOOK_START_CONTAINER, st ? json_object_to_json_string(st) : state + 1) < 0) {
      errno = oci_err.errnum;
      child_fail(sync, "startContainer hook", oci_err.msg);
    }
  }
  if (p->tty) { /* the monitor made the pipes before it knew */
    close(in);
    close(out);
    close(err);
    in = out = err = -1;
  }
  struct winsize ws = { 0 };
  ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
  stdio_for_child(p, in, out, err, sync);
  /* a session of its own, always: in tsrun's, /dev/tty would be the user's terminal, where
     TIOCSTI pushes keystrokes the user's shell reads after tsrun exits; with -t the new
     session's terminal is the container's own pty */
  if (p->tty)
    setup_child_tty(sync, &ws, true);
  else if (setsid() < 0)
    child_fail(sync, "setsid", NULL);
  process_extras(o);
  apply_rlimits(p, sync);
  confine(p, sync);
  if (p->init)
    become_pid1(p, sync);
  restore_signal_mask();
  exec_process(p, sync);
}

/*
 * The container process: cloned here, or inside the user namespace it joins by path. In a user
 * namespace (new or joined), the namespaces given by path are joined first, by this monitor around the clone
 * (the child inherits them; the monitor goes back to its own).
 */
static pid_t fork_run_child(const struct plan *p, unsigned long flags, const char *userns_path)
{
  if (!p->nprejoins)
    return userns_path ? fork_in_userns(userns_path, flags) : fork_container(p, flags);
  int mine[8], theirs[8], err = 0;
  size_t n = p->nprejoins < 8 ? p->nprejoins : 8, joined = 0;
  for (size_t i = 0; i < n; i++) {
    const char *kind = p->prejoins[i].type == CLONE_NEWNET ? "net" : p->prejoins[i].type == CLONE_NEWIPC ? "ipc" : "uts";
    char own[64];
    snprintf(own, sizeof own, "/proc/self/ns/%s", kind);
    mine[i] = open(own, O_RDONLY | O_CLOEXEC);
    theirs[i] = open(p->prejoins[i].path, O_RDONLY | O_CLOEXEC);
  }
  for (; joined < n && !err; joined++)
    if (mine[joined] < 0 || theirs[joined] < 0 || setns(theirs[joined], p->prejoins[joined].type) < 0)
      err = errno ? errno : EBADF;
  pid_t pid = err ? -1 : userns_path ? fork_in_userns(userns_path, flags) : fork_container(p, flags);
  if (pid == 0)
    return 0;
  if (pid < 0 && !err)
    err = errno;
  for (size_t i = 0; i < n; i++) {
    if (i < joined && mine[i] >= 0)
      setns(mine[i], p->prejoins[i].type);
    if (mine[i] >= 0)
      close(mine[i]);
    if (theirs[i] >= 0)
      close(theirs[i]);
  }
  errno = err;
  return pid;
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
  if (!container_dir_exists(p->autorm_root, p->autorm_id))
    return;
  restore_signal_mask();
  char *args[] = { p->autorm_node, p->autorm_bin, "--root", p->autorm_root, "rm", "-f", p->autorm_id, NULL };
  extern char **environ;
  execve(p->autorm_node, args, environ);
}

/*
 * run: the first frame says which namespaces. On a cgroup v1 host the
 * container process is forked at once, while tsrun still creates the
 * container; on v2 it is forked once the spec is in, straight into its
 * cgroup (clone3 CLONE_INTO_CGROUP needs the cgroup). The monitor forwards
 * the early block, prepares the seccomp filter, waits for the go (EOF on
 * fd 3) and forwards the filter (run_child).
 */
int run_main(struct oci *o, struct planbuf *b, size_t first)
{
  struct plan *p = &o->p;
  char err[256];
  const char *step = "spec", *detail = err;
  unsigned long first_flags = 0;
  char *userns_path = NULL;
  if (spec_clone_flags(b->data, &first_flags, &userns_path) < 0) {
    status_err("spec", EINVAL, oci_err.msg);
    return 125;
  }
  (void)first;
  int sfd = block_signals();
  int sv[2], io[6] = { -1, -1, -1, -1, -1, -1 }, fwd[2] = { -1, -1 };
  if (sfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    status_err("socketpair", errno, NULL);
    return 125;
  }
  /* without a tty the container writes into pipes the monitor reads: it copies them to the
     json-file log and, in the foreground, on to tsrun's stdout/stderr; with -i it reads a
     pipe the monitor fills from tsrun's stdin (made before the plan says whether there is a
     tty; dropped if there is) */
  if (stdio_pipes(io) < 0 || pipe2(fwd, O_CLOEXEC) < 0) {
    status_err("pipe", errno, NULL);
    return 125;
  }
  unsigned long cflags = first_flags & ~(unsigned long)CLONE_NEWCGROUP;
  /* a new user namespace joins the namespaces given by path first: those come with the spec */
  bool fork_first = !cgroup2_host() && !(first_flags & CLONE_NEWUSER) && !userns_path;
  /* before the fork, so the child has it too: read while tsrun still creates the container */
  spec_host_cgroups();
  /* glibc reads /etc/localtime on its first time conversion (even gmtime_r): now, while idle,
     not when the container has exited and tsrun waits for exit.json */
  tzset();
  pid_t pid = fork_first ? fork_run_child(p, cflags, userns_path) : 0;
  if (fork_first && pid == 0)
    goto child;
  int rc = planbuf_read_early(PLAN_FD, b, err, sizeof err);
  /* the child reads the spec while this one does; it acts on it only after READY */
  bool forwarded = rc == 0 && pid > 0;
  if (forwarded)
    write_all(fwd[1], b->data, b->early_len + 1);
  size_t speclen = 0;
  const char *spec = rc == 0 ? early_spec(b, &speclen) : NULL;
  if (rc == 0 && spec_launcher_load(o, spec, speclen, false) < 0) {
    rc = -EINVAL;
    snprintf(err, sizeof err, "%.255s", oci_err.msg);
  }
  if (rc == 0 && (p->clone_flags != first_flags || !p->userns_path != !userns_path ||
                  (userns_path && strcmp(userns_path, p->userns_path)))) {
    rc = -EINVAL;
    snprintf(err, sizeof err, "the spec's namespaces differ from the first frame's");
  }
  /* the cgroup and its limits, from the spec: before the child is born in it (v2) or joins it (v1) */
  if (rc == 0 && (rc = make_cgroup(o, err, sizeof err)) < 0)
    step = "cgroup";
  if (rc == 0 && !fork_first) {
    pid = fork_run_child(p, cflags, userns_path);
    if (pid == 0)
      goto child;
  }
  if (pid < 0) {
    status_err(userns_path ? "join user namespace" : "clone", errno, userns_path ? userns_path : "new namespaces");
    return 125;
  }
  close(sv[1]);
  close(io[0]);
  close(io[3]);
  close(io[5]);
  close(fwd[0]);
  /* a new user namespace: its id maps; in a new or joined one, the move into the cgroup the
     process inside may not make */
  if (rc == 0 && ((p->clone_flags & CLONE_NEWUSER) || p->userns_path)) {
    if ((p->clone_flags & CLONE_NEWUSER) && write_idmaps(pid, o) < 0) {
      rc = -(oci_err.errnum ? oci_err.errnum : EINVAL);
      snprintf(err, sizeof err, "%.255s", oci_err.msg);
      step = "user namespace";
    } else if ((rc = parent_join_cgroup(p, pid, err, sizeof err)) < 0)
      step = "join cgroup";
  }
  /* the device rules go on the cgroup before the child has READY: it joins the cgroup (v1), or
     does anything but read the spec in it (v2), only once it has that */
  if (rc == 0 && (rc = apply_device_rules(p, err, sizeof err)) < 0)
    step = "device cgroup";
  if (rc == 0 && (rc = send_nsjoin_fds(p, sv[0], err, sizeof err)) < 0)
    step = "open namespace";
  if (rc == 0 && ((p->clone_flags & CLONE_NEWUSER) || p->userns_path) && p->upper) {
    char ns[64];
    snprintf(ns, sizeof ns, "/proc/%d/ns/user", (int)pid);
    int userns = open(ns, O_RDONLY | O_CLOEXEC);
    int mfd = -1;
    if (userns < 0)
      step = "open the container's user namespace";
    else if (own_upper_root(p, pid) < 0) {
      step = "chown upper dir to the user namespace's root";
      snprintf(err, sizeof err, "%s", p->upper);
    } else
      mfd = make_root_overlay(p, userns, &step, err, sizeof err);
    if (mfd < 0 || send_fd(sv[0], mfd) < 0)
      rc = -errno;
    if (mfd >= 0)
      close(mfd);
    if (userns >= 0)
      close(userns);
  }
  /* a child that failed already has reported: await_child reads it */
  if (rc == 0 && !forwarded)
    write_all(fwd[1], b->data, b->early_len + 1);
  if (rc == 0)
    write_all(fwd[1], (char[]){ READY }, 1);
  /* the filter is compiled (or read from its cache) here: the child leaves the host's filesystem */
  if (rc == 0 && prepare_seccomp(p, &step, &detail) < 0)
    rc = -errno;
  if (rc == 0 && needs_state(o) && (rc = creation_hooks(o, pid, sv[0], err, sizeof err, &step)) < 0)
    detail = err;
  /* the go: tsrun closes fd 3 once the container may exec; nothing more may come */
  size_t early = b->early_len + 1;
  if (rc == 0 && (rc = planbuf_read_rest(PLAN_FD, b, err, sizeof err)) == 0 && b->len != early) {
    rc = -EINVAL;
    step = "spec";
    snprintf(err, sizeof err, "bytes after the spec");
  }
  if (rc == 0) {
    const void *filter;
    size_t filterlen;
    prepared_seccomp_bytes(&filter, &filterlen);
    write_all(fwd[1], filter, filterlen);
  }
  close(fwd[1]);
  if (rc < 0) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    status_err(step, -rc, detail);
    return 125;
  }
  /* -i keeps the container's stdin pipe open, detached too: attach clients write to it */
  if (p->tty || !p->open_stdin) {
    close(io[1]);
    io[1] = -1;
  }
  if (p->tty) {
    close(io[2]);
    close(io[4]);
    io[2] = io[4] = -1;
  }
  int master = await_child(pid, sv[0]);
  /* before the "ok": `tsrun attach` right after `run -d` finds the socket */
  if (attach_listen(p) < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    status_err("attach socket", err, p->attach_path);
    return 125;
  }
  status_ok(pid);
  release_status(p);
  run_hooks_warn(o, HOOK_POSTSTART, "running", pid);
  watch_started(p);
  int status = monitor_loop(p, pid, sfd, master, io[1], io[2], io[4]);
  attach_stop_listening();
  write_exit_file(p->exit_file, status);
  attach_end(exit_code(status));
  run_hooks_warn(o, HOOK_POSTSTOP, "stopped", 0);
  if (p->autorm_node && p->detach) /* a foreground run's tsrun removes it, unless it was detached */
    auto_remove(p);
  watch_exited(p);
  return exit_code(status);
child:
  close(sv[0]);
  close(sfd);
  close(io[1]);
  close(io[2]);
  close(io[4]);
  close(fwd[1]);
  close(PLAN_FD);
  run_child(o, fwd[0], sv[1], io[0], io[3], io[5]);
}

