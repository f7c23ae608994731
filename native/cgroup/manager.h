/*
 * The one cgroup manager of tsrun (through the addon, src/runtime/cgroups.ts),
 * tsrun-init (it makes the container's cgroup from the spec) and tsrun-runtime
 * (native/runtime/): where a cgroupsPath lives, making it, listing, freezing,
 * signalling and removing what is in it, on cgroup v1 (one dir per hierarchy)
 * and v2 (one dir). Values of linux.resources go through resources.h's
 * cg_apply. Errors: error.h's fail() and -1.
 *
 * Every function takes the container's dirs and whether they are v2: the
 * version is decided once (cg_resolve) and recorded by the caller, so the
 * same functions work on a fake tree (the unit tests) as on the kernel's.
 */
#ifndef TSRUN_CG_MANAGER_H
#define TSRUN_CG_MANAGER_H

#include "resources.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Is /sys/fs/cgroup the cgroup2 hierarchy (a v2-only host)? */
bool cg_v2_host(void);

/*
 * linux.cgroupsPath → the container's dirs, nothing made (runc's cgroupfs rules):
 * absolute from each hierarchy's root, relative from this process's own cgroup
 * in that hierarchy. v1: one dir per mounted hierarchy below /sys/fs/cgroup
 * (all: every one, as runc; else only those with a controller tsrun uses: pids,
 * memory, cpu, cpuacct, freezer, devices, blkio, cpuset); v2: the one dir.
 * ctrls (may be NULL): each dir's controllers as /proc/self/cgroup lists them
 * ("cpu,cpuacct"; "" on v2). Both malloc'd (free with cg_free_dirs).
 */
int cg_resolve(const char *path, bool all, bool *v2, char ***dirs, char ***ctrls, size_t *n);
void cg_free_dirs(char **dirs, size_t n);
/* realloc arr to *n + 1 elements of size bytes and count it; NULL (arr kept) when out of memory */
void *cg_grow(void *arr, size_t *n, size_t size);

/*
 * mkdir -p of each dir. v1: a new cpuset dir (empty cpus/mems: nothing could join it)
 * gets the nearest ancestor's values. v2: the controllers r needs are enabled in
 * cgroup.subtree_control on the way down (a refusal is left for cg_apply to name).
 */
int cg_make(char **dirs, size_t n, bool v2, const struct oci_resources *r);
/* does r hold a limit (anything but device rules)? */
bool cg_limits_given(const struct oci_resources *r);
/* the v2 part of cg_make alone (update: new limits may need new controllers) */
void cg_enable_v2(const char *dir, const struct oci_resources *r);

/* The PIDs in the cgroup (the union over v1 hierarchies), malloc'd. */
int cg_pids(char **dirs, size_t n, pid_t **pids, size_t *npids);

/* Freeze and wait until the kernel says frozen (a freeze that does not settle in
   timeout_ms is undone and fails), or thaw. No freezer: ENOENT. */
int cg_freeze(char **dirs, size_t n, bool v2, bool freeze, int timeout_ms);
/* 1 frozen, 0 not, -1 no freezer (or it cannot be read) */
int cg_frozen(char **dirs, size_t n, bool v2);
/* 1 when a freeze was asked for (v1 FREEZING or FROZEN, v2 cgroup.freeze 1), 0 not, -1 no freezer */
int cg_freeze_requested(char **dirs, size_t n, bool v2);

/*
 * Signal every process in the cgroup. v2 SIGKILL: cgroup.kill where the kernel has it.
 * Else frozen first (so nothing forks between listing and signalling) and thawed
 * after, unless it was frozen before and the signal is not SIGKILL (a paused
 * container stays paused; SIGKILL must thaw or nothing dies).
 */
int cg_kill_all(char **dirs, size_t n, bool v2, int sig);

/*
 * rmdir each dir (a missing one is fine). While one is busy (v1 may still count a
 * dying task) it retries for timeout_ms; with `kill`, what is still inside is
 * SIGKILLed (and thawed) first (tsrun-runtime's delete of a pid namespace).
 */
int cg_remove(char **dirs, size_t n, bool v2, int timeout_ms, bool kill);

#endif
