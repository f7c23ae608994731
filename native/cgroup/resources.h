/*
 * OCI linux.resources → cgroup files: the one implementation of the value
 * mapping, used by tsrun-runtime (create, update --resources) and by tsrun
 * through the addon (run, update). Values map as runc maps them (runc 1.1
 * libcontainer/cgroups/fs and fs2): v1 writes each controller's own file; v2
 * converts (cpu.weight from shares, cpu.max from quota/period, memory.swap.max
 * from swap minus memory, io.weight from the blkio weight).
 *
 * The dirs are the container's cgroup: one per mounted v1 hierarchy, or the
 * one v2 dir. A value whose controller is missing (v1: hierarchy not mounted;
 * v2: controller not enabled for the dir) is an error naming the controller,
 * never a silent skip.
 */
#ifndef TSRUN_CG_RESOURCES_H
#define TSRUN_CG_RESOURCES_H

#include "../init/jget.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oci_dev_rule {
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1: any */
  char access[4];
};

/* linux.resources.blockIO.throttle*Device[] */
struct oci_throttle {
  int64_t major, minor;
  uint64_t rate;
};
enum throttle_kind { THR_READ_BPS, THR_WRITE_BPS, THR_READ_IOPS, THR_WRITE_IOPS, THR_KINDS };

/* linux.resources; has_* say which were given */
struct oci_resources {
  bool has_mem_limit, has_mem_reservation, has_mem_swap, has_pids, has_cpu_shares, has_cpu_quota, has_cpu_period, has_swappiness;
  bool disable_oom_killer, has_kernel;
  uint64_t swappiness;
  int64_t mem_limit, mem_reservation, mem_swap, pids_limit, cpu_quota;
  uint64_t cpu_shares, cpu_period;
  char *cpus, *mems;
  struct oci_dev_rule *devices;
  size_t ndevices;
  bool has_blkio_weight;
  uint64_t blkio_weight;
  struct oci_throttle *throttle[THR_KINDS];
  size_t nthrottle[THR_KINDS];
};

/* resources_read.c: a linux.resources object (config.json, update --resources, tsrun's JSON) */
int spec_read_resources(json_object *res, struct oci_resources *r);

/* runc's conversions (utils.go), shared by the v2 backend and its tests */
uint64_t cg_shares_to_weight(uint64_t shares);
uint64_t cg_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max from the spec's memory+swap: -1 max, 0 unset; -2 (and oci_err) when invalid */
int64_t cg_swap_v2(int64_t swap, int64_t memory, bool has_memory);

/* resources_v1.c / resources_v2.c: write r into the container's dirs */
int cg_apply_v1(const struct oci_resources *r, char **dirs, size_t n);
int cg_apply_v2(const struct oci_resources *r, const char *dir);
/* either backend */
int cg_apply(const struct oci_resources *r, char **dirs, size_t n, bool v2);

/* resources_files.c: small file helpers of both backends */
int cg_write(const char *dir, const char *file, const char *value);
int cg_read(const char *dir, const char *file, char *buf, size_t len);
bool cg_has(const char *dir, const char *file);

#endif
