/*
 * The cgroup v2 backend: one dir, values converted as runc's fs2 does.
 * Each controller is checked in the dir's cgroup.controllers first, so a
 * controller the parent did not hand down is an error that says so.
 */
#include "resources.h"
#include "../init/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* the controller is listed in DIR/cgroup.controllers */
static int need(const char *dir, const char *controller)
{
  char list[1024];
  if (cg_read(dir, "cgroup.controllers", list, sizeof list) < 0)
    return fail(errno, "cgroup v2: read %s/cgroup.controllers", dir);
  size_t len = strlen(controller);
  for (char *p = list; (p = strstr(p, controller)); p += len)
    if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
      return 0;
  return fail(0, "cgroup v2: the %s controller is not available in %s (the parent must hold no process and list +%s in its cgroup.subtree_control)",
              controller, dir, controller);
}

static int put_num(const char *dir, const char *file, int64_t v)
{
  char buf[32];
  if (v < 0)
    snprintf(buf, sizeof buf, "max");
  else
    snprintf(buf, sizeof buf, "%lld", (long long)v);
  return cg_write(dir, file, buf);
}

static int memory(const struct oci_resources *r, const char *dir)
{
  if (!r->has_mem_limit && !r->has_mem_reservation && !r->has_mem_swap && !r->has_swappiness)
    return 0;
  if (need(dir, "memory") < 0)
    return -1;
  if (r->has_swappiness)
    return fail(0, "cgroup v2: memory.swappiness has no cgroup v2 equivalent");
  int64_t mem = r->has_mem_limit ? r->mem_limit : 0;
  if (r->has_mem_swap || mem == -1) {
    int64_t swap = cg_swap_v2(r->has_mem_swap ? r->mem_swap : 0, mem, r->has_mem_limit);
    if (swap == -2)
      return -1;
    /* swap == memory+swap: no swap at all ("0"); 0 from an unset swap: leave the file alone */
    bool write = swap != 0 || (r->has_mem_swap && r->mem_swap > 0);
    if (write && !cg_has(dir, "memory.swap.max")) {
      if (swap > 0)
        return fail(0, "cgroup v2: no memory.swap.max in %s (swap accounting is off in this kernel)", dir);
    } else if (write && put_num(dir, "memory.swap.max", swap) < 0)
      return -1;
  }
  if (mem != 0 && put_num(dir, "memory.max", mem) < 0)
    return -1;
  if (r->has_mem_reservation && r->mem_reservation != 0 && put_num(dir, "memory.low", r->mem_reservation) < 0)
    return -1;
  /* disableOOMKiller has no v2 file: runc ignores it too (memory.oom.group is another thing) */
  return 0;
}

static int cpu(const struct oci_resources *r, const char *dir)
{
  bool weight = r->has_cpu_shares && r->cpu_shares;
  bool max = (r->has_cpu_quota && r->cpu_quota) || (r->has_cpu_period && r->cpu_period);
  if (!weight && !max)
    return 0;
  if (need(dir, "cpu") < 0)
    return -1;
  char buf[64];
  if (weight) {
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)cg_shares_to_weight(r->cpu_shares));
    if (cg_write(dir, "cpu.weight", buf) < 0)
      return -1;
  }
  if (max) {
    /* runc: "max" unless a positive quota; the period only when given (the kernel keeps its own) */
    int n = r->has_cpu_quota && r->cpu_quota > 0 ? snprintf(buf, sizeof buf, "%lld", (long long)r->cpu_quota) : snprintf(buf, sizeof buf, "max");
    if (r->has_cpu_period && r->cpu_period)
      snprintf(buf + n, sizeof buf - (size_t)n, " %llu", (unsigned long long)r->cpu_period);
    if (cg_write(dir, "cpu.max", buf) < 0)
      return -1;
  }
  return 0;
}

static int cpuset(const struct oci_resources *r, const char *dir)
{
  bool cpus = r->cpus && *r->cpus, mems = r->mems && *r->mems;
  if (!cpus && !mems)
    return 0;
  if (need(dir, "cpuset") < 0)
    return -1;
  if (cpus && cg_write(dir, "cpuset.cpus", r->cpus) < 0)
    return -1;
  return mems ? cg_write(dir, "cpuset.mems", r->mems) : 0;
}

static int io(const struct oci_resources *r, const char *dir)
{
  static const char *const KEY[THR_KINDS] = { "rbps", "wbps", "riops", "wiops" };
  size_t nthr = 0;
  for (int k = 0; k < THR_KINDS; k++)
    nthr += r->nthrottle[k];
  bool weight = r->has_blkio_weight && r->blkio_weight;
  if (!weight && !nthr)
    return 0;
  if (need(dir, "io") < 0)
    return -1;
  char buf[96];
  if (weight) {
    /* runc: BFQ's file takes the blkio weight as is; io.weight its 1..10000 conversion */
    bool bfq = cg_has(dir, "io.bfq.weight");
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(bfq ? r->blkio_weight : cg_blkio_to_io_weight(r->blkio_weight)));
    if (cg_write(dir, bfq ? "io.bfq.weight" : "io.weight", buf) < 0)
      return -1;
  }
  for (int k = 0; k < THR_KINDS; k++)
    for (size_t i = 0; i < r->nthrottle[k]; i++) {
      const struct oci_throttle *t = &r->throttle[k][i];
      snprintf(buf, sizeof buf, "%lld:%lld %s=%llu", (long long)t->major, (long long)t->minor, KEY[k], (unsigned long long)t->rate);
      if (cg_write(dir, "io.max", buf) < 0)
        return -1;
    }
  return 0;
}

int cg_apply_v2(const struct oci_resources *r, const char *dir)
{
  if (memory(r, dir) < 0 || cpu(r, dir) < 0 || cpuset(r, dir) < 0 || io(r, dir) < 0)
    return -1;
  if (r->has_pids && (need(dir, "pids") < 0 || put_num(dir, "pids.max", r->pids_limit <= 0 ? -1 : r->pids_limit) < 0))
    return -1;
  if (r->ndevices)
    return fail(0, "linux.resources.devices on cgroup v2 (a BPF device program) is not supported yet");
  return 0;
}
