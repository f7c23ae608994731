/*
 * What the spec reader understood, written back in the spec's own shape
 * (`tsrun-init --dump-spec`): built from the parsed structs, never copied from
 * the input, so a field the reader drops is missing here. The round-trip test
 * (test/integration/spec-roundtrip.test.ts) compares it, field by field, with
 * the spec TypeScript built.
 */
#include "spec.h"

#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define STR(s) json_object_new_string(s)
#define ADD(o, k, v) json_object_object_add(o, k, v)

static json_object *strv(char **v, size_t n)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < n; i++)
    json_object_array_add(a, STR(v[i]));
  return a;
}

static json_object *capset(uint64_t set)
{
  json_object *a = json_object_new_array();
  for (int c = 0; c < 64; c++)
    if ((set & (1ULL << c)) && spec_cap_name(c)) {
      char name[64];
      snprintf(name, sizeof name, "CAP_%s", spec_cap_name(c));
      json_object_array_add(a, STR(name));
    }
  return a;
}

static json_object *process(const struct oci *o)
{
  const struct plan *p = &o->p;
  json_object *proc = json_object_new_object(), *user = json_object_new_object(), *caps = json_object_new_object();
  ADD(proc, "terminal", json_object_new_boolean(o->terminal));
  ADD(user, "uid", json_object_new_int64(p->uid));
  ADD(user, "gid", json_object_new_int64(p->gid));
  if (o->umask >= 0)
    ADD(user, "umask", json_object_new_int(o->umask));
  if (p->ngroups) {
    json_object *g = json_object_new_array();
    for (size_t i = 0; i < p->ngroups; i++)
      json_object_array_add(g, json_object_new_int64(p->groups[i]));
    ADD(user, "additionalGids", g);
  }
  ADD(proc, "user", user);
  ADD(proc, "args", strv(p->argv, p->nargv));
  ADD(proc, "env", strv(p->env, p->nenv));
  ADD(proc, "cwd", STR(p->cwd));
  ADD(caps, "bounding", capset(p->caps.bounding));
  ADD(caps, "effective", capset(p->caps.effective));
  ADD(caps, "inheritable", capset(p->caps.inheritable));
  ADD(caps, "permitted", capset(p->caps.permitted));
  ADD(caps, "ambient", capset(p->caps.ambient));
  ADD(proc, "capabilities", caps);
  if (p->nrlimits) {
    json_object *rl = json_object_new_array();
    for (size_t i = 0; i < p->nrlimits; i++) {
      json_object *r = json_object_new_object();
      ADD(r, "type", STR(spec_rlimit_name(p->rlimits[i].resource)));
      ADD(r, "hard", json_object_new_uint64(p->rlimits[i].hard));
      ADD(r, "soft", json_object_new_uint64(p->rlimits[i].soft));
      json_object_array_add(rl, r);
    }
    ADD(proc, "rlimits", rl);
  }
  ADD(proc, "noNewPrivileges", json_object_new_boolean(p->nnp));
  if (o->has_oom_score_adj)
    ADD(proc, "oomScoreAdj", json_object_new_int(o->oom_score_adj));
  return proc;
}

static json_object *mounts(const struct oci *o)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < o->nmounts; i++) {
    const struct oci_mount *m = &o->mounts[i];
    json_object *e = json_object_new_object(), *opts = json_object_new_array();
    ADD(e, "destination", STR(m->dst));
    if (m->type)
      ADD(e, "type", STR(m->type));
    if (m->src)
      ADD(e, "source", STR(m->src));
    mount_flag_names(m->flags, m->prop, opts);
    if (m->data) {
      char *d = strdup(m->data), *save = NULL;
      for (char *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_object_array_add(opts, STR(t));
      free(d);
    }
    ADD(e, "options", opts);
    json_object_array_add(a, e);
  }
  return a;
}

static const char *ns_name(int type)
{
  switch (type) {
  case CLONE_NEWPID: return "pid";
  case CLONE_NEWNET: return "network";
  case CLONE_NEWNS: return "mount";
  case CLONE_NEWIPC: return "ipc";
  case CLONE_NEWUTS: return "uts";
  case CLONE_NEWUSER: return "user";
  case CLONE_NEWCGROUP: return "cgroup";
  }
  return "?";
}

static json_object *seccomp(const struct oci *o)
{
  const struct plan *p = &o->p;
  json_object *sc = json_object_new_object(), *rules = json_object_new_array();
  uint32_t d = p->seccomp_default;
  struct { uint32_t base; const char *name; bool ret; } A[] = {
    { SCMP_ACT_ALLOW, "SCMP_ACT_ALLOW", false }, { SCMP_ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD", false },
    { SCMP_ACT_KILL_PROCESS, "SCMP_ACT_KILL_PROCESS", false }, { SCMP_ACT_TRAP, "SCMP_ACT_TRAP", false },
    { SCMP_ACT_LOG, "SCMP_ACT_LOG", false }, { SCMP_ACT_ERRNO(0), "SCMP_ACT_ERRNO", true }, { SCMP_ACT_TRACE(0), "SCMP_ACT_TRACE", true },
  };
#define ACTION(obj, key, retkey, v)                                                                                     \
  for (size_t k = 0; k < sizeof A / sizeof *A; k++)                                                                       \
    if (A[k].ret ? ((v) & 0xffff0000u) == A[k].base : (v) == A[k].base) {                                                \
      ADD(obj, key, STR(A[k].name));                                                                                      \
      if (A[k].ret)                                                                                                       \
        ADD(obj, retkey, json_object_new_int((int)((v) & 0xffff)));                                                       \
      break;                                                                                                              \
    }
  ACTION(sc, "defaultAction", "defaultErrnoRet", d);
  if (o->nseccomp_arches)
    ADD(sc, "architectures", strv(o->seccomp_arches, o->nseccomp_arches));
  static const char *OPS[] = { "", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };
  for (size_t i = 0; i < p->nrules; i++) {
    const struct sc_rule *r = &p->rules[i];
    json_object *e = json_object_new_object(), *names = json_object_new_array();
    json_object_array_add(names, STR(r->name));
    ADD(e, "names", names);
    ACTION(e, "action", "errnoRet", r->action);
    if (r->nargs) {
      json_object *args = json_object_new_array();
      for (unsigned k = 0; k < r->nargs; k++) {
        json_object *g = json_object_new_object();
        ADD(g, "index", json_object_new_int((int)r->args[k].idx));
        ADD(g, "value", json_object_new_uint64(r->args[k].v1));
        ADD(g, "valueTwo", json_object_new_uint64(r->args[k].v2));
        ADD(g, "op", STR(r->args[k].op >= 1 && r->args[k].op <= 7 ? OPS[r->args[k].op] : "?"));
        json_object_array_add(args, g);
      }
      ADD(e, "args", args);
    }
    json_object_array_add(rules, e);
  }
  ADD(sc, "syscalls", rules);
  return sc;
}

static json_object *resources(const struct oci *o)
{
  const struct oci_resources *r = &o->res;
  json_object *res = json_object_new_object();
  if (r->ndevices) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < r->ndevices; i++) {
      const struct oci_dev_rule *d = &r->devices[i];
      json_object *e = json_object_new_object();
      char t[2] = { d->type, 0 };
      ADD(e, "allow", json_object_new_boolean(d->allow));
      ADD(e, "type", STR(t));
      if (d->major >= 0)
        ADD(e, "major", json_object_new_int64(d->major));
      if (d->minor >= 0)
        ADD(e, "minor", json_object_new_int64(d->minor));
      ADD(e, "access", STR(d->access));
      json_object_array_add(a, e);
    }
    ADD(res, "devices", a);
  }
  json_object *mem = json_object_new_object(), *cpu = json_object_new_object(), *pids = json_object_new_object();
  if (r->has_mem_limit)
    ADD(mem, "limit", json_object_new_int64(r->mem_limit));
  if (r->has_mem_reservation)
    ADD(mem, "reservation", json_object_new_int64(r->mem_reservation));
  if (r->has_mem_swap)
    ADD(mem, "swap", json_object_new_int64(r->mem_swap));
  if (r->has_swappiness)
    ADD(mem, "swappiness", json_object_new_uint64(r->swappiness));
  if (r->disable_oom_killer)
    ADD(mem, "disableOOMKiller", json_object_new_boolean(true));
  if (r->has_cpu_shares)
    ADD(cpu, "shares", json_object_new_uint64(r->cpu_shares));
  if (r->has_cpu_quota)
    ADD(cpu, "quota", json_object_new_int64(r->cpu_quota));
  if (r->has_cpu_period)
    ADD(cpu, "period", json_object_new_uint64(r->cpu_period));
  if (r->cpus)
    ADD(cpu, "cpus", STR(r->cpus));
  if (r->mems)
    ADD(cpu, "mems", STR(r->mems));
  if (r->has_pids)
    ADD(pids, "limit", json_object_new_int64(r->pids_limit));
  json_object *io = json_object_new_object();
  if (r->has_blkio_weight)
    ADD(io, "weight", json_object_new_uint64(r->blkio_weight));
  static const char *const THR[THR_KINDS] = { "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };
  for (int k = 0; k < THR_KINDS; k++) {
    if (!r->nthrottle[k])
      continue;
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < r->nthrottle[k]; i++) {
      json_object *e = json_object_new_object();
      ADD(e, "major", json_object_new_int64(r->throttle[k][i].major));
      ADD(e, "minor", json_object_new_int64(r->throttle[k][i].minor));
      ADD(e, "rate", json_object_new_uint64(r->throttle[k][i].rate));
      json_object_array_add(a, e);
    }
    ADD(io, THR[k], a);
  }
  json_object *parts[] = { mem, cpu, pids, io };
  const char *keys[] = { "memory", "cpu", "pids", "blockIO" };
  for (int i = 0; i < 4; i++)
    if (json_object_object_length(parts[i]))
      ADD(res, keys[i], parts[i]);
    else
      json_object_put(parts[i]);
  return res;
}

static json_object *linux_(const struct oci *o)
{
  const struct plan *p = &o->p;
  json_object *l = json_object_new_object(), *ns = json_object_new_array(), *devs = json_object_new_array();
  json_object *masked = json_object_new_array(), *ro = json_object_new_array();
  for (size_t i = 0; i < o->nns; i++) {
    json_object *e = json_object_new_object();
    ADD(e, "type", STR(ns_name(o->ns[i].type)));
    if (o->ns[i].path)
      ADD(e, "path", STR(o->ns[i].path));
    json_object_array_add(ns, e);
  }
  ADD(l, "namespaces", ns);
  if (o->rootfs_propagation)
    ADD(l, "rootfsPropagation", STR(propagation_name(o->rootfs_propagation)));
  for (size_t i = 0; i < p->nops; i++) {
    const struct op *op = &p->ops[i];
    if (op->kind == OP_MASK)
      json_object_array_add(masked, STR(op->dst));
    else if (op->kind == OP_ROPATH)
      json_object_array_add(ro, STR(op->dst));
    else if (op->kind == OP_MKNOD) {
      json_object *d = json_object_new_object();
      unsigned t = op->mode & S_IFMT;
      ADD(d, "path", STR(op->dst));
      ADD(d, "type", STR(t == S_IFBLK ? "b" : t == S_IFIFO ? "p" : "c"));
      ADD(d, "major", json_object_new_int64(op->major));
      ADD(d, "minor", json_object_new_int64(op->minor));
      ADD(d, "fileMode", json_object_new_int(op->mode & 07777));
      if (op->chown) {
        ADD(d, "uid", json_object_new_int64(op->uid));
        ADD(d, "gid", json_object_new_int64(op->gid));
      }
      json_object_array_add(devs, d);
    }
  }
  /* lists the spec left out (an exec's, --privileged's paths) are left out here too */
  if (json_object_array_length(devs))
    ADD(l, "devices", devs);
  else
    json_object_put(devs);
  json_object *res = resources(o);
  if (json_object_object_length(res))
    ADD(l, "resources", res);
  else
    json_object_put(res);
  const struct oci_idmap *maps[2] = { o->uid_maps, o->gid_maps };
  size_t nmaps[2] = { o->nuid_maps, o->ngid_maps };
  for (int k = 0; k < 2; k++) {
    if (!nmaps[k])
      continue;
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < nmaps[k]; i++) {
      json_object *m = json_object_new_object();
      ADD(m, "containerID", json_object_new_int64(maps[k][i].container));
      ADD(m, "hostID", json_object_new_int64(maps[k][i].host));
      ADD(m, "size", json_object_new_int64(maps[k][i].size));
      json_object_array_add(a, m);
    }
    ADD(l, k ? "gidMappings" : "uidMappings", a);
  }
  if (o->nsysctl) {
    json_object *s = json_object_new_object();
    for (size_t i = 0; i < o->nsysctl; i++)
      ADD(s, o->sysctl[i].key, STR(o->sysctl[i].value));
    ADD(l, "sysctl", s);
  }
  if (p->seccomp)
    ADD(l, "seccomp", seccomp(o));
  if (o->cgroups_path)
    ADD(l, "cgroupsPath", STR(o->cgroups_path));
  json_object *lists[] = { masked, ro };
  const char *names[] = { "maskedPaths", "readonlyPaths" };
  for (int i = 0; i < 2; i++)
    if (json_object_array_length(lists[i]))
      ADD(l, names[i], lists[i]);
    else
      json_object_put(lists[i]);
  return l;
}

/* The io.tsrun.* annotations as the launcher took them (spec_tsrun.c). */
static json_object *annotations(const struct oci *o)
{
  const struct plan *p = &o->p;
  json_object *a = json_object_new_object();
#define ANN_STR(k, v) if (v) ADD(a, k, STR(v))
#define ANN_TRUE(k, v) if (v) ADD(a, k, STR("true"))
#define ANN_STRV(k, v, n)                                                                                               \
  if (n) {                                                                                                              \
    json_object *arr = strv(v, n);                                                                                      \
    ADD(a, k, STR(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));       \
    json_object_put(arr);                                                                                               \
  }
  ANN_STR("io.tsrun.overlay.upperdir", p->upper);
  ANN_STR("io.tsrun.overlay.workdir", p->work);
  ANN_STRV("io.tsrun.overlay.lowerdirs", p->lowers, p->nlowers);
  ANN_STRV("io.tsrun.overlay.options", p->overlay_opts, p->noverlay_opts);
  if (p->ncgroup_dirs) {
    ANN_STRV("io.tsrun.cgroup.dirs", p->cgroup_dirs, p->ncgroup_dirs);
  } else {
    ANN_STRV("io.tsrun.cgroup.procs", p->cgroup_procs, p->ncgroup_procs);
  }
  ANN_STR("io.tsrun.cgroup.devices", p->devices_dir);
  ANN_STR("io.tsrun.exitfile", p->exit_file);
  ANN_STR("io.tsrun.log", p->log_file);
  if (p->autorm_node) {
    char *rm[] = { p->autorm_node, p->autorm_bin, p->autorm_root, p->autorm_id };
    ANN_STRV("io.tsrun.autoremove", rm, 4);
  }
  ANN_TRUE("io.tsrun.init", p->init);
  ANN_TRUE("io.tsrun.stdin", p->open_stdin);
  ANN_STR("io.tsrun.stdin.attach", p->stdin_unattached ? "none" : p->stdin_keep ? "keep" : NULL);
  ANN_TRUE("io.tsrun.detach", p->detach);
  ANN_STR("io.tsrun.seccomp.cache", p->seccomp_cache);
  ANN_STR("io.tsrun.attach", p->attach_path);
  if (p->ndetach_keys) {
    char hex[2 * DETACH_KEYS_MAX + 1];
    for (size_t i = 0; i < p->ndetach_keys; i++)
      snprintf(hex + 2 * i, 3, "%02x", p->detach_keys[i]);
    ADD(a, "io.tsrun.detachkeys", STR(hex));
  }
  if (p->watch) /* the fields watch_parse took */
    ANN_STRV("io.tsrun.watch", p->watch_fields, p->nwatch_fields);
  return a;
}

static json_object *hooks(const struct oci *o)
{
  json_object *h = json_object_new_object();
  for (int k = 0; k < HOOK_KINDS; k++) {
    if (!o->nhooks[k])
      continue;
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < o->nhooks[k]; i++) {
      const struct oci_hook *hk = &o->hooks[k][i];
      json_object *e = json_object_new_object(), *args = json_object_new_array(), *env = json_object_new_array();
      ADD(e, "path", STR(hk->path));
      for (char **v = hk->args; v && *v; v++)
        json_object_array_add(args, STR(*v));
      for (char **v = hk->env; v && *v; v++)
        json_object_array_add(env, STR(*v));
      if (json_object_array_length(args))
        ADD(e, "args", args);
      else
        json_object_put(args);
      if (json_object_array_length(env))
        ADD(e, "env", env);
      else
        json_object_put(env);
      if (hk->timeout)
        ADD(e, "timeout", json_object_new_int(hk->timeout));
      json_object_array_add(a, e);
    }
    ADD(h, hook_names[k], a);
  }
  return h;
}

json_object *spec_dump(const struct oci *o)
{
  json_object *d = json_object_new_object();
  ADD(d, "ociVersion", STR(o->oci_version));
  if (o->root_path) {
    json_object *root = json_object_new_object();
    ADD(root, "path", STR(o->root_path));
    ADD(root, "readonly", json_object_new_boolean(o->p.readonly_rootfs));
    ADD(d, "root", root);
  }
  if (o->p.hostname)
    ADD(d, "hostname", STR(o->p.hostname));
  if (o->domainname)
    ADD(d, "domainname", STR(o->domainname));
  ADD(d, "process", process(o));
  if (o->nmounts)
    ADD(d, "mounts", mounts(o));
  ADD(d, "linux", linux_(o));
  json_object *h = hooks(o);
  if (json_object_object_length(h))
    ADD(d, "hooks", h);
  else
    json_object_put(h);
  json_object *ann = annotations(o);
  ADD(d, "annotations", ann);
  /* the launcher's own view of them: derived, not read (checked by the test too) */
  json_object *launcher = json_object_new_object();
  ADD(launcher, "cloneFlags", json_object_new_int64((int64_t)o->p.clone_flags));
  ADD(launcher, "loopbackUp", json_object_new_boolean(o->p.lo_up));
  ADD(launcher, "allDevices", json_object_new_boolean(o->p.devices_all));
  ADD(launcher, "deviceRules", json_object_new_int64((int64_t)o->p.ndevrules));
  ADD(launcher, "namespacesJoined", json_object_new_int64((int64_t)o->p.nnsjoins));
  ADD(d, "launcher", launcher);
  return d;
}
