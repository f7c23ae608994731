/* linux.resources → struct oci_resources (strict: a wrong type is a one-line error). */
#include "resources.h"
#include "../init/error.h"

#include <stdio.h>
#include <string.h>

static const char *const THROTTLE_KEYS[THR_KINDS] = { "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };

static int read_blkio(json_object *b, struct oci_resources *r)
{
  if (jget_u64(b, "weight", "linux.resources.blockIO.", &r->has_blkio_weight, &r->blkio_weight) < 0)
    return -1;
  if (r->has_blkio_weight && r->blkio_weight && (r->blkio_weight < 10 || r->blkio_weight > 1000))
    return fail(0, "config.json: linux.resources.blockIO.weight %llu is not in 10..1000", (unsigned long long)r->blkio_weight);
  for (int k = 0; k < THR_KINDS; k++) {
    json_object *a;
    if (jget_arr(b, THROTTLE_KEYS[k], "linux.resources.blockIO.", &a) < 0)
      return -1;
    for (size_t i = 0; a && i < json_object_array_length(a); i++) {
      json_object *d = json_object_array_get_idx(a, i);
      bool hmaj = false, hmin = false, hrate = false;
      struct oci_throttle t = { 0, 0, 0 };
      if (jget_i64(d, "major", "linux.resources.blockIO.throttle[].", &hmaj, &t.major) < 0 ||
          jget_i64(d, "minor", "linux.resources.blockIO.throttle[].", &hmin, &t.minor) < 0 ||
          jget_u64(d, "rate", "linux.resources.blockIO.throttle[].", &hrate, &t.rate) < 0)
        return -1;
      if (!hmaj || !hmin || t.major < 0 || t.minor < 0)
        return fail(0, "config.json: linux.resources.blockIO.%s[] needs major and minor", THROTTLE_KEYS[k]);
      r->throttle[k] = grow(r->throttle[k], &r->nthrottle[k], sizeof *r->throttle[k]);
      r->throttle[k][r->nthrottle[k] - 1] = t;
    }
  }
  return 0;
}

static int read_dev_rules(json_object *a, struct oci_resources *r)
{
  for (size_t i = 0; a && i < json_object_array_length(a); i++) {
    json_object *d = json_object_array_get_idx(a, i);
    bool allow = false, hmaj = false, hmin = false;
    char *type = NULL, *access = NULL;
    int64_t major = -1, minor = -1;
    if (jget_bool(d, "allow", "linux.resources.devices[].", &allow) < 0 || jget_str(d, "type", "linux.resources.devices[].", &type) < 0 ||
        jget_str(d, "access", "linux.resources.devices[].", &access) < 0 || jget_i64(d, "major", "linux.resources.devices[].", &hmaj, &major) < 0 ||
        jget_i64(d, "minor", "linux.resources.devices[].", &hmin, &minor) < 0)
      return -1;
    char t = type && *type ? type[0] : 'a';
    if ((t != 'a' && t != 'c' && t != 'b') || (type && strlen(type) > 1))
      return fail(0, "config.json: linux.resources.devices[].type %s is not a, c or b", type);
    if (access && (strlen(access) > 3 || strspn(access, "rwm") != strlen(access)))
      return fail(0, "config.json: linux.resources.devices[].access %s is not of r, w, m", access);
    r->devices = grow(r->devices, &r->ndevices, sizeof *r->devices);
    struct oci_dev_rule *rule = &r->devices[r->ndevices - 1];
    *rule = (struct oci_dev_rule){ allow, t, hmaj ? major : -1, hmin ? minor : -1, "" };
    snprintf(rule->access, sizeof rule->access, "%s", access && *access ? access : "rwm");
  }
  return 0;
}

int spec_read_resources(json_object *res, struct oci_resources *r)
{
  json_object *mem, *cpu, *pids, *devs, *blkio;
  if (jget_obj(res, "memory", "linux.resources.", &mem) < 0 || jget_obj(res, "cpu", "linux.resources.", &cpu) < 0 ||
      jget_obj(res, "pids", "linux.resources.", &pids) < 0 || jget_arr(res, "devices", "linux.resources.", &devs) < 0 ||
      jget_obj(res, "blockIO", "linux.resources.", &blkio) < 0)
    return -1;
  int64_t kernel = 0;
  if (mem && jget_i64(mem, "kernel", "linux.resources.memory.", &r->has_kernel, &kernel) < 0)
    return -1; /* read, and ignored as runc 1.1 ignores it (kmem accounting is gone from cgroup v2 and deprecated in v1) */
  if (mem && (jget_i64(mem, "limit", "linux.resources.memory.", &r->has_mem_limit, &r->mem_limit) < 0 ||
              jget_i64(mem, "reservation", "linux.resources.memory.", &r->has_mem_reservation, &r->mem_reservation) < 0 ||
              jget_i64(mem, "swap", "linux.resources.memory.", &r->has_mem_swap, &r->mem_swap) < 0 ||
              jget_u64(mem, "swappiness", "linux.resources.memory.", &r->has_swappiness, &r->swappiness) < 0 ||
              jget_bool(mem, "disableOOMKiller", "linux.resources.memory.", &r->disable_oom_killer) < 0))
    return -1;
  if (cpu && (jget_u64(cpu, "shares", "linux.resources.cpu.", &r->has_cpu_shares, &r->cpu_shares) < 0 ||
              jget_i64(cpu, "quota", "linux.resources.cpu.", &r->has_cpu_quota, &r->cpu_quota) < 0 ||
              jget_u64(cpu, "period", "linux.resources.cpu.", &r->has_cpu_period, &r->cpu_period) < 0 ||
              jget_str(cpu, "cpus", "linux.resources.cpu.", &r->cpus) < 0 || jget_str(cpu, "mems", "linux.resources.cpu.", &r->mems) < 0))
    return -1;
  if (r->has_swappiness && r->swappiness > 100)
    return fail(0, "config.json: linux.resources.memory.swappiness must be 0..100");
  if (pids && jget_i64(pids, "limit", "linux.resources.pids.", &r->has_pids, &r->pids_limit) < 0)
    return -1;
  if (blkio && read_blkio(blkio, r) < 0)
    return -1;
  return read_dev_rules(devs, r);
}

