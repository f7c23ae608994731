/*
 * An OCI runtime-spec (1.x) config.json, read into what the launcher carries
 * out. `struct plan` (init.h) keeps what the launcher already knows how to do
 * (filesystem ops, rlimits, seccomp rules, ids, argv/env/cwd, hostname,
 * no_new_privs); `struct oci` wraps it with what the spec has beyond it.
 * (A wrapper, not new plan fields: tsrun run's plan protocol is unchanged.)
 *
 * spec.c reads the top level and process, spec_linux.c the linux section,
 * spec_mounts.c mounts, spec_seccomp.c linux.seccomp. Every reader is strict:
 * a wrong type or an unknown enum value is a one-line error (error.h).
 */
#ifndef TSRUN_SPEC_H
#define TSRUN_SPEC_H

#include "error.h"
#include "init.h"

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

struct oci_dev_rule {
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1: any */
  char access[4];
};

/* linux.resources; has_* say which were given */
struct oci_resources {
  bool has_mem_limit, has_mem_reservation, has_mem_swap, has_pids, has_cpu_shares, has_cpu_quota, has_cpu_period, has_swappiness;
  bool disable_oom_killer;
  uint64_t swappiness;
  int64_t mem_limit, mem_reservation, mem_swap, pids_limit, cpu_quota;
  uint64_t cpu_shares, cpu_period;
  char *cpus, *mems;
  struct oci_dev_rule *devices;
  size_t ndevices;
};

struct oci_caps {
  uint64_t bounding, effective, inheritable, permitted, ambient;
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
  struct oci_caps caps;
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
/* hooks only (the copy of config.json create keeps, for start and delete) */
int spec_load_hooks(const char *file, struct oci *o);
/* linux.resources (update --resources reads the same object) */
int spec_read_resources(json_object *res, struct oci_resources *r);
/* process only (exec --process FILE): into o->p's process fields and o->caps */
int spec_read_process(json_object *proc, struct oci *o);
/* does o have a new (or joined) namespace of this CLONE_NEW* type */
const struct oci_ns *spec_ns(const struct oci *o, int type);

/* spec.c's typed getters, shared by its siblings: -1 (and oci_err) on a wrong type; absent is 0 with *out untouched */
int jget_str(json_object *o, const char *key, const char *where, char **out);
int jget_bool(json_object *o, const char *key, const char *where, bool *out);
int jget_i64(json_object *o, const char *key, const char *where, bool *has, int64_t *out);
int jget_u64(json_object *o, const char *key, const char *where, bool *has, uint64_t *out);
int jget_obj(json_object *o, const char *key, const char *where, json_object **out);
int jget_arr(json_object *o, const char *key, const char *where, json_object **out);
int jget_strv(json_object *o, const char *key, const char *where, char ***out, size_t *n);
void *grow(void *arr, size_t *n, size_t size);

/* spec_mounts.c: mounts[] into o->p.ops (and o->props) in order; a propagation option's MS_* flags or 0 */
unsigned long propagation_flags(const char *opt);
int spec_read_mounts(json_object *mounts, struct oci *o);
/* spec_linux.c: the linux object */
int spec_read_linux(json_object *linux_, struct oci *o);
/* spec_seccomp.c: linux.seccomp */
int spec_read_seccomp(json_object *sc, struct oci *o);

#endif
