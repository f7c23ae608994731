/*
 * The linux section: namespaces, id mappings, devices, sysctl, masked and
 * read-only paths, rootfsPropagation, cgroupsPath and resources (the cgroup
 * itself is made by the runtime, native/runtime/cgroups.c). Devices, masks
 * and read-only paths become filesystem ops after the mounts, in that order.
 */
#include "spec.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

static const struct {
  const char *name;
  int type;
} NAMESPACES[] = {
  { "pid", CLONE_NEWPID }, { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS }, { "ipc", CLONE_NEWIPC },
  { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER }, { "cgroup", CLONE_NEWCGROUP },
};

static int read_namespaces(json_object *a, struct oci *o, bool need_root)
{
  for (size_t i = 0; a && i < json_object_array_length(a); i++) {
    json_object *n = json_object_array_get_idx(a, i);
    char *type = NULL, *path = NULL;
    if (!json_object_is_type(n, json_type_object))
      return fail(0, "config.json: linux.namespaces[] must be objects");
    if (jget_str(n, "type", "linux.namespaces[].", &type) < 0 || jget_str(n, "path", "linux.namespaces[].", &path) < 0)
      return -1;
    size_t k = 0;
    while (type && k < sizeof NAMESPACES / sizeof *NAMESPACES && strcmp(NAMESPACES[k].name, type) != 0)
      k++;
    if (type && strcmp(type, "time") == 0)
      return fail(0, "config.json: the time namespace is not supported");
    if (!type || k == sizeof NAMESPACES / sizeof *NAMESPACES)
      return fail(0, "config.json: unknown namespace type %s", type ? type : "(none)");
    if (spec_ns(o, NAMESPACES[k].type))
      return fail(0, "config.json: namespace %s given twice", type);
    if (path && path[0] != '/')
      return fail(0, "config.json: namespace %s path must be absolute", type);
    o->ns[o->nns++] = (struct oci_ns){ NAMESPACES[k].type, path && *path ? path : NULL };
  }
  /* the container's mounts must never land in the host's mount namespace */
  const struct oci_ns *mnt = spec_ns(o, CLONE_NEWNS);
  struct stat ours, theirs;
  if (!mnt && need_root)
    return fail(0, "config.json: a mount namespace is required (linux.namespaces needs {\"type\":\"mount\"}): the container's mounts would be the host's");
  if (!need_root) /* an exec joins the container's: nothing is mounted by it */
    return 0;
  if (mnt && mnt->path && (stat(mnt->path, &theirs) < 0 || stat("/proc/self/ns/mnt", &ours) < 0))
    return fail(errno, "mount namespace %s", mnt->path);
  if (mnt && mnt->path && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
    return fail(0, "config.json: the mount namespace %s is the host's: the container's mounts would be the host's", mnt->path);
  return 0;
}

static int read_idmaps(json_object *a, const char *key, struct oci_idmap **out, size_t *n)
{
  for (size_t i = 0; a && i < json_object_array_length(a); i++) {
    json_object *m = json_object_array_get_idx(a, i);
    uint64_t c = 0, h = 0, s = 0;
    bool hc = false, hh = false, hs = false;
    if (jget_u64(m, "containerID", key, &hc, &c) < 0 || jget_u64(m, "hostID", key, &hh, &h) < 0 || jget_u64(m, "size", key, &hs, &s) < 0)
      return -1;
    if (!hc || !hh || !hs || c > UINT32_MAX || h > UINT32_MAX || s > UINT32_MAX || s == 0)
      return fail(0, "config.json: %s needs containerID, hostID and a nonzero size", key);
    *out = grow(*out, n, sizeof **out);
    (*out)[*n - 1] = (struct oci_idmap){ (uint32_t)c, (uint32_t)h, (uint32_t)s };
  }
  return 0;
}

static void add_op(struct plan *p, struct op op)
{
  p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
  p->ops[p->nops - 1] = op;
}

static bool has_dev_mount(const struct plan *p)
{
  for (size_t i = 0; i < p->nops; i++)
    if (p->ops[i].kind == OP_MOUNT && strcmp(p->ops[i].dst, "/dev") == 0 && !(p->ops[i].flags & MS_BIND))
      return true;
  return false;
}

static int read_devices(json_object *a, struct oci *o)
{
  for (size_t i = 0; a && i < json_object_array_length(a); i++) {
    json_object *d = json_object_array_get_idx(a, i);
    char *path = NULL, *type = NULL;
    int64_t major = 0, minor = 0;
    uint64_t mode = 0666, uid = 0, gid = 0;
    bool hm = false, hu = false, hg = false, hmaj = false, hmin = false;
    if (jget_str(d, "path", "linux.devices[].", &path) < 0 || jget_str(d, "type", "linux.devices[].", &type) < 0 ||
        jget_i64(d, "major", "linux.devices[].", &hmaj, &major) < 0 || jget_i64(d, "minor", "linux.devices[].", &hmin, &minor) < 0 ||
        jget_u64(d, "fileMode", "linux.devices[].", &hm, &mode) < 0 || jget_u64(d, "uid", "linux.devices[].", &hu, &uid) < 0 ||
        jget_u64(d, "gid", "linux.devices[].", &hg, &gid) < 0)
      return -1;
    if (!path || path[0] != '/')
      return fail(0, "config.json: linux.devices[].path must be an absolute path");
    unsigned kind = type && (!strcmp(type, "c") || !strcmp(type, "u")) ? S_IFCHR : type && !strcmp(type, "b") ? S_IFBLK : type && !strcmp(type, "p") ? S_IFIFO : 0;
    if (!kind)
      return fail(0, "config.json: device %s has unknown type %s", path, type ? type : "(none)");
    if (kind != S_IFIFO && (!hmaj || !hmin))
      return fail(0, "config.json: device %s needs major and minor", path);
    add_op(&o->p, (struct op){ .kind = OP_MKNOD, .dst = path, .mode = kind | (unsigned)(mode & 07777), .major = (unsigned)major,
                               .minor = (unsigned)minor, .chown = hu || hg, .uid = (unsigned)uid, .gid = (unsigned)gid });
  }
  return 0;
}

/* What every container's /dev has (runtime-spec "Default Devices"), unless the spec names it. */
static void add_default_devices(struct oci *o)
{
  static const struct {
    const char *path;
    unsigned major, minor;
  } DEFAULTS[] = { { "/dev/null", 1, 3 }, { "/dev/zero", 1, 5 }, { "/dev/full", 1, 7 }, { "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 } };
  struct plan *p = &o->p;
  for (size_t i = 0; i < sizeof DEFAULTS / sizeof *DEFAULTS; i++) {
    bool named = false;
    for (size_t k = 0; k < p->nops; k++)
      named = named || (p->ops[k].kind == OP_MKNOD && strcmp(p->ops[k].dst, DEFAULTS[i].path) == 0);
    if (!named)
      add_op(p, (struct op){ .kind = OP_MKNOD, .dst = (char *)DEFAULTS[i].path, .mode = S_IFCHR | 0666, .major = DEFAULTS[i].major, .minor = DEFAULTS[i].minor });
  }
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "/proc/self/fd", .dst = "/dev/fd" });
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "/proc/self/fd/0", .dst = "/dev/stdin" });
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "/proc/self/fd/1", .dst = "/dev/stdout" });
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "/proc/self/fd/2", .dst = "/dev/stderr" });
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "pts/ptmx", .dst = "/dev/ptmx" });
  add_op(p, (struct op){ .kind = OP_SYMLINK, .src = "/proc/kcore", .dst = "/dev/core" }); /* as runc and docker */
}

/* The rules as devices.c applies them. */
void spec_devrules(const struct oci_resources *r, struct devrule **out, size_t *n)
{
  for (size_t i = 0; i < r->ndevices; i++) {
    const struct oci_dev_rule *d = &r->devices[i];
    unsigned access = 0;
    for (const char *c = d->access; *c; c++)
      access |= *c == 'm' ? 1u : *c == 'r' ? 2u : 4u;
    *out = grow(*out, n, sizeof **out);
    (*out)[*n - 1] = (struct devrule){ d->type, (int)d->major, (int)d->minor, access, d->allow };
  }
}

/*
 * After the spec's device rules, the devices every container may use (runc's
 * list): mknod of any node, the default devices, the pty and /dev/console,
 * tun, and each device of linux.devices. tsrun-runtime adds them as runc
 * does; tsrun run's spec lists docker's own (src/runtime/devices.ts).
 */
void spec_allow_default_devices(struct oci *o)
{
  static const struct oci_dev_rule ALLOWED[] = {
    { true, 'c', -1, -1, "m" }, { true, 'b', -1, -1, "m" }, { true, 'c', 1, 3, "rwm" }, { true, 'c', 1, 8, "rwm" },
    { true, 'c', 1, 7, "rwm" }, { true, 'c', 5, 0, "rwm" }, { true, 'c', 1, 5, "rwm" }, { true, 'c', 1, 9, "rwm" },
    { true, 'c', 5, 1, "rwm" }, { true, 'c', 136, -1, "rwm" }, { true, 'c', 5, 2, "rwm" }, { true, 'c', 10, 200, "rwm" },
  };
  struct oci_resources *r = &o->res;
  if (!r->ndevices)
    return; /* no rule: the cgroup allows every device, as it starts */
  for (size_t i = 0; i < sizeof ALLOWED / sizeof *ALLOWED; i++) {
    r->devices = grow(r->devices, &r->ndevices, sizeof *r->devices);
    r->devices[r->ndevices - 1] = ALLOWED[i];
  }
  for (size_t i = 0; i < o->p.nops; i++) {
    const struct op *d = &o->p.ops[i];
    if (d->kind != OP_MKNOD || (d->mode & S_IFMT) == S_IFIFO)
      continue;
    r->devices = grow(r->devices, &r->ndevices, sizeof *r->devices);
    r->devices[r->ndevices - 1] = (struct oci_dev_rule){ true, (d->mode & S_IFMT) == S_IFBLK ? 'b' : 'c', d->major, d->minor, "rwm" };
  }
}

static int read_sysctl(json_object *s, struct oci *o)
{
  json_object_object_foreach(s, key, val)
  {
    if (!json_object_is_type(val, json_type_string))
      return fail(0, "config.json: linux.sysctl.%s must be a string", key);
    if (strstr(key, "..") || strchr(key, '/') == key)
      return fail(0, "config.json: bad sysctl name %s", key);
    o->sysctl = grow(o->sysctl, &o->nsysctl, sizeof *o->sysctl);
    o->sysctl[o->nsysctl - 1] = (struct oci_sysctl){ key, (char *)json_object_get_string(val) };
  }
  return 0;
}

static int read_paths(json_object *l, const char *key, enum op_kind kind, struct oci *o)
{
  char **paths = NULL;
  size_t n = 0;
  if (jget_strv(l, key, "linux.", &paths, &n) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (paths[i][0] != '/')
      return fail(0, "config.json: linux.%s must hold absolute paths", key);
    add_op(&o->p, (struct op){ .kind = kind, .dst = paths[i] });
  }
  return 0;
}

int spec_read_linux(json_object *l, struct oci *o, bool need_root)
{
  json_object *ns = NULL, *um = NULL, *gm = NULL, *devs = NULL, *res = NULL, *sysctl = NULL, *sc = NULL, *rdt = NULL;
  char *prop = NULL;
  if (l && (jget_arr(l, "namespaces", "linux.", &ns) < 0 || jget_arr(l, "uidMappings", "linux.", &um) < 0 ||
            jget_arr(l, "gidMappings", "linux.", &gm) < 0 || jget_arr(l, "devices", "linux.", &devs) < 0 ||
            jget_obj(l, "resources", "linux.", &res) < 0 || jget_obj(l, "sysctl", "linux.", &sysctl) < 0 ||
            jget_obj(l, "seccomp", "linux.", &sc) < 0 || jget_str(l, "rootfsPropagation", "linux.", &prop) < 0 ||
            jget_str(l, "cgroupsPath", "linux.", &o->cgroups_path) < 0 || jget_obj(l, "intelRdt", "linux.", &rdt) < 0))
    return -1;
  if (read_namespaces(ns, o, need_root) < 0 || read_idmaps(um, "linux.uidMappings", &o->uid_maps, &o->nuid_maps) < 0 ||
      read_idmaps(gm, "linux.gidMappings", &o->gid_maps, &o->ngid_maps) < 0)
    return -1;
  if ((o->nuid_maps || o->ngid_maps) && !spec_ns(o, CLONE_NEWUSER))
    return fail(0, "config.json: uid/gid mappings need a user namespace");
  /* runc's rule: a joined user namespace has its maps already; they cannot be given again */
  if ((o->nuid_maps || o->ngid_maps) && spec_ns(o, CLONE_NEWUSER)->path)
    return fail(0, "config.json: user namespaces enabled, but both namespace path and mapping specified -- you may only provide one");
  if (spec_ns(o, CLONE_NEWUSER) && !spec_ns(o, CLONE_NEWUSER)->path && (!o->nuid_maps || !o->ngid_maps))
    return fail(0, "config.json: a new user namespace needs linux.uidMappings and linux.gidMappings");
  if (rdt)
    return fail(0, "config.json: linux.intelRdt is not supported");
  if (prop && *prop && !(o->rootfs_propagation = propagation_flags(prop)))
    return fail(0, "config.json: unknown linux.rootfsPropagation %s", prop);
  if (read_devices(devs, o) < 0)
    return -1;
  if (has_dev_mount(&o->p))
    add_default_devices(o);
  if ((res && spec_read_resources(res, &o->res) < 0) || (sysctl && read_sysctl(sysctl, o) < 0) || (sc && spec_read_seccomp(sc, o) < 0))
    return -1;
  if (l && (read_paths(l, "maskedPaths", OP_MASK, o) < 0 || read_paths(l, "readonlyPaths", OP_ROPATH, o) < 0))
    return -1;
  return 0;
}
