/*
 * mounts[] → the launcher's filesystem ops, in the spec's order. Options
 * become mount flags (as mount(8) reads them), propagation options are kept
 * apart (struct oci_prop: mount(2) takes them in a call of their own), the
 * rest is the filesystem's data string. A "bind"/"rbind" option or type makes
 * a bind mount; type "cgroup" is expanded to the host's hierarchies.
 */
#include "spec.h"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

static const struct {
  const char *name;
  bool clear;
  unsigned long flag;
} FLAGS[] = {
  { "defaults", false, 0 }, { "ro", false, MS_RDONLY }, { "rw", true, MS_RDONLY }, { "nosuid", false, MS_NOSUID },
  { "suid", true, MS_NOSUID }, { "nodev", false, MS_NODEV }, { "dev", true, MS_NODEV }, { "noexec", false, MS_NOEXEC },
  { "exec", true, MS_NOEXEC }, { "sync", false, MS_SYNCHRONOUS }, { "async", true, MS_SYNCHRONOUS },
  { "dirsync", false, MS_DIRSYNC }, { "remount", false, MS_REMOUNT }, { "mand", false, MS_MANDLOCK },
  { "nomand", true, MS_MANDLOCK }, { "atime", true, MS_NOATIME }, { "noatime", false, MS_NOATIME },
  { "diratime", true, MS_NODIRATIME }, { "nodiratime", false, MS_NODIRATIME }, { "bind", false, MS_BIND },
  { "rbind", false, MS_BIND | MS_REC }, { "relatime", false, MS_RELATIME }, { "norelatime", true, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME }, { "nostrictatime", true, MS_STRICTATIME }, { "silent", false, MS_SILENT },
  { "loud", true, MS_SILENT },
};

static const struct {
  const char *name;
  unsigned long flag;
} PROPAGATION[] = {
  { "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED }, { "rshared", MS_SHARED | MS_REC },
  { "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC }, { "unbindable", MS_UNBINDABLE },
  { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* A propagation option's flags, or 0. */
unsigned long propagation_flags(const char *opt)
{
  for (size_t i = 0; i < sizeof PROPAGATION / sizeof *PROPAGATION; i++)
    if (strcmp(PROPAGATION[i].name, opt) == 0)
      return PROPAGATION[i].flag;
  return 0;
}

/* The option name of propagation flags (the first that sets exactly them), or NULL. */
const char *propagation_name(unsigned long flags)
{
  for (size_t i = 0; i < sizeof PROPAGATION / sizeof *PROPAGATION; i++)
    if (PROPAGATION[i].flag == flags)
      return PROPAGATION[i].name;
  return NULL;
}

/* flags and propagation as the option names that set them (rbind for bind|rec), onto the array out */
void mount_flag_names(unsigned long flags, unsigned long prop, json_object *out)
{
  for (size_t i = 0; i < sizeof FLAGS / sizeof *FLAGS; i++) {
    unsigned long f = FLAGS[i].flag;
    if (FLAGS[i].clear || !f || (flags & f) != f)
      continue;
    if (f == MS_BIND && (flags & MS_REC))
      continue; /* rbind */
    json_object_array_add(out, json_object_new_string(FLAGS[i].name));
  }
  for (size_t i = 0; prop && i < sizeof PROPAGATION / sizeof *PROPAGATION; i++)
    if (PROPAGATION[i].flag == prop)
      json_object_array_add(out, json_object_new_string(PROPAGATION[i].name));
}

static int append_data(char **data, const char *opt)
{
  size_t old = *data ? strlen(*data) : 0;
  char *d = realloc(*data, old + strlen(opt) + 2);
  if (!d)
    return fail(ENOMEM, "mount options");
  sprintf(d + old, "%s%s", old ? "," : "", opt);
  *data = d;
  return 0;
}

/*
 * The host's cgroup layout: v2 at /sys/fs/cgroup, or the v1 hierarchies below it (name and
 * controller options) and the alias symlinks runc also makes (cpu -> cpu,cpuacct). Read once
 * per process: tsrun-init reads it first thing (spec_host_cgroups), while tsrun still creates
 * the container, so that neither the monitor nor the container process (which inherits it
 * across fork) reads /proc/self/mountinfo once the spec is in.
 */
#define HOST_CG_MAX 32
static struct {
  bool read, v2;
  int err; /* errno of a failed read: a spec with a cgroup mount then fails with it */
  size_t nsubs, nlinks;
  char *sub[HOST_CG_MAX], *opts[HOST_CG_MAX];
  char *link[HOST_CG_MAX], *target[HOST_CG_MAX];
} host_cg;

void spec_host_cgroups(void)
{
  if (host_cg.read)
    return;
  host_cg.read = true;
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) {
    host_cg.err = errno ? errno : EIO;
    return;
  }
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char mp[1024], fstype[64], super[1024];
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1 || sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
      continue;
    if (strcmp(fstype, "cgroup2") == 0 && strcmp(mp, "/sys/fs/cgroup") == 0)
      host_cg.v2 = true;
    else if (strcmp(fstype, "cgroup") == 0 && strncmp(mp, "/sys/fs/cgroup/", 15) == 0 && host_cg.nsubs < HOST_CG_MAX) {
      /* superOptions: rw,cpu,cpuacct → the controller options */
      char *name = strdup(mp + 15), *opts = strdup(strchr(super, ',') ? strchr(super, ',') + 1 : "");
      if (!name || !opts)
        break;
      host_cg.sub[host_cg.nsubs] = name;
      host_cg.opts[host_cg.nsubs++] = opts;
    }
  }
  fclose(f);
  if (host_cg.v2)
    return;
  DIR *d = opendir("/sys/fs/cgroup");
  for (struct dirent *e; d && host_cg.nlinks < HOST_CG_MAX && (e = readdir(d));) {
    if (e->d_type != DT_LNK)
      continue;
    char link[512], target[256];
    snprintf(link, sizeof link, "/sys/fs/cgroup/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
      continue;
    target[n] = '\0';
    bool known = false;
    for (size_t i = 0; i < host_cg.nsubs && !strchr(target, '/'); i++)
      known = known || strcmp(host_cg.sub[i], target) == 0;
    char *l = known ? strdup(e->d_name) : NULL, *t = known ? strdup(target) : NULL;
    if (!l || !t)
      continue;
    host_cg.link[host_cg.nlinks] = l;
    host_cg.target[host_cg.nlinks++] = t;
  }
  if (d)
    closedir(d);
}

/* The cgroup hierarchies of this host, mounted below /sys/fs/cgroup the same way inside. */
static int add_cgroup_mounts(struct oci *o, const char *dst, unsigned long flags)
{
  struct plan *p = &o->p;
  spec_host_cgroups();
  if (host_cg.err)
    return fail(host_cg.err, "read /proc/self/mountinfo");
  unsigned long base = (flags & ~(unsigned long)(MS_BIND | MS_REC)) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (host_cg.v2) {
    p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
    p->ops[p->nops - 1] = (struct op){ .kind = OP_MOUNT, .src = "cgroup", .dst = (char *)dst, .fstype = "cgroup2", .flags = base, .data = "" };
    return 0;
  }
  p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
  p->ops[p->nops - 1] = (struct op){ .kind = OP_MOUNT, .src = "tmpfs", .dst = (char *)dst, .fstype = "tmpfs", .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC, .data = "mode=755" };
  for (size_t i = 0; i < host_cg.nsubs; i++) {
    char *sub = NULL;
    if (asprintf(&sub, "%s/%s", dst, host_cg.sub[i]) < 0)
      return fail(ENOMEM, "cgroup mounts");
    p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
    p->ops[p->nops - 1] = (struct op){ .kind = OP_MOUNT, .src = "cgroup", .dst = sub, .fstype = "cgroup", .flags = base, .data = host_cg.opts[i] };
  }
  for (size_t i = 0; i < host_cg.nlinks; i++) {
    char *lnk = NULL;
    if (asprintf(&lnk, "%s/%s", dst, host_cg.link[i]) < 0)
      return fail(ENOMEM, "cgroup mounts");
    p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
    p->ops[p->nops - 1] = (struct op){ .kind = OP_SYMLINK, .src = host_cg.target[i], .dst = lnk };
  }
  if (flags & MS_RDONLY) { /* the tmpfs itself read-only, once the hierarchies are in */
    p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
    p->ops[p->nops - 1] = (struct op){ .kind = OP_MOUNT, .src = "tmpfs", .dst = (char *)dst, .fstype = "tmpfs", .flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, .data = "mode=755" };
  }
  return 0;
}

static int read_mount(json_object *m, struct oci *o)
{
  char *dst = NULL, *src = NULL, *type = NULL, **opts = NULL;
  size_t nopts = 0;
  if (!json_object_is_type(m, json_type_object))
    return fail(0, "config.json: mounts[] must be objects");
  if (jget_str(m, "destination", "mounts[].", &dst) < 0 || jget_str(m, "source", "mounts[].", &src) < 0 ||
      jget_str(m, "type", "mounts[].", &type) < 0 || jget_strv(m, "options", "mounts[].", &opts, &nopts) < 0)
    return -1;
  if (!dst || dst[0] != '/')
    return fail(0, "config.json: mounts[].destination must be an absolute path (got %s)", dst ? dst : "none");
  unsigned long flags = 0, prop = 0;
  char *data = NULL;
  for (size_t i = 0; i < nopts; i++) {
    size_t k = 0;
    while (k < sizeof FLAGS / sizeof *FLAGS && strcmp(FLAGS[k].name, opts[i]) != 0)
      k++;
    unsigned long pf = propagation_flags(opts[i]);
    if (k < sizeof FLAGS / sizeof *FLAGS) {
      if (FLAGS[k].clear)
        flags &= ~FLAGS[k].flag;
      else
        flags |= FLAGS[k].flag;
    } else if (pf)
      prop = pf;
    else if (strcmp(opts[i], "tmpcopyup") == 0 || strncmp(opts[i], "idmap", 5) == 0 || strncmp(opts[i], "ridmap", 6) == 0)
      return fail(0, "config.json: mount option %s (on %s) is not supported", opts[i], dst);
    else if (append_data(&data, opts[i]) < 0)
      return -1;
  }
  free(opts);
  if (type && (strcmp(type, "bind") == 0 || strcmp(type, "rbind") == 0))
    flags |= MS_BIND | (strcmp(type, "rbind") == 0 ? MS_REC : 0);
  o->mounts = grow(o->mounts, &o->nmounts, sizeof *o->mounts);
  o->mounts[o->nmounts - 1] = (struct oci_mount){ dst, src, type, data, flags, prop };
  if (type && strcmp(type, "cgroup") == 0 && !(flags & MS_BIND))
    return add_cgroup_mounts(o, dst, flags);
  if (!(flags & MS_BIND) && (!type || !*type))
    return fail(0, "config.json: mount on %s needs a type", dst);
  char *full = src;
  if ((flags & MS_BIND) && src && src[0] != '/' && !o->bundle)
    return fail(0, "config.json: bind source %s must be absolute here (no bundle)", src);
  if ((flags & MS_BIND) && src && src[0] != '/' && asprintf(&full, "%s/%s", o->bundle, src) < 0)
    return fail(ENOMEM, "mounts");
  if ((flags & MS_BIND) && !src)
    return fail(0, "config.json: bind mount on %s needs a source", dst);
  struct plan *p = &o->p;
  p->ops = grow(p->ops, &p->nops, sizeof *p->ops);
  p->ops[p->nops - 1] = (struct op){ .kind = OP_MOUNT, .src = full ? full : (char *)"", .dst = dst, .fstype = (flags & MS_BIND) ? "" : type,
                                     .flags = flags, .data = data ? data : (char *)"", .prop = (flags & MS_BIND) ? prop : 0 };
  if (prop) {
    o->props = grow(o->props, &o->nprops, sizeof *o->props);
    o->props[o->nprops - 1] = (struct oci_prop){ dst, prop };
  }
  return 0;
}

int spec_read_mounts(json_object *mounts, struct oci *o)
{
  for (size_t i = 0; i < json_object_array_length(mounts); i++)
    if (read_mount(json_object_array_get_idx(mounts, i), o) < 0)
      return -1;
  return 0;
}
