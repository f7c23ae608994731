/*
 * What tsrun-init takes from a spec beyond what spec*.c read for every
 * runtime: the io.tsrun.* annotations, for what the runtime spec has no field
 * for (documented in README.md, "tsrun run's spec"), and what the launcher
 * derives from the spec (clone flags, namespaces joined by path, the loopback
 * of a new network namespace, the device cgroup's allow-list). Whatever the
 * launcher does not carry out (joining a pid or mount namespace in a run, propagation of a mount
 * that is no bind) is refused here, never ignored; hooks, sysctl and a new user namespace with its maps
 * are done by the code tsrun-runtime uses.
 *
 *   io.tsrun.overlay.upperdir, .workdir   the root overlay's upper and work dirs
 *   io.tsrun.overlay.lowerdirs            JSON array of lower dirs, topmost first
 *   io.tsrun.overlay.options              JSON array of overlay options ("key=value" or a flag)
 *   io.tsrun.cgroup.dirs                  JSON array: linux.cgroupsPath as tsrun resolved it (one
 *                                         dir per v1 hierarchy, or the v2 one); the monitor makes
 *                                         them with linux.resources' limits, the process joins
 *   io.tsrun.cgroup.procs                 JSON array of cgroup.procs files to join (an exec)
 *   io.tsrun.cgroup.devices               the cgroup dir the device rules go on (v1 devices or v2)
 *   io.tsrun.exitfile, io.tsrun.log       exit.json and the json-file log the monitor writes
 *   io.tsrun.autoremove                   JSON array [node, tsrun, root, id]: `rm -f` after exit
 *   io.tsrun.init                         "true": a minimal PID 1 (--init)
 *   io.tsrun.stdin, io.tsrun.detach       "true": -i; nobody waits (run -d)
 *   io.tsrun.stdin.attach                 "none" | "keep": tsrun's stdin is not the container's;
 *                                         its end leaves the container's open (see init.h)
 *   io.tsrun.seccomp.cache                dir of compiled seccomp filters
 *   io.tsrun.watch                        JSON array [node, tsrun, root, id, onexit 0|1, health
 *                                         interval, start period, start interval (ms), onexit-if
 *                                         file]: watch.c
 * Without io.tsrun.overlay.* the root is root.path as it is (bind-mounted).
 */
#include "spec.h"
#include "../cgroup/manager.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

static const char *annotation(const struct oci *o, const char *key)
{
  json_object *v = NULL;
  if (!o->annotations || !json_object_object_get_ex(o->annotations, key, &v))
    return NULL;
  return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int flag(const struct oci *o, const char *key, bool *out)
{
  const char *v = annotation(o, key);
  if (!v)
    return 0;
  if (strcmp(v, "true") && strcmp(v, "false"))
    return fail(0, "config.json: annotation %s must be \"true\" or \"false\"", key);
  *out = strcmp(v, "true") == 0;
  return 0;
}

/* A JSON array of strings in an annotation (kept alive with the spec: strings point into it). */
static int strv(struct oci *o, const char *key, char ***out, size_t *n)
{
  const char *v = annotation(o, key);
  if (!v)
    return 0;
  json_object *a = json_tokener_parse(v);
  if (!a || !json_object_is_type(a, json_type_array))
    return fail(0, "config.json: annotation %s must be a JSON array of strings", key);
  json_object *holder = json_object_new_object();
  json_object_object_add(holder, "v", a);
  if (jget_strv(holder, "v", key, out, n) < 0)
    return -1;
  /* the spec owns it from here on: freed with it */
  json_object_object_add(o->json, key, holder);
  return 0;
}

/* io.tsrun.detachkeys: the bytes of the detach sequence, in hex ("1011": ctrl-p ctrl-q). */
static int detach_keys(struct oci *o)
{
  struct plan *p = &o->p;
  const char *v = annotation(o, "io.tsrun.detachkeys");
  size_t n = v ? strlen(v) : 0;
  if (!v)
    return 0;
  if (!n || n % 2 || n / 2 > DETACH_KEYS_MAX)
    return fail(0, "config.json: annotation io.tsrun.detachkeys must be 1 to %d bytes in hex", DETACH_KEYS_MAX);
  for (size_t i = 0; i < n / 2; i++) {
    unsigned x;
    if (!isxdigit((unsigned char)v[2 * i]) || !isxdigit((unsigned char)v[2 * i + 1]) || sscanf(v + 2 * i, "%2x", &x) != 1)
      return fail(0, "config.json: annotation io.tsrun.detachkeys must be 1 to %d bytes in hex", DETACH_KEYS_MAX);
    p->detach_keys[i] = (unsigned char)x;
  }
  p->ndetach_keys = n / 2;
  return 0;
}

static int overlay(struct oci *o)
{
  struct plan *p = &o->p;
  p->upper = (char *)annotation(o, "io.tsrun.overlay.upperdir");
  p->work = (char *)annotation(o, "io.tsrun.overlay.workdir");
  if (strv(o, "io.tsrun.overlay.lowerdirs", &p->lowers, &p->nlowers) < 0 ||
      strv(o, "io.tsrun.overlay.options", &p->overlay_opts, &p->noverlay_opts) < 0)
    return -1;
  if ((p->upper || p->work || p->nlowers) && (!p->upper || !p->work || !p->nlowers))
    return fail(0, "config.json: io.tsrun.overlay.upperdir, workdir and lowerdirs go together");
  for (size_t i = 0; i < p->nlowers; i++)
    if (p->lowers[i][0] != '/')
      return fail(0, "config.json: io.tsrun.overlay.lowerdirs must be absolute");
  return 0;
}

/*
 * linux.resources.devices as the launcher applies it (devices.c): every device
 * (no rule, or one that allows all), or the rules, on the cgroup dir the
 * annotation names.
 */
static int device_rules(struct oci *o)
{
  struct plan *p = &o->p;
  const struct oci_resources *r = &o->res;
  if (r->ndevices == 0 || (r->ndevices == 1 && r->devices[0].allow && r->devices[0].type == 'a' && !strcmp(r->devices[0].access, "rwm"))) {
    p->devices_all = true;
    return 0;
  }
  p->devices_dir = (char *)annotation(o, "io.tsrun.cgroup.devices");
  if (!p->devices_dir || p->devices_dir[0] != '/')
    return fail(0, "config.json: device rules need the annotation io.tsrun.cgroup.devices (the cgroup dir)");
  spec_devrules(r, &p->devrules, &p->ndevrules);
  return 0;
}

/*
 * A run's cgroup: linux.cgroupsPath, resolved by tsrun (with the same manager) into the dirs of
 * io.tsrun.cgroup.dirs, or here when only the path is given; the process joins their cgroup.procs.
 */
static int cgroup_dirs(struct oci *o)
{
  struct plan *p = &o->p;
  if (strv(o, "io.tsrun.cgroup.dirs", &p->cgroup_dirs, &p->ncgroup_dirs) < 0)
    return -1;
  if (!p->ncgroup_dirs && o->cgroups_path && *o->cgroups_path) {
    bool v2;
    if (cg_resolve(o->cgroups_path, false, &v2, &p->cgroup_dirs, NULL, &p->ncgroup_dirs) < 0)
      return -1;
  }
  for (size_t i = 0; i < p->ncgroup_dirs; i++)
    if (strncmp(p->cgroup_dirs[i], "/sys/fs/cgroup/", 15) != 0 || strstr(p->cgroup_dirs[i], "/../"))
      return fail(0, "config.json: io.tsrun.cgroup.dirs must be below /sys/fs/cgroup/");
  if (!p->ncgroup_dirs || p->ncgroup_procs)
    return 0;
  p->cgroup_procs = calloc(p->ncgroup_dirs, sizeof *p->cgroup_procs);
  for (size_t i = 0; p->cgroup_procs && i < p->ncgroup_dirs; i++)
    if (asprintf(&p->cgroup_procs[i], "%s/cgroup.procs", p->cgroup_dirs[i]) < 0)
      return fail(ENOMEM, "cgroup.procs");
  if (!p->cgroup_procs)
    return fail(ENOMEM, "cgroup.procs");
  p->ncgroup_procs = p->ncgroup_dirs;
  return 0;
}

static int namespaces(struct oci *o)
{
  struct plan *p = &o->p;
  for (size_t i = 0; i < o->nns; i++) {
    const struct oci_ns *n = &o->ns[i];
    if (n->type == CLONE_NEWUSER && !n->path && (!o->nuid_maps || !o->ngid_maps))
      return fail(0, "config.json: a new user namespace needs linux.uidMappings and linux.gidMappings");
    if (p->exec_mode && !n->path)
      return fail(0, "config.json: an exec joins namespaces: each needs a path");
    /* joined first, before the others are made or joined (runc's order): nsjoin.c, exec.c */
    if (n->type == CLONE_NEWUSER && n->path) {
      p->userns_path = n->path;
      continue;
    }
    if (p->exec_mode)
      continue;
    if (!n->path) {
      p->clone_flags |= (unsigned long)n->type;
      continue;
    }
    if (n->type != CLONE_NEWNET && n->type != CLONE_NEWIPC && n->type != CLONE_NEWUTS)
      return fail(0, "config.json: tsrun run joins only user, net, ipc and uts namespaces by path");
    p->nsjoins = grow(p->nsjoins, &p->nnsjoins, sizeof *p->nsjoins);
    p->nsjoins[p->nnsjoins - 1].type = n->type;
    p->nsjoins[p->nnsjoins - 1].path = n->path;
  }
  /* a new network namespace has its loopback up (as runc and docker) */
  p->lo_up = (p->clone_flags & CLONE_NEWNET) != 0;
  /* in a user namespace (new or joined) the namespaces given by path (owned by the host's) are
     joined before it (runc's order): the monitor joins them around the clone (fork_run_child) */
  if ((p->clone_flags & CLONE_NEWUSER) || p->userns_path) {
    p->prejoins = p->nsjoins;
    p->nprejoins = p->nnsjoins;
    p->nsjoins = NULL;
    p->nnsjoins = 0;
  }
  return 0;
}

/* The clone flags of a linux.namespaces array (the launcher's first frame): its new namespaces. */
int spec_clone_flags(const char *text, unsigned long *flags, char **userns_path)
{
  static const struct { const char *name; int type; } NS[] = {
    { "pid", CLONE_NEWPID }, { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS }, { "ipc", CLONE_NEWIPC },
    { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER }, { "cgroup", CLONE_NEWCGROUP },
  };
  json_object *a = json_tokener_parse(text);
  if (!a || !json_object_is_type(a, json_type_array))
    return fail(0, "the first frame must be linux.namespaces (a JSON array)");
  *flags = 0;
  *userns_path = NULL;
  for (size_t i = 0; i < json_object_array_length(a); i++) {
    json_object *n = json_object_array_get_idx(a, i), *t = NULL, *path = NULL;
    if (!json_object_is_type(n, json_type_object) || !json_object_object_get_ex(n, "type", &t))
      return fail(0, "linux.namespaces[] must be objects with a type");
    if (json_object_object_get_ex(n, "path", &path) && json_object_get_string(path) && *json_object_get_string(path)) {
      if (!strcmp(json_object_get_string(t), "user"))
        *userns_path = strdup(json_object_get_string(path));
      continue;
    }
    size_t k = 0;
    while (k < sizeof NS / sizeof *NS && strcmp(NS[k].name, json_object_get_string(t)))
      k++;
    if (k == sizeof NS / sizeof *NS)
      return fail(0, "unknown namespace type %s", json_object_get_string(t));
    *flags |= (unsigned long)NS[k].type;
  }
  json_object_put(a);
  return 0;
}

int spec_for_launcher(struct oci *o)
{
  struct plan *p = &o->p;
  /* hooks, sysctl and a user namespace are carried out as tsrun-runtime does (hooks.c, spec_apply.c) */
  if ((o->nuid_maps || o->ngid_maps) && !spec_ns(o, CLONE_NEWUSER))
    return fail(0, "config.json: uid/gid mappings need a new user namespace in linux.namespaces");
  if (p->exec_mode && o->nsysctl)
    return fail(0, "config.json: linux.sysctl is for a run, not an exec");
  for (int k = 0; k < HOOK_KINDS; k++)
    if (p->exec_mode && o->nhooks[k])
      return fail(0, "config.json: hooks are for a run, not an exec");
  /* a bind's propagation is set on it once attached (rootfs.c); another mount's is not */
  for (size_t i = 0; i < o->nprops; i++)
    for (size_t k = 0; k < p->nops; k++)
      if (p->ops[k].kind == OP_MOUNT && p->ops[k].dst == o->props[i].dst && !(p->ops[k].flags & MS_BIND))
        return fail(0, "config.json: propagation of the non-bind mount on %s is not supported by tsrun run", o->props[i].dst);
  p->root_propagation = o->rootfs_propagation;
  if (o->terminal && (o->console_height || o->console_width))
    return fail(0, "config.json: process.consoleSize: tsrun run sizes the pty from the caller's terminal");
  bool autorm = false;
  char **rm = NULL;
  size_t nrm = 0;
  p->exit_file = (char *)annotation(o, "io.tsrun.exitfile");
  p->log_file = (char *)annotation(o, "io.tsrun.log");
  p->seccomp_cache = (char *)annotation(o, "io.tsrun.seccomp.cache");
  p->attach_path = (char *)annotation(o, "io.tsrun.attach");
  if (detach_keys(o) < 0)
    return -1;
  const char *sa = annotation(o, "io.tsrun.stdin.attach");
  p->stdin_unattached = sa && strcmp(sa, "none") == 0;
  p->stdin_keep = sa && strcmp(sa, "keep") == 0;
  if (sa && !p->stdin_unattached && !p->stdin_keep)
    return fail(0, "config.json: annotation io.tsrun.stdin.attach must be \"none\" or \"keep\"");
  p->tty = o->terminal;
  /* written with the rlimits (confine.c), for the container's process and an exec's */
  p->has_oom_score_adj = o->has_oom_score_adj;
  p->oom_score_adj = o->oom_score_adj;
  if (flag(o, "io.tsrun.init", &p->init) < 0 || flag(o, "io.tsrun.stdin", &p->open_stdin) < 0 ||
      flag(o, "io.tsrun.detach", &p->detach) < 0 || strv(o, "io.tsrun.cgroup.procs", &p->cgroup_procs, &p->ncgroup_procs) < 0 ||
      strv(o, "io.tsrun.autoremove", &rm, &nrm) < 0 || namespaces(o) < 0)
    return -1;
  if (strv(o, "io.tsrun.watch", &p->watch_fields, &p->nwatch_fields) < 0)
    return -1;
  if (p->nwatch_fields) {
    /* watch.c reads its fields as one 0x1f-separated string */
    size_t len = 1;
    for (size_t i = 0; i < p->nwatch_fields; i++)
      len += strlen(p->watch_fields[i]) + 1;
    char *joined = calloc(1, len);
    for (size_t i = 0; joined && i < p->nwatch_fields; i++) {
      if (strchr(p->watch_fields[i], FIELD_SEP))
        return fail(0, "config.json: io.tsrun.watch: a field holds the byte 0x1f");
      if (i)
        strcat(joined, "\x1f");
      strcat(joined, p->watch_fields[i]);
    }
    if (!joined || watch_parse(p, joined) < 0)
      return fail(0, "config.json: io.tsrun.watch is [node, tsrun, root, id, onexit, interval, start period, start interval, onexit-if]");
  }
  if (rm) {
    autorm = true;
    if (nrm != 4)
      return fail(0, "config.json: io.tsrun.autoremove is [node, tsrun, root, id]");
    p->autorm_node = rm[0];
    p->autorm_bin = rm[1];
    p->autorm_root = rm[2];
    p->autorm_id = rm[3];
  }
  if (p->exec_mode)
    return 0;
  if (cgroup_dirs(o) < 0)
    return -1;
  if (!p->exit_file)
    return fail(0, "config.json: a run needs the annotation io.tsrun.exitfile");
  if (p->detach && !p->log_file)
    return fail(0, "config.json: a detached run needs the annotation io.tsrun.log");
  if (autorm && !p->detach && !p->ndetach_keys)
    return fail(0, "config.json: io.tsrun.autoremove is for a detached run (or one that can detach)");
  if (!(p->clone_flags & CLONE_NEWNS))
    return fail(0, "config.json: tsrun run needs a new mount namespace");
  return overlay(o) < 0 ? -1 : device_rules(o);
}

/* A launcher's spec (a run's, or an exec's), as text, into o: read and checked. */
int spec_launcher_load(struct oci *o, const char *text, size_t len, bool exec_mode)
{
  json_object *cfg = spec_parse_text(text, len);
  if (!cfg)
    return -1;
  o->p.exec_mode = exec_mode;
  if (spec_read(cfg, o, !exec_mode) < 0)
    return -1;
  return spec_for_launcher(o);
}
