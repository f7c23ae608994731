/*
 * tsrun-init: the launcher. TypeScript builds an OCI runtime spec (src/runtime/spec/);
 * this program carries it out in kernel order and stays as the container's parent.
 *
 * Protocol with tsrun (the only one; src/runtime/launch.ts is the other side):
 *   fd 3  input, NUL-terminated frames (frames.c):
 *         run:  the spec's linux.namespaces (JSON array; written as tsrun spawns the
 *               launcher, so the namespaces are made while tsrun creates the container),
 *               then the spec (config.json's JSON, with the io.tsrun.* annotations of
 *               spec_tsrun.c), then EOF: the container may exec (tsrun closes fd 3 once
 *               it has recorded the start, or its network is set up)
 *         exec: an empty frame, then a spec (process, linux.namespaces joined by path,
 *               linux.seccomp, annotations) to EOF
 *         or the one frame "netns=PATH" (make_netns; not a container)
 *   fd 4  status: one line, "ok\tPID\n" once the container process has exec'd,
 *         or "err\tSTEP\tERRNO\tDETAIL\n" when a step failed (nothing ran)
 * Exit status: the container's (status, or 128+signal); 125 on launcher failure.
 * `tsrun-init --dump-spec < SPEC` prints what the reader understood (spec_dump.c).
 */
#ifndef TSRUN_INIT_H
#define TSRUN_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PLAN_FD 3
#define STATUS_FD 4
#define FIELD_SEP '\x1f'
#define DETACH_KEYS_MAX 32

enum op_kind {
  OP_MOUNT,   /* mount fs or bind: src dst fstype flags data */
  OP_MKNOD,   /* dst mode major minor */
  OP_SYMLINK, /* src (link target) dst (link path) */
  OP_MASK,    /* dst: /dev/null over a file, ro tmpfs over a dir */
  OP_ROPATH,  /* dst: bind onto itself read-only */
  OP_MKDIR,   /* dst: ensure a directory exists (working dir) */
};

struct op {
  enum op_kind kind;
  char *src, *dst, *fstype, *data;
  unsigned long flags;
  unsigned mode, major, minor; /* mode may carry S_IFBLK/S_IFCHR; none means a char device */
  bool chown;                   /* mknod: give the node uid/gid (host devices of --privileged) */
  unsigned uid, gid;
  unsigned long prop; /* a bind's propagation (MS_SHARED/MS_SLAVE/MS_PRIVATE | MS_REC), set once attached */
};

struct rlim {
  int resource;
  uint64_t soft, hard;
};

struct sc_arg {
  unsigned idx;
  int op; /* enum scmp_compare */
  uint64_t v1, v2;
};

struct sc_rule {
  uint32_t action;
  const char *name;
  unsigned nargs;
  struct sc_arg args[6];
};

/* One device rule (devices.c), allowing or denying: type 'a' (any device), 'b' or 'c'; major and
   minor -1 for any; access a set of BPF_DEVCG_ACC_* bits (mknod 1, read 2, write 4). */
struct devrule {
  char type;
  int major, minor;
  unsigned access;
  bool allow;
};

/* The five capability sets of the process (bit c: capability number c). */
struct capsets {
  uint64_t bounding, effective, inheritable, permitted, ambient;
};

/*
 * What the launcher carries out, as the spec reader (spec*.c) fills it from
 * an OCI runtime spec: tsrun run's and exec's (spec_tsrun.c adds the io.tsrun.*
 * annotations) and tsrun-runtime's config.json alike.
 */
struct plan {
  bool exec_mode;
  /* run mode */
  unsigned long clone_flags;
  char *rootfs, *upper, *work;
  char **lowers;
  size_t nlowers;
  char **overlay_opts; /* "key=value" */
  size_t noverlay_opts;
  struct op *ops;
  size_t nops;
  bool readonly_rootfs;
  /* linux.rootfsPropagation: 0 or private keeps tsrun's rprivate namespace; shared or slave keeps
     the links to the host that binds with such a propagation need (rootfs.c, runc's order) */
  unsigned long root_propagation;
  /* the device policy: every device (devices_all, --privileged), or only devrules on the cgroup
     dir devices_dir (a v1 devices hierarchy's or the v2 one) */
  bool devices_all;
  char *devices_dir;
  struct devrule *devrules;
  size_t ndevrules;
  char *hostname;
  bool lo_up;
  /* namespaces to join by path ("nsjoin=TYPE\x1fPATH": a network namespace tsrun made and set up
     beforehand, as podman's): the monitor opens each path, in the host's mount namespace, and
     passes the fd to the container process over the sync socket; that one setns()es right after
     it joined its cgroup, before anything else happens in the namespace */
  struct nsjoin {
    int type; /* CLONE_NEW* */
    char *path;
  } *nsjoins;
  size_t nnsjoins;
  /* with a new user namespace: the nsjoins, joined by the monitor around the clone instead */
  struct nsjoin *prejoins;
  size_t nprejoins;
  /* a user namespace joined by path (run and exec): the run's new namespaces are made inside it
     (fork_in_userns), an exec's child joins it first; the process becomes root in it */
  char *userns_path;
  char *exit_file;
  bool init; /* a minimal PID 1 (--init) */
  /* --rm of a detached container: the monitor execs NODE BIN --root ROOT rm -f ID after exit.json */
  char *autorm_node, *autorm_bin, *autorm_root, *autorm_id;
  /* restart policy and healthcheck (watch.c): from the io.tsrun.watch annotation (its fields kept
     for the dump), NULL without either */
  struct watch *watch;
  char **watch_fields;
  size_t nwatch_fields;
  /* exec mode */
  pid_t target_pid;
  char **ns; /* names under /proc/PID/ns to join, pid last handled specially */
  size_t nns;
  /* the container's cgroup (linux.cgroupsPath as resolved: io.tsrun.cgroup.dirs, one dir per v1
     hierarchy or the v2 one), made by the monitor with linux.resources' limits (make_cgroup) */
  char **cgroup_dirs;
  size_t ncgroup_dirs;
  /* both: the cgroup.procs files the container process (or exec) joins */
  char **cgroup_procs;
  size_t ncgroup_procs;
  struct rlim *rlimits;
  size_t nrlimits;
  bool has_oom_score_adj; /* process.oomScoreAdj: written to /proc/self/oom_score_adj with the rlimits */
  int oom_score_adj;
  struct capsets caps;
  bool nnp;
  bool seccomp;
  uint32_t seccomp_default;
  char *seccomp_cache; /* dir of compiled filters (ROOT/cache), optional */
  struct sc_rule *rules;
  size_t nrules;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  char *cwd;
  char **env;
  size_t nenv;
  char **argv;
  size_t nargv;
  bool tty, open_stdin, detach;
  /* io.tsrun.stdin.attach (a foreground start of an -i container, as docker's `start`): "none"
     (`start -a` without -i: tsrun's stdin is not the container's, whose pipe stays open for
     attach clients), "keep" (`start -ai` of a container without StdinOnce: the end of tsrun's
     stdin leaves the pipe open). Absent: tsrun's stdin, whose end closes the pipe (`run -i`). */
  bool stdin_unattached, stdin_keep;
  char *log_file;
  /* the attach socket (attach.c; NULL: none) and, for a foreground run with a terminal, the
     detach keys that turn it into a detached one (monitor.c; none: it cannot detach) */
  char *attach_path;
  unsigned char detach_keys[DETACH_KEYS_MAX];
  size_t ndetach_keys;
};

/* frames.c: the input as read from fd 3: the first frame is data[0, first), the first two
   (the early block: namespaces and spec) data[0, early_len), the rest (to EOF) after it */
struct planbuf {
  char *data;
  size_t len, cap, early_len;
};
int planbuf_read_first(int fd, struct planbuf *b, size_t *first_len, char *err, size_t errlen);
int planbuf_read_early(int fd, struct planbuf *b, char *err, size_t errlen);
int planbuf_read_rest(int fd, struct planbuf *b, char *err, size_t errlen);
/* Reads until b holds at least n bytes; EOF before that is an error. */
int planbuf_read_to(int fd, struct planbuf *b, size_t n, char *err, size_t errlen);

/* util.c */
void status_ok(pid_t pid);
void status_err(const char *step, int err, const char *detail);
/* Child side: report "step errno detail" over the sync socket and _exit(1). */
_Noreturn void child_fail(int sync, const char *step, const char *detail);
int send_fd(int sock, int fd);
int recv_msg(int sock, char *buf, size_t len, int *fd);
int write_all(int fd, const void *buf, size_t len);
int write_file(const char *path, const char *data);
void iso_time(char *out, size_t len);
int seal_self(int argc, char **argv);
/* What /proc/PID/cmdline and comm show (the launch arguments carry host paths). */
void remember_args(int argc, char **argv);
void set_process_title(const char *title);
/* Whether ROOT/containers/ID still exists: the monitor runs `tsrun --root ROOT … ID` (--rm's removal, a
   scheduled healthcheck, the exit handler) only then, since tsrun would make an empty store at a
   removed root (a test's temp dir, an rm -rf of --root) and find nothing to act on. */
bool container_dir_exists(const char *root, const char *id);


/* main.c: what run.c and exec.c share. The monitor's signals (a signalfd of them); the mask
   tsrun-init started with, for the child to restore before exec; the sync socket ('G' starts
   the child; await_child returns its pty master or -1 once it exec'd, and exits on its error);
   the child's stdin/out/err (pipes the monitor copies, never the caller's own fds, or the
   container's /dev/null); the status pipe after the "ok" line. */
int block_signals(void);
void restore_signal_mask(void);
void tell_child(pid_t pid, int sock, const char *msg);
int await_child(pid_t pid, int sock);
_Noreturn void child_error_exit(pid_t pid, char *msg);
int stdio_pipes(int fds[6]);
void stdio_for_child(const struct plan *p, int in, int out, int err, int sync);
void release_status(const struct plan *p);

/* watch.c: the monitor's restart-policy hand-over and healthcheck schedule (see there). */
int watch_parse(struct plan *p, char *v);
void watch_started(const struct plan *p);
int watch_timeout(const struct plan *p);
void watch_tick(const struct plan *p);
bool watch_reaped(const struct plan *p, pid_t pid, int status);
void watch_signalled(const struct plan *p, int signo);
void watch_exited(const struct plan *p);
void watch_detached(const struct plan *p);

/* run.c, exec.c: the two ways a launch goes (main picks by the first frame: namespaces, or empty). */
struct oci; /* spec.h: the spec as read, around a struct plan */
int run_main(struct oci *o, struct planbuf *b, size_t first);
int exec_main(struct oci *o);

/* cgroup.c: fork the container process (into its cgroup where the kernel can); the child's
   move into its cgroup (a no-op when it was born there); whether the host is v2-only. */
pid_t fork_container(const struct plan *p, unsigned long flags);
void child_join_cgroup(char **procs, size_t n, int sync);
/* a process in a new user namespace may not write the host's cgroup files: its parent moves it
   (unless it was born in its cgroup); 0 or -errno, err set */
int parent_join_cgroup(const struct plan *p, pid_t pid, char *err, size_t errlen);
/* exec: the monitor opens the files (host paths), the child writes to them (from inside) */
int open_cgroup_files(char **procs, size_t n, int *fds, size_t max, size_t *nfds);
void join_cgroup_files(int *fds, size_t n, char **procs, int sync);
bool cgroup2_host(void);
/* run: the monitor makes the container's cgroup and writes the spec's limits (native/cgroup/'s
   manager and mapping, as tsrun-runtime); the device rules go on after (apply_device_rules).
   0, or -errno with err set and nothing left behind. */
struct oci;
int make_cgroup(struct oci *o, char *err, size_t errlen);

/* devices.c: the spec's device rules on the container's cgroup (v1 files or a v2 BPF program),
   applied by the monitor before the container process can open anything; 0 or -errno, err set. */
int apply_device_rules(const struct plan *p, char *err, size_t errlen);
/* the same for any rule list on a cgroup dir (tsrun-runtime's cgroups.c too) */
int devices_apply(const struct devrule *rules, size_t n, const char *dir, char *err, size_t errlen);

/* nsjoin.c: the monitor sends one fd per nsjoin record over the sync socket (0 or -errno, err
   set); the container process receives and joins them in the same order (child_fail on error). */
int send_nsjoin_fds(const struct plan *p, int sock, char *err, size_t errlen);
/* The one frame "netns=PATH": a new network namespace bind-mounted on PATH (an existing
   file) to outlive this process, for tsrun to set up and a container to join. Reports on fd 4. */
int make_netns(const char *path);
/* a run's container process, cloned with flags from inside the user namespace at path (nsjoin.c) */
pid_t fork_in_userns(const char *path, unsigned long flags);
void child_join_namespaces(const struct plan *p, int sync);

/* rootfs.c: the container's root overlay, the rest of its filesystem view (all
   from the plan's early block), then pivot_root into it. */
/* mfd: the overlay the monitor made (a container in a user namespace), or -1: made here */
void mount_root_overlay(const struct plan *p, int sync, int mfd);
/* overlay.c: the root overlay as a detached mount (its fd; -1, errno, step and detail on failure);
   userns >= 0: its layers idmapped with that user namespace (a container in one) */
int make_root_overlay(const struct plan *p, int userns, const char **step, char *detail, size_t len);
/* upper/ (the container's /) owned by the host ids of root in pid's user namespace; -1 with errno */
int own_upper_root(const struct plan *p, pid_t pid);
void setup_rootfs(const struct plan *p, int sync);
void pivot_to_rootfs(const struct plan *p, int sync);
void set_lo_up(int sync);

/* seccomp.c: compile the filter (or read it from the cache) while host paths are
   reachable; returns -1 with errno, *step and *detail set. load_prepared_seccomp loads it. */
int prepare_seccomp(const struct plan *p, const char **step, const char **detail);
void load_prepared_seccomp(int sync);
/* run: the monitor prepares the filter and hands its bytes to the container process, which has
   left the host's filesystem by then (pivot_root before the plan arrives) */
void prepared_seccomp_bytes(const void **buf, size_t *len);
int take_prepared_seccomp(const char *buf, size_t len);

/* confine.c: rlimits, capabilities, no_new_privs, seccomp, ids. */
void apply_rlimits(const struct plan *p, int sync);
void confine(const struct plan *p, int sync);
int last_cap(void);
_Noreturn void exec_process(const struct plan *p, int sync);

/* tty.c: the container side of a pty (child) and the user's terminal (monitor). */
struct winsize;
void setup_child_tty(int sync, const struct winsize *ws, bool console);
void term_raw(int fd);
void term_restore(void);

/* monitor.c: the parent's loop: signals, stdio copy or json-file log; returns the wait status.
   A foreground run with detach keys may become a detached one in it (p->detach turns true). */
#define FORWARDED_SIGNALS SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH
int monitor_loop(struct plan *p, pid_t child, int sfd, int master, int in_fd, int out_fd, int err_fd);
int exit_code(int status);
void write_exit_file(const char *path, int status);
/* Input from an attach client for the container's stdin: false while the last is not taken yet. */
bool monitor_input(const char *data, size_t len);
size_t monitor_input_room(void);
void monitor_input_close(void);
/* An exec with detach keys: the host's /dev/null kept for the detach, before it joins the mount ns. */
void monitor_open_null(void);
#define ATTACH_MSG_MAX 65536 /* data bytes in one attach message */

/* keys.c: docker's detach-key matcher (moby/term's escape proxy), one per input source. */
struct keys {
  unsigned char seq[DETACH_KEYS_MAX];
  size_t n, pos;
};
void keys_init(struct keys *k, const unsigned char *seq, size_t n);
/* Copies data to out (room for len + DETACH_KEYS_MAX) without the keys it swallows; returns the
   bytes to pass on, *hit set once the whole sequence came (what followed it is dropped). */
size_t keys_filter(struct keys *k, const char *data, size_t len, char *out, bool *hit);

/* attach.c: the monitor's attach socket, as conmon's: clients (`tsrun attach`) get the
   container's output from then on and may send its stdin, resizes and signals. The monitor's
   poll loop asks which fds to watch and hands back what happened. */
struct pollfd;
struct attach_target {
  pid_t child;
  int master; /* the pty master, or -1 */
  bool tty, input; /* a terminal (detach keys apply); the container has a stdin to feed */
};
int attach_listen(const struct plan *p);
int attach_pollfds(struct pollfd *pf, int max, bool take_input);
void attach_events(const struct pollfd *pf, int n, const struct attach_target *t);
void attach_output(char stream, const char *data, size_t len);
bool attach_backlogged(void);
void attach_stop_listening(void);
void attach_end(int code);
/* attach_client.c: `tsrun attach`'s side (the first frame "attach=FLAGS\x1fKEYS\x1fPATH"). */
int attach_client_main(char *frame);

/* init1.c: --init; forks, the parent stays as PID 1 reaping (re-executed as
   `tsrun-init --pid1 CHILD`, which main hands to pid1_main); returns in the child. */
#define PID1_ARG "--pid1"
void become_pid1(const struct plan *p, int sync);
int pid1_main(int argc, char **argv);

#endif
