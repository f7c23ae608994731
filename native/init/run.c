/*
 * run: a new container. The monitor (run_main) forks the container process
 * (run_child) as early as the plan allows, forwards it the plan, and stays
 * as its parent: it reports the start, copies output, writes exit.json.
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
static _Noreturn void run_child(struct plan *p, int fwd, int sync, int in, int out, int err)
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
  child_join_namespaces(p, sync);
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
  apply_rlimits(p, sync);
  confine(p, sync);
  if (p->init)
    become_pid1(p, sync);
  restore_signal_mask();
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
  restore_signal_mask();
  char *args[] = { p->autorm_node, p->autorm_bin, "--root", p->autorm_root, "rm", "-f", p->autorm_id, NULL };
  extern char **environ;
  execve(p->autorm_node, args, environ);
}

/*
 * run: the plan's first record says which namespaces. On a cgroup v1 host the
 * container process is forked at once, while tsrun still creates the
 * container; on v2 it is forked once the early block is in, straight into its
 * cgroup (clone3 CLONE_INTO_CGROUP needs the cgroup). The monitor forwards
 * the early block, then reads the rest of the plan, checks it, prepares the
 * seccomp filter and forwards both (run_child).
 */
int run_main(struct plan *p, struct planbuf *b, size_t first)
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
  close(io[0]);
  close(io[3]);
  close(io[5]);
  close(fwd[0]);
  /* the device rules go on the cgroup before the child has its early block: it joins the cgroup
     (v1), or does anything at all in it (v2), only once it has that */
  if (rc == 0 && (rc = apply_device_rules(p, err, sizeof err)) < 0)
    step = "device cgroup";
  if (rc == 0 && (rc = send_nsjoin_fds(p, sv[0], err, sizeof err)) < 0)
    step = "open namespace";
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
  if (p->tty || !p->open_stdin || p->detach) {
    close(io[1]);
    io[1] = -1;
  }
  if (p->tty) {
    close(io[2]);
    close(io[4]);
    io[2] = io[4] = -1;
  }
  int master = await_child(pid, sv[0]);
  status_ok(pid);
  release_status(p);
  watch_started(p);
  int status = monitor_loop(p, pid, sfd, master, io[1], io[2], io[4]);
  write_exit_file(p->exit_file, status);
  if (p->autorm_node)
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
  run_child(p, fwd[0], sv[1], io[0], io[3], io[5]);
}

