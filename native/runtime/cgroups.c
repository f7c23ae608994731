/*
 * The container's cgroup for cgroupfs paths (no systemd): linux.cgroupsPath,
 * absolute from each hierarchy's root, relative from this process's own
 * cgroup (runc's rules), "/ID" when absent. cgroup v1: a dir in each mounted
 * v1 hierarchy below /sys/fs/cgroup; v2: one dir. The init joins it itself
 * (child_join_cgroup). Resources are written before the init is forked.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool v2_host(void)
{
  return cgroup2_host();
}

/* The cgroup of this process in the hierarchy with these controllers ("" for v2). */
static int own_cgroup(const char *controllers, char *out, size_t len)
{
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f)
    return fail(errno, "read /proc/self/cgroup");
  char line[4096];
  int rc = fail(ENOENT, "own cgroup for %s", *controllers ? controllers : "cgroup2");
  while (fgets(line, sizeof line, f)) {
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b)
      continue;
    *b = '\0';
    b[strcspn(b + 1, "\n") + 1] = '\0';
    if (strcmp(a + 1, controllers) == 0) {
      snprintf(out, len, "%s", b + 1);
      rc = 0;
      break;
    }
  }
  fclose(f);
  return rc;
}

/* mkdir -p below a hierarchy's mount; a new cpuset dir gets its parent's cpus and mems (v1 starts them empty) */
static int make_dir(const char *mount, const char *rel, bool cpuset)
{
  char d[PATH_MAX];
  int n = snprintf(d, sizeof d, "%s/%s", mount, rel);
  if (n < 0 || (size_t)n >= sizeof d)
    return fail(ENAMETOOLONG, "cgroup path");
  for (char *c = d + strlen(mount) + 1;; c++)
    if (*c == '/' || !*c) {
      char was = *c;
      *c = '\0';
      if (mkdir(d, 0755) == 0 && cpuset) {
        char parent[PATH_MAX], v[4096];
        snprintf(parent, sizeof parent, "%s", d);
        *strrchr(parent, '/') = '\0';
        for (int k = 0; k < 2; k++) {
          const char *name = k ? "cpuset.mems" : "cpuset.cpus";
          if (cg_read(parent, name, v, sizeof v) > 0 && cg_write(d, name, v) < 0)
            return -1;
        }
      } else if (errno != EEXIST && access(d, F_OK) < 0)
        return fail(errno, "cgroup: mkdir %s", d);
      if (!(*c = was))
        return 0;
    }
}

/*
 * cg_apply, with linux.resources.devices on cgroup v2 as a BPF_PROG_TYPE_CGROUP_DEVICE program:
 * tsrun-init's (native/init/devices.c), attached to the one v2 dir before the rest is written.
 */
int rt_cg_apply(const struct oci_resources *r, char **dirs, size_t n, bool v2)
{
  if (!v2 || !r->ndevices || n == 0)
    return cg_apply(r, dirs, n, v2);
  struct devrule *rules = NULL;
  size_t nrules = 0;
  char err[512];
  spec_devrules(r, &rules, &nrules);
  int rc = devices_apply(rules, nrules, dirs[0], err, sizeof err);
  free(rules);
  if (rc < 0)
    return fail(-rc, "cgroup devices: %s", err);
  struct oci_resources rest = *r;
  rest.ndevices = 0;
  return cg_apply(&rest, dirs, n, v2);
}

int cg_create(const struct oci *o, const char *id, char ***dirs, size_t *n)
{
  char def[300];
  snprintf(def, sizeof def, "/%s", id);
  const char *path = o->cgroups_path && *o->cgroups_path ? o->cgroups_path : def;
  if (strstr(path, "..") || strchr(path, ':'))
    return fail(0, "cgroupsPath %s: only a cgroupfs path is supported (no '..', no systemd slice:prefix:name)", path);
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return fail(errno, "read /proc/self/mountinfo");
  char line[4096];
  bool v2 = v2_host();
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    char mp[1024], fstype[64], super[1024];
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1 || sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
      continue;
    char controllers[256] = "";
    if (v2) {
      if (strcmp(fstype, "cgroup2") != 0 || strcmp(mp, "/sys/fs/cgroup") != 0)
        continue;
    } else {
      if (strcmp(fstype, "cgroup") != 0 || strncmp(mp, "/sys/fs/cgroup/", 15) != 0)
        continue;
      /* the controllers as /proc/self/cgroup names them: super options minus rw/ro and other flags */
      char *save, *tok = strtok_r(super, ",", &save);
      for (; tok; tok = strtok_r(NULL, ",", &save))
        if (strcmp(tok, "rw") && strcmp(tok, "ro") && strncmp(tok, "release_agent", 13) && strcmp(tok, "clone_children") &&
            strcmp(tok, "noprefix") && strncmp(tok, "xattr", 5) && strcmp(tok, "cpuset_v2_mode"))
          snprintf(controllers + strlen(controllers), sizeof controllers - strlen(controllers), "%s%s", *controllers ? "," : "", tok);
    }
    char rel[PATH_MAX];
    if (path[0] == '/')
      snprintf(rel, sizeof rel, "%s", path + 1);
    else {
      char own[PATH_MAX];
      if (own_cgroup(controllers, own, sizeof own) < 0) {
        rc = -1;
        break;
      }
      if ((size_t)snprintf(rel, sizeof rel, "%s/%s", strcmp(own, "/") ? own + 1 : "", path) >= sizeof rel) {
        rc = fail(ENAMETOOLONG, "cgroup path %s", path);
        break;
      }
      if (rel[0] == '/')
        memmove(rel, rel + 1, strlen(rel));
    }
    rc = make_dir(mp, rel, strstr(controllers, "cpuset") != NULL);
    if (rc == 0) {
      *dirs = grow(*dirs, n, sizeof **dirs);
      if (asprintf(&(*dirs)[*n - 1], "%s/%s", mp, rel) < 0)
        rc = fail(ENOMEM, "cgroup");
    }
  }
  fclose(f);
  if (rc == 0 && *n == 0)
    rc = fail(ENOENT, "no cgroup hierarchy mounted below /sys/fs/cgroup");
  if (rc == 0)
    rc = rt_cg_apply(&o->res, *dirs, *n, v2); /* native/cgroup/: the one resources → files mapping */
  if (rc < 0) {
    char saved[sizeof oci_err.msg];
    memcpy(saved, oci_err.msg, sizeof saved);
    cg_remove(*dirs, *n);
    memcpy(oci_err.msg, saved, sizeof saved);
  }
  return rc;
}

/* The container's dir in the hierarchy that has this file (v1), or the one dir (v2). */
static const char *dir_with(char **dirs, size_t n, const char *file)
{
  for (size_t i = 0; i < n; i++) {
    char f[PATH_MAX + 64];
    snprintf(f, sizeof f, "%s/%s", dirs[i], file);
    if (access(f, F_OK) == 0)
      return dirs[i];
  }
  return NULL;
}

static int set(char **dirs, size_t n, const char *file, const char *value)
{
  const char *d = dir_with(dirs, n, file);
  if (!d)
    return fail(ENOENT, "cgroup: no %s on this host", file);
  return cg_write(d, file, value);
}

char **cg_procs_files(char **dirs, size_t n)
{
  char **files = calloc(n + 1, sizeof *files);
  for (size_t i = 0; files && i < n; i++)
    if (asprintf(&files[i], "%s/cgroup.procs", dirs[i]) < 0)
      return NULL;
  return files;
}

int cg_pids(char **dirs, size_t n, pid_t **pids, size_t *npids)
{
  *npids = 0;
  const char *d = dir_with(dirs, n, "pids.max");
  if (!d)
    d = n ? dirs[0] : NULL;
  if (!d)
    return 0;
  char f[PATH_MAX + 32];
  snprintf(f, sizeof f, "%s/cgroup.procs", d);
  FILE *fp = fopen(f, "re");
  if (!fp)
    return errno == ENOENT ? 0 : fail(errno, "read %s", f);
  int pid;
  while (fscanf(fp, "%d", &pid) == 1) {
    *pids = grow(*pids, npids, sizeof **pids);
    (*pids)[*npids - 1] = pid;
  }
  fclose(fp);
  return 0;
}

int cg_freeze(char **dirs, size_t n, bool freeze)
{
  if (v2_host())
    return set(dirs, n, "cgroup.freeze", freeze ? "1" : "0");
  if (set(dirs, n, "freezer.state", freeze ? "FROZEN" : "THAWED") < 0)
    return -1;
  /* FREEZING settles to FROZEN once every task stopped */
  const char *d = dir_with(dirs, n, "freezer.state");
  for (int i = 0; freeze && i < 1000; i++) {
    char v[64] = "";
    if (cg_read(d, "freezer.state", v, sizeof v) > 0 && strcmp(v, "FROZEN") == 0)
      return 0;
    usleep(1000);
  }
  return freeze ? fail(EBUSY, "freeze did not settle") : 0;
}

bool cg_frozen(char **dirs, size_t n)
{
  const char *file = v2_host() ? "cgroup.freeze" : "freezer.state";
  const char *d = dir_with(dirs, n, file);
  char v[64] = "";
  if (!d)
    return false;
  return cg_read(d, file, v, sizeof v) > 0 && (strcmp(v, "FROZEN") == 0 || strcmp(v, "1") == 0);
}

/* rmdir each dir; processes still inside (the rest of a pid namespace dying) are killed and waited for */
int cg_remove(char **dirs, size_t n)
{
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    int tries = 0;
    while (rmdir(dirs[i]) < 0 && errno == EBUSY && tries++ < 300) {
      pid_t *pids = NULL;
      size_t np = 0;
      char *one[] = { dirs[i] };
      cg_pids(one, 1, &pids, &np);
      for (size_t k = 0; k < np; k++)
        kill(pids[k], SIGKILL);
      free(pids);
      if (tries == 1)
        cg_freeze(dirs, n, false); /* frozen tasks cannot die */
      usleep(10000);
    }
    if (access(dirs[i], F_OK) == 0)
      rc = fail(errno, "cgroup: remove %s", dirs[i]);
  }
  return rc;
}
