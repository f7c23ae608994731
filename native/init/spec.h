/*
 * An OCI runtime-spec (1.x) config.json, read into what the launcher carries
 * out. `struct plan` (init.h) keeps what the launcher already knows how to do
 * (filesystem ops, rlimits, seccomp rules, ids, argv/env/cwd, hostname,
 * no_new_privs); `struct oci` wraps it with what the spec has beyond it.
 * tsrun-init and tsrun-runtime read specs with this same code.
 *
 * spec.c reads the top level and process, spec_linux.c the linux section,
 * spec_mounts.c mounts, spec_seccomp.c linux.seccomp. Every reader is strict:
 * a wrong type or an unknown enum value is a one-line error (error.h).
 */
#ifndef TSRUN_SPEC_H
#define TSRUN_SPEC_H

#include "error.h"
#include "init.h"
#include "jget.h"
#include "../cgroup/resources.h"

#include <json-c/json.h>

#define OCI_VERSION "1.2.0"

enum hook_kind { HOOK_PRESTART, HOOK_CREATE_RUNTIME, HOOK_CREATE_CONTAINER, HOOK_START_CONTAINER, HOOK_POSTSTART, HOOK_POSTSTOP, HOOK_KINDS };
extern const char *const hook_names[HOOK_KINDS];

struct oci_hook {
  char *path;
  char **args, **env; /* NULL-terminated; args may be empty (then argv is path) */
  int timeout;        /* seconds, 0 = none */
};

struct oci_ns {
  int type;   /* CLONE_NEW* */
  char *path; /* join this one (setns) instead of a new one */
};

struct oci_idmap {
  uint32_t container, host, size;
};

struct oci_sysctl {
  char *key, *value;
};

/* a mount's propagation, applied after every mount is in place */
struct oci_prop {
  char *dst;
  unsigned long flags; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) */
};

/* a mounts[] entry as read (what the dump shows); its ops are in o->p.ops */
struct oci_mount {
  char *dst, *src, *type, *data;
  unsigned long flags, prop;
};

struct oci {
  struct plan p;
  json_object *json;     /* the parsed config.json; strings above point into it */
  char *bundle, *root_path;
  struct oci_ns ns[8];
  size_t nns;
  unsigned long rootfs_propagation; /* 0: private (rslave of the host is runc's default) */
  struct oci_prop *props;
  size_t nprops;
  struct oci_idmap *uid_maps, *gid_maps;
  size_t nuid_maps, ngid_maps;
  char *oci_version;
  struct oci_mount *mounts;
  size_t nmounts;
  bool has_oom_score_adj;
  int oom_score_adj;
  int umask; /* -1: not given (0022) */
  char *domainname;
  bool terminal;
  unsigned console_height, console_width;
  char *cgroups_path;
  struct oci_sysctl *sysctl;
  size_t nsysctl;
  struct oci_hook *hooks[HOOK_KINDS];
  size_t nhooks[HOOK_KINDS];
  struct oci_resources res;
  unsigned seccomp_flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
  char **seccomp_arches;
  size_t nseccomp_arches;
  json_object *annotations;
};

/* spec.c: reads BUNDLE/config.json into o (bundle: an absolute path). */
int spec_load(const char *bundle, struct oci *o);
/* a parsed config.json into o (need_root: a container's, else an exec's; see spec.c) */
int spec_read(json_object *cfg, struct oci *o, bool need_root);
json_object *spec_parse_text(const char *text, size_t len);
/* hooks only (the copy of config.json create keeps, for start and delete) */
int spec_load_hooks(const char *file, struct oci *o);
/* linux.resources.devices as devices.c's rules */
void spec_devrules(const struct oci_resources *r, struct devrule **out, size_t *n);
/* process only (exec --process FILE): into o->p's process fields and o->caps */
int spec_read_process(json_object *proc, struct oci *o);
/* names for numbers: "CHOWN" (without CAP_) for 0, "RLIMIT_NOFILE" for RLIMIT_NOFILE; NULL if unknown */
const char *spec_cap_name(int c);
const char *spec_rlimit_name(int resource);
/* spec_mounts.c: the option names of mount flags (the dump) */
void mount_flag_names(unsigned long flags, unsigned long prop, json_object *out);
/* does o have a new (or joined) namespace of this CLONE_NEW* type */
const struct oci_ns *spec_ns(const struct oci *o, int type);


/* spec_mounts.c: mounts[] into o->p.ops (and o->props) in order; a propagation option's MS_* flags or 0 */
unsigned long propagation_flags(const char *opt);
const char *propagation_name(unsigned long flags);
int spec_read_mounts(json_object *mounts, struct oci *o);
/* the host's cgroup layout a `cgroup` mount expands to, read once per process (call it early) */
void spec_host_cgroups(void);
/* spec_linux.c: the linux object; runc's device rules every container gets (tsrun-runtime) */
int spec_read_linux(json_object *linux_, struct oci *o, bool need_root);
void spec_allow_default_devices(struct oci *o);
/* spec_tsrun.c (tsrun-init): the io.tsrun.* annotations and what the launcher derives from the
   spec (clone flags, joined namespaces, device rules); refuses what it does not carry out */
int spec_for_launcher(struct oci *o);
int spec_clone_flags(const char *text, unsigned long *flags, char **userns_path);
int spec_launcher_load(struct oci *o, const char *text, size_t len, bool exec_mode);
/* spec_dump.c: what the reader understood, in the spec's own shape (the round-trip test) */
json_object *spec_dump(const struct oci *o);
/* hooks.c (tsrun-init and tsrun-runtime): runs hooks of a kind in order with the state on stdin;
   -1 and oci_err on the first failure. The state comes from common/oci_state.c's builder. */
int run_hooks(const struct oci *o, enum hook_kind k, const char *state);
/* run_hooks.c (tsrun-init's run): whether a run's creation hooks need the state sent; poststart and
   poststop as warnings; prestart/createRuntime once the container process reports its mounts ('H') */
bool needs_state(const struct oci *o);
void run_hooks_warn(const struct oci *o, enum hook_kind k, const char *status, pid_t pid);
int creation_hooks(const struct oci *o, pid_t pid, int sock, char *err, size_t errlen, const char **step);
/* spec_apply.c: what a spec asks beyond the plan, done the same way by both executables: linux.sysctl
   (written by the container process, in its namespaces, before the read-only paths go on), the
   uid/gid maps of a new user namespace (written by the parent), device nodes as bind mounts in a
   user namespace (mknod is refused there) */
void write_sysctls(const struct oci *o, int sync);
/* in a user namespace net.* of a network namespace joined by path (the host root's) are written
   while the process is still the host's root by uid, the IPC ones once it is the namespace's root */
enum sysctl_part { SYSCTL_ALL, SYSCTL_NET, SYSCTL_NOT_NET };
void write_sysctls_of(const struct oci *o, int sync, enum sysctl_part part);
int write_idmaps(pid_t pid, const struct oci *o);
void devices_as_binds(struct plan *p);
/* spec_seccomp.c: linux.seccomp */
int spec_read_seccomp(json_object *sc, struct oci *o);

#endif
