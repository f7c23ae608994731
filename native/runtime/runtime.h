/*
 * tsrun-runtime: an OCI runtime with runc's command line, for engines
 * (conmon/podman, containerd's shim, runtime-tools' validation suite).
 *
 * Lifecycle (runc's): `create` forks the container's init, which sets up
 * namespaces, cgroup, mounts, pivot_root and confinement, reports "ready" and
 * blocks opening ROOT/ID/exec.fifo for writing; `create` records the state
 * and exits, so the init is reparented to the caller's subreaper (no monitor
 * process stays). `start` opens the fifo for reading, which releases the init
 * to exec the user's process. Each verb takes ROOT/ID's flock, refreshes the
 * status from the kernel, checks the verb is allowed in it, acts, saves.
 *
 * Error convention: native/init/error.h (fail() then return -1); main prints
 * the message (and logs it to --log), exit status 1 as runc.
 */
#ifndef TSRUN_RUNTIME_H
#define TSRUN_RUNTIME_H

#include "../init/spec.h"
#include "../cgroup/manager.h"
#include "../common/oci_state.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* global options */
struct globals {
  const char *root;
  const char *log;
  bool log_json;
  bool debug;
};
extern struct globals G;

/* command options (one set for every verb; each verb reads its own) */
struct opts {
  const char *bundle, *pid_file, *console_socket, *process, *cwd, *user, *resources, *format;
  const char **env;
  size_t nenv;
  unsigned preserve_fds;
  bool no_pivot, all, force, detach, tty;
  char **args; /* positional: ID first */
  int nargs;
};

/* state.c: a container's state dir ROOT/ID and its state.json */
struct container {
  char id[256];
  char dir[PATH_MAX];
  int lockfd;
  pid_t pid;
  unsigned long long starttime; /* /proc/PID/stat field 22: tells a reused PID apart */
  char bundle[PATH_MAX];
  char created[64];
  char **cgroups; /* the container's cgroup dirs */
  size_t ncgroups;
  json_object *annotations;
  const char *status; /* creating, created, running, paused, stopped (refresh) */
};

int check_id(const char *id);
/* create: makes ROOT/ID (error if it exists) and locks it */
int container_new(const char *id, struct container *c);
/* any other verb: locks ROOT/ID, reads state.json and refreshes the status */
int container_load(const char *id, struct container *c);
int container_save(struct container *c);
void container_remove_dir(struct container *c);
void container_refresh(struct container *c);
/* the spec's state JSON of c (for `state`, pretty, and hooks): common/oci_state.c's builder */
char *state_json(const struct container *c, const char *status, bool pretty);
unsigned long long proc_starttime(pid_t pid);
/* a pidfd of c's init if it is still the same process, or -1 */
int container_pidfd(const struct container *c);
int signal_number(const char *s);
int write_pid_file(const char *file, pid_t pid);
/* list's walk over ROOT */
int container_ids(char ***ids, size_t *n);

/* cgroups.c: the runtime's use of the cgroup manager (native/cgroup/manager.h) */
/* cg_apply with v2 devices (a BPF program) */
int rt_cg_apply(const struct oci_resources *r, char **dirs, size_t n, bool v2);
int cg_create(const struct oci *o, const char *id, char ***dirs, size_t *n);
/* the procs files the init joins (child_join_cgroup) */
char **cg_procs_files(char **dirs, size_t n);
bool rt_cg_paused(char **dirs, size_t n);
int rt_cg_freeze(char **dirs, size_t n, bool freeze);
int rt_cg_remove(char **dirs, size_t n);


/* init.c: the container init (the forked child of create), never returns */
struct init_args {
  struct oci *o;
  int sync, fifo, console, nsfd[8];
  unsigned preserve_fds;
  bool no_pivot;
  char **procs;
};
_Noreturn void container_init(struct init_args *a);
/* confine_oci.c */
void oci_confine(const struct oci *o, int sync);
/* returns -1 with errno */
int oci_load_seccomp(const struct oci *o);
int find_executable(const struct plan *p, char *out, size_t len);
/* returns only on failure, with errno */
void oci_exec(const struct plan *p);

/* verbs */
int cmd_create(struct opts *op);
int cmd_start(struct opts *op);
int cmd_state(struct opts *op);
int cmd_kill(struct opts *op);
int cmd_delete(struct opts *op);
int cmd_list(struct opts *op);
int cmd_ps(struct opts *op);
int cmd_pause(struct opts *op);
int cmd_resume(struct opts *op);
int cmd_update(struct opts *op);
int cmd_exec(struct opts *op);
int cmd_spec(struct opts *op);
int cmd_features(struct opts *op);

#endif
