/*
 * tsrun-runtime's side of the cgroup manager (native/cgroup/manager.c, the one
 * tsrun and tsrun-init use too): the container's cgroup for linux.cgroupsPath
 * (cgroupfs rules; "/ID" when absent), in every mounted hierarchy as runc,
 * made with its resources before the init is forked; the init joins it itself
 * (child_join_cgroup). v1 or v2 is the host's (cg_v2_host).
 */
#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  bool v2;
  if (cg_resolve(o->cgroups_path && *o->cgroups_path ? o->cgroups_path : def, true, &v2, dirs, NULL, n) < 0)
    return -1;
  int rc = cg_make(*dirs, *n, v2, &o->res);
  if (rc == 0)
    rc = rt_cg_apply(&o->res, *dirs, *n, v2); /* native/cgroup/: the one resources → files mapping */
  if (rc < 0) {
    char saved[sizeof oci_err.msg];
    memcpy(saved, oci_err.msg, sizeof saved);
    rt_cg_remove(*dirs, *n);
    memcpy(oci_err.msg, saved, sizeof saved);
  }
  return rc;
}

char **cg_procs_files(char **dirs, size_t n)
{
  char **files = calloc(n + 1, sizeof *files);
  for (size_t i = 0; files && i < n; i++)
    if (asprintf(&files[i], "%s/cgroup.procs", dirs[i]) < 0)
      return NULL;
  return files;
}

/* runc's paused: v1 freezer.state FROZEN, v2 cgroup.freeze 1 */
bool rt_cg_paused(char **dirs, size_t n)
{
  bool v2 = cg_v2_host();
  return (v2 ? cg_freeze_requested(dirs, n, v2) : cg_frozen(dirs, n, v2)) == 1;
}

int rt_cg_freeze(char **dirs, size_t n, bool freeze)
{
  return cg_freeze(dirs, n, cg_v2_host(), freeze, 1000);
}

/* rmdir each dir; processes still inside (the rest of a pid namespace dying) are killed and waited for */
int rt_cg_remove(char **dirs, size_t n)
{
  return cg_remove(dirs, n, cg_v2_host(), 3000, true);
}
