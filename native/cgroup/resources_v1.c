/*
 * The cgroup v1 backend: one dir per mounted hierarchy; each value goes to
 * the dir of the hierarchy that has its file, as runc's fs backend writes
 * them (memory and swap ordered so the kernel's memsw >= memory check holds
 * while both change; period retried after quota).
 */
#include "resources.h"
#include "../init/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The container's dir in the hierarchy that has this file. */
static const char *dir_with(char **dirs, size_t n, const char *file)
{
  for (size_t i = 0; i < n; i++)
    if (cg_has(dirs[i], file))
      return dirs[i];
  return NULL;
}

static int set(char **dirs, size_t n, const char *controller, const char *file, const char *value)
{
  const char *d = dir_with(dirs, n, file);
  if (!d)
    return fail(0, "cgroup v1: no %s: the %s controller is not mounted or this kernel lacks the file", file, controller);
  return cg_write(d, file, value);
}

static int set_num(char **dirs, size_t n, const char *controller, const char *file, int64_t v)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return set(dirs, n, controller, file, buf);
}

static int memory(const struct oci_resources *r, char **dirs, size_t n)
{
  int64_t mem = r->has_mem_limit ? r->mem_limit : 0, swap = r->has_mem_swap ? r->mem_swap : 0;
  const char *d = dir_with(dirs, n, "memory.limit_in_bytes");
  /* runc: unlimited memory with swap not given means unlimited swap too (when the kernel accounts swap) */
  if (mem == -1 && swap == 0 && d && cg_has(d, "memory.memsw.limit_in_bytes"))
    swap = -1;
  bool swap_first = false;
  if (mem != 0 && swap != 0) {
    char cur[32];
    if (!d || cg_read(d, "memory.limit_in_bytes", cur, sizeof cur) < 0)
      return fail(errno, "cgroup v1: read memory.limit_in_bytes (the memory controller is not mounted?)");
    /* raising: memsw first, or the kernel refuses memory > memsw; lowering: memory first */
    swap_first = swap == -1 || strtoull(cur, NULL, 10) < (uint64_t)swap;
  }
  if (swap_first && set_num(dirs, n, "memory", "memory.memsw.limit_in_bytes", swap) < 0)
    return -1;
  if (mem != 0 && set_num(dirs, n, "memory", "memory.limit_in_bytes", mem) < 0)
    return -1;
  if (!swap_first && swap != 0 && set_num(dirs, n, "memory", "memory.memsw.limit_in_bytes", swap) < 0)
    return -1;
  if (r->has_mem_reservation && r->mem_reservation != 0 && set_num(dirs, n, "memory", "memory.soft_limit_in_bytes", r->mem_reservation) < 0)
    return -1;
  if (r->has_swappiness && set_num(dirs, n, "memory", "memory.swappiness", (int64_t)r->swappiness) < 0)
    return -1;
  if (r->disable_oom_killer && set(dirs, n, "memory", "memory.oom_control", "1") < 0)
    return -1;
  return 0;
}

static int cpu(const struct oci_resources *r, char **dirs, size_t n)
{
  if (r->has_cpu_shares && r->cpu_shares) {
    if (set_num(dirs, n, "cpu", "cpu.shares", (int64_t)r->cpu_shares) < 0)
      return -1;
    /* the kernel clamps to 2..262144: say so rather than keep a value nobody asked for (runc's check) */
    char got[32];
    const char *d = dir_with(dirs, n, "cpu.shares");
    if (cg_read(d, "cpu.shares", got, sizeof got) > 0 && strtoull(got, NULL, 10) != r->cpu_shares)
      return fail(0, "cgroup v1: the %s allowed cpu-shares is %s", r->cpu_shares > strtoull(got, NULL, 10) ? "maximum" : "minimum", got);
  }
  bool period_pending = false;
  if (r->has_cpu_period && r->cpu_period) {
    if (set_num(dirs, n, "cpu", "cpu.cfs_period_us", (int64_t)r->cpu_period) < 0) {
      /* a shorter period can exceed the parent's quota until the new quota is in: retry after it */
      if (oci_err.errnum != EINVAL || !(r->has_cpu_quota && r->cpu_quota))
        return -1;
      period_pending = true;
    }
  }
  if (r->has_cpu_quota && r->cpu_quota) {
    if (set_num(dirs, n, "cpu", "cpu.cfs_quota_us", r->cpu_quota) < 0)
      return -1;
    if (period_pending && set_num(dirs, n, "cpu", "cpu.cfs_period_us", (int64_t)r->cpu_period) < 0)
      return -1;
  }
  if (r->cpus && *r->cpus && set(dirs, n, "cpuset", "cpuset.cpus", r->cpus) < 0)
    return -1;
  if (r->mems && *r->mems && set(dirs, n, "cpuset", "cpuset.mems", r->mems) < 0)
    return -1;
  return 0;
}

static int blkio(const struct oci_resources *r, char **dirs, size_t n)
{
  static const char *const FILE_OF[THR_KINDS] = { "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                                                  "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device" };
  if (r->has_blkio_weight && r->blkio_weight) {
    /* CFQ's file, else BFQ's (runc's order); neither: the I/O scheduler has no weights here */
    const char *file = dir_with(dirs, n, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
    if (!dir_with(dirs, n, file))
      return fail(0, "cgroup v1: no blkio.weight or blkio.bfq.weight: this kernel's I/O schedulers take no blkio weight");
    if (set_num(dirs, n, "blkio", file, (int64_t)r->blkio_weight) < 0)
      return -1;
  }
  for (int k = 0; k < THR_KINDS; k++)
    for (size_t i = 0; i < r->nthrottle[k]; i++) {
      char buf[96];
      const struct oci_throttle *t = &r->throttle[k][i];
      snprintf(buf, sizeof buf, "%lld:%lld %llu", (long long)t->major, (long long)t->minor, (unsigned long long)t->rate);
      if (set(dirs, n, "blkio", FILE_OF[k], buf) < 0)
        return -1;
    }
  return 0;
}

static int devices(const struct oci_resources *r, char **dirs, size_t n)
{
  for (size_t i = 0; i < r->ndevices; i++) {
    const struct oci_dev_rule *d = &r->devices[i];
    char rule[96], maj[24], min[24];
    snprintf(maj, sizeof maj, d->major < 0 ? "*" : "%lld", (long long)d->major);
    snprintf(min, sizeof min, d->minor < 0 ? "*" : "%lld", (long long)d->minor);
    if (d->type == 'a')
      snprintf(rule, sizeof rule, "a");
    else
      snprintf(rule, sizeof rule, "%c %s:%s %s", d->type, maj, min, d->access);
    if (set(dirs, n, "devices", d->allow ? "devices.allow" : "devices.deny", rule) < 0)
      return -1;
  }
  return 0;
}

int cg_apply_v1(const struct oci_resources *r, char **dirs, size_t n)
{
  if (memory(r, dirs, n) < 0 || cpu(r, dirs, n) < 0 || blkio(r, dirs, n) < 0)
    return -1;
  if (r->has_pids) {
    char buf[32] = "max";
    if (r->pids_limit > 0)
      snprintf(buf, sizeof buf, "%lld", (long long)r->pids_limit);
    if (set(dirs, n, "pids", "pids.max", buf) < 0)
      return -1;
  }
  return devices(r, dirs, n);
}
