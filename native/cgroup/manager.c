/*
 * The cgroup manager (manager.h): cgroupfs paths on v1 and v2, shared by
 * tsrun (addon), tsrun-init and tsrun-runtime. See manager.h for the contract.
 * This half makes, lists, freezes, kills and removes; resolve.c finds the dirs.
 */
#include "manager.h"
#include "../init/error.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mkdir -p as Node's recursive mkdir: the leaf first, its parents only on ENOENT (one syscall when they exist) */
static int mkdir_p(char *d)
{
  if (mkdir(d, 0755) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return fail(errno, "cgroup: mkdir %s", d);
  char *slash = strrchr(d, '/');
  if (!slash || slash == d)
    return fail(ENOENT, "cgroup: mkdir %s", d);
  *slash = '\0';
  int rc = mkdir_p(d);
  *slash = '/';
  if (rc < 0)
    return -1;
  if (mkdir(d, 0755) < 0 && errno != EEXIST)
    return fail(errno, "cgroup: mkdir %s", d);
  return 0;
}

/* v1 cpuset: a new dir starts with empty cpus and mems; fill it (and empty ancestors) from the nearest ancestor with values */
static int init_cpuset(const char *dir)
{
  static const char *const FILES[] = { "cpuset.cpus", "cpuset.mems" };
  for (int k = 0; k < 2; k++) {
    char v[4096];
    if (cg_read(dir, FILES[k], v, sizeof v) < 0)
      return 0; /* not the cpuset hierarchy */
    if (*v)
      continue;
    char anc[PATH_MAX];
    snprintf(anc, sizeof anc, "%s", dir);
    size_t depth = 0;
    for (char *s; (s = strrchr(anc, '/')) && s > anc;) {
      *s = '\0';
      depth++;
      if (cg_read(anc, FILES[k], v, sizeof v) < 0 || *v)
        break;
    }
    if (!*v)
      return fail(ENOENT, "cgroup: no ancestor of %s has %s", dir, FILES[k]);
    /* write top-down: the dirs between the ancestor and dir were empty too */
    for (size_t up = depth; up-- > 0;) {
      char d[PATH_MAX];
      snprintf(d, sizeof d, "%s", dir);
      for (size_t i = 0; i < up; i++)
        *strrchr(d, '/') = '\0';
      if (cg_write(d, FILES[k], v) < 0)
        return -1;
    }
  }
  return 0;
}

bool cg_limits_given(const struct oci_resources *r)
{
  bool thr = false;
  for (int k = 0; k < THR_KINDS; k++)
    thr |= r->nthrottle[k] > 0;
  return r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_swappiness || r->disable_oom_killer ||
         r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->cpus || r->mems || r->has_pids || r->has_blkio_weight || thr;
}

/* v2: hand the controllers r needs down to dir (each cgroup above must list them in cgroup.subtree_control) */
void cg_enable_v2(const char *dir, const struct oci_resources *r)
{
  const char *want[5];
  size_t nw = 0;
  if (r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_swappiness || r->disable_oom_killer)
    want[nw++] = "memory";
  if (r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period)
    want[nw++] = "cpu";
  if (r->cpus || r->mems)
    want[nw++] = "cpuset";
  if (r->has_pids)
    want[nw++] = "pids";
  bool thr = false;
  for (int k = 0; k < THR_KINDS; k++)
    thr |= r->nthrottle[k] > 0;
  if (r->has_blkio_weight || thr)
    want[nw++] = "io";
  if (!nw)
    return;
  /* the chain of ancestors that have a subtree_control, top-down */
  char chain[32][PATH_MAX];
  size_t nc = 0;
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s", dir);
  for (char *s; nc < 32 && (s = strrchr(d, '/')) && s > d;) {
    *s = '\0';
    if (!cg_has(d, "cgroup.subtree_control"))
      break;
    snprintf(chain[nc++], PATH_MAX, "%s", d);
  }
  while (nc-- > 0) {
    char enabled[1024];
    if (cg_read(chain[nc], "cgroup.subtree_control", enabled, sizeof enabled) < 0)
      return;
    char add[128] = "";
    for (size_t i = 0; i < nw; i++) {
      char padded[1100];
      snprintf(padded, sizeof padded, " %s ", enabled);
      char needle[32];
      snprintf(needle, sizeof needle, " %s ", want[i]);
      if (!strstr(padded, needle))
        snprintf(add + strlen(add), sizeof add - strlen(add), "%s+%s", *add ? " " : "", want[i]);
    }
    /* EBUSY (processes in it) or ENOENT (not available): cg_apply names the missing controller */
    if (*add && cg_write(chain[nc], "cgroup.subtree_control", add) < 0)
      return;
  }
}

int cg_make(char **dirs, size_t n, bool v2, const struct oci_resources *r)
{
  for (size_t i = 0; i < n; i++) {
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", dirs[i]);
    if (mkdir_p(d) < 0 || (!v2 && init_cpuset(dirs[i]) < 0))
      return -1;
  }
  if (v2 && n && r)
    cg_enable_v2(dirs[0], r);
  return 0;
}

/* The dir that has this file: v1, the hierarchy with that controller; v2, the one dir. NULL when none. */
static const char *dir_with(char **dirs, size_t n, const char *file)
{
  for (size_t i = 0; i < n; i++)
    if (cg_has(dirs[i], file))
      return dirs[i];
  return NULL;
}

int cg_pids(char **dirs, size_t n, pid_t **pids, size_t *npids)
{
  *pids = NULL;
  *npids = 0;
  for (size_t i = 0; i < n; i++) {
    char f[PATH_MAX + 32];
    snprintf(f, sizeof f, "%s/cgroup.procs", dirs[i]);
    FILE *fp = fopen(f, "re");
    if (!fp) {
      if (errno == ENOENT)
        continue;
      return fail(errno, "read %s", f);
    }
    int pid;
    while (fscanf(fp, "%d", &pid) == 1) {
      bool seen = false;
      for (size_t k = 0; k < *npids && !seen; k++)
        seen = (*pids)[k] == pid;
      if (seen)
        continue;
      pid_t *p = cg_grow(*pids, npids, sizeof **pids);
      if (!p) {
        fclose(fp);
        return fail(ENOMEM, "cgroup pids");
      }
      *pids = p;
      p[*npids - 1] = pid;
    }
    fclose(fp);
  }
  return 0;
}

static void sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *freezer_dir(char **dirs, size_t n, bool v2)
{
  if (v2)
    return n && cg_has(dirs[0], "cgroup.freeze") ? dirs[0] : NULL;
  return dir_with(dirs, n, "freezer.state");
}

int cg_frozen(char **dirs, size_t n, bool v2)
{
  const char *d = freezer_dir(dirs, n, v2);
  if (!d)
    return -1;
  if (!v2) {
    char v[64];
    return cg_read(d, "freezer.state", v, sizeof v) < 0 ? -1 : strcmp(v, "FROZEN") == 0;
  }
  char path[PATH_MAX + 32], line[256];
  snprintf(path, sizeof path, "%s/cgroup.events", d);
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  int frozen = 0;
  while (fgets(line, sizeof line, f))
    if (strcmp(line, "frozen 1\n") == 0 || strcmp(line, "frozen 1") == 0)
      frozen = 1;
  fclose(f);
  return frozen;
}

int cg_freeze_requested(char **dirs, size_t n, bool v2)
{
  const char *d = freezer_dir(dirs, n, v2);
  char v[64];
  if (!d || cg_read(d, v2 ? "cgroup.freeze" : "freezer.state", v, sizeof v) < 0)
    return -1;
  return v2 ? strcmp(v, "1") == 0 : strcmp(v, "THAWED") != 0;
}

int cg_freeze(char **dirs, size_t n, bool v2, bool freeze, int timeout_ms)
{
  const char *d = freezer_dir(dirs, n, v2);
  if (!d)
    return freeze ? fail(ENOENT, "cgroup: no freezer for %s", n ? dirs[0] : "?") : 0;
  const char *file = v2 ? "cgroup.freeze" : "freezer.state";
  if (!freeze)
    return cg_write(d, file, v2 ? "0" : "THAWED");
  long deadline = now_ms() + timeout_ms;
  for (int i = 0;; i++) {
    /* v1 can stay FREEZING while a task is in uninterruptible sleep; writing FROZEN again retries */
    if (cg_write(d, file, v2 ? "1" : "FROZEN") < 0)
      return -1;
    int frozen = cg_frozen(dirs, n, v2);
    if (frozen == 1)
      return 0;
    if (frozen < 0 || now_ms() > deadline)
      break;
    sleep_ms(i < 10 ? 1 : 10);
  }
  cg_write(d, file, v2 ? "0" : "THAWED");
  return fail(ETIMEDOUT, "cgroup: freezing %s did not settle", d);
}

int cg_kill_all(char **dirs, size_t n, bool v2, int sig)
{
  if (v2 && sig == SIGKILL && n && cg_has(dirs[0], "cgroup.kill"))
    return cg_write(dirs[0], "cgroup.kill", "1");
  bool exists = false;
  for (size_t i = 0; i < n && !exists; i++)
    exists = access(dirs[i], F_OK) == 0;
  if (!exists)
    return 0;
  bool was_frozen = cg_frozen(dirs, n, v2) == 1;
  bool frozen = cg_freeze(dirs, n, v2, true, 5000) == 0; /* no freezer: signal anyway, racing with forks */
  pid_t *pids = NULL;
  size_t np = 0;
  int rc = cg_pids(dirs, n, &pids, &np);
  for (size_t i = 0; rc == 0 && i < np; i++)
    if (kill(pids[i], sig) < 0 && errno != ESRCH)
      rc = fail(errno, "kill %d", (int)pids[i]);
  free(pids);
  if (frozen && (!was_frozen || sig == SIGKILL) && cg_freeze(dirs, n, v2, false, 0) < 0 && rc == 0)
    rc = -1;
  return rc;
}

int cg_remove(char **dirs, size_t n, bool v2, int timeout_ms, bool kill_rest)
{
  long deadline = now_ms() + timeout_ms;
  for (size_t i = 0; i < n; i++) {
    for (int tries = 0; rmdir(dirs[i]) < 0; tries++) {
      if (errno == ENOENT)
        break;
      if (errno != EBUSY || now_ms() > deadline)
        return fail(errno, "cannot remove cgroup %s", dirs[i]);
      if (kill_rest) {
        pid_t *pids = NULL;
        size_t np = 0;
        char *one[] = { dirs[i] };
        cg_pids(one, 1, &pids, &np);
        for (size_t k = 0; k < np; k++)
          kill(pids[k], SIGKILL);
        free(pids);
        if (tries == 0)
          cg_freeze(dirs, n, v2, false, 0); /* frozen tasks cannot die */
      }
      sleep_ms(kill_rest ? 10 : 20);
    }
  }
  return 0;
}
