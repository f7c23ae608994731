/*
 * The cgroup manager's first half (manager.h): where a container's cgroup is.
 * linux.cgroupsPath → one dir per v1 hierarchy, or the v2 dir, from the host's
 * mounts and /proc/self/cgroup; nothing is made here (manager.c makes, freezes,
 * kills and removes).
 */
#include "manager.h"
#include "../init/error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CGROUP2_SUPER_MAGIC_ 0x63677270

bool cg_v2_host(void)
{
  struct statfs sf;
  return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC_;
}

void cg_free_dirs(char **dirs, size_t n)
{
  for (size_t i = 0; dirs && i < n; i++)
    free(dirs[i]);
  free(dirs);
}

void *cg_grow(void *arr, size_t *n, size_t size)
{
  void *p = realloc(arr, (*n + 1) * size);
  if (p)
    (*n)++;
  return p;
}

/* /proc/self/cgroup, read once per resolve (only a relative cgroupsPath needs it) */
static int read_own(char *buf, size_t len)
{
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f)
    return fail(errno, "read /proc/self/cgroup");
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
  return 0;
}

/* The cgroup of this process in the hierarchy with these controllers ("" for v2), from /proc/self/cgroup's text. */
static int own_cgroup(const char *text, const char *controllers, char *out, size_t len)
{
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    const char *a = memchr(line, ':', n), *b = a ? memchr(a + 1, ':', n - (size_t)(a + 1 - line)) : NULL;
    if (b && (size_t)(b - a - 1) == strlen(controllers) && strncmp(a + 1, controllers, (size_t)(b - a - 1)) == 0) {
      snprintf(out, len, "%.*s", (int)(n - (size_t)(b + 1 - line)), b + 1);
      return 0;
    }
    line = end ? end + 1 : NULL;
  }
  return fail(ENOENT, "own cgroup for %s", *controllers ? controllers : "cgroup2");
}

/* the controllers of a v1 mount as /proc/self/cgroup names them: its super options minus flags */
static void v1_controllers(char *super, char *out, size_t len)
{
  *out = '\0';
  char *save, *tok = strtok_r(super, ",", &save);
  for (; tok; tok = strtok_r(NULL, ",", &save))
    if (strcmp(tok, "rw") && strcmp(tok, "ro") && strncmp(tok, "release_agent", 13) && strcmp(tok, "clone_children") &&
        strcmp(tok, "noprefix") && strncmp(tok, "xattr", 5) && strcmp(tok, "cpuset_v2_mode"))
      snprintf(out + strlen(out), len - strlen(out), "%s%s", *out ? "," : "", tok);
}

/* does a v1 hierarchy carry one of the controllers tsrun uses (not a named one, not net_cls …) */
static bool tsrun_hierarchy(const char *controllers)
{
  static const char *const USED[] = { "pids", "memory", "cpu", "cpuacct", "freezer", "devices", "blkio", "cpuset" };
  char copy[256], *save;
  snprintf(copy, sizeof copy, "%s", controllers);
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    for (size_t i = 0; i < sizeof USED / sizeof *USED; i++)
      if (strcmp(tok, USED[i]) == 0)
        return true;
  return false;
}

int cg_resolve(const char *path, bool all, bool *v2, char ***dirs, char ***ctrls, size_t *n)
{
  *dirs = NULL;
  *n = 0;
  if (ctrls)
    *ctrls = NULL;
  if (!path || !*path || strstr(path, "..") || strchr(path, ':'))
    return fail(0, "cgroupsPath %s: only a cgroupfs path is supported (no '..', no systemd slice:prefix:name)", path ? path : "");
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return fail(errno, "read /proc/self/mountinfo");
  char line[4096], own_text[8192] = "";
  *v2 = cg_v2_host();
  int rc = path[0] == '/' ? 0 : read_own(own_text, sizeof own_text);
  while (rc == 0 && fgets(line, sizeof line, f)) {
    char mp[1024], fstype[64], super[1024];
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1 || sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
      continue;
    char controllers[256] = "";
    if (*v2) {
      if (strcmp(fstype, "cgroup2") != 0 || strcmp(mp, "/sys/fs/cgroup") != 0)
        continue;
    } else {
      if (strcmp(fstype, "cgroup") != 0 || strncmp(mp, "/sys/fs/cgroup/", 15) != 0)
        continue;
      v1_controllers(super, controllers, sizeof controllers);
      if (!all && !tsrun_hierarchy(controllers))
        continue;
    }
    char rel[PATH_MAX];
    if (path[0] == '/')
      snprintf(rel, sizeof rel, "%s", path + 1);
    else {
      char own[PATH_MAX];
      if (own_cgroup(own_text, controllers, own, sizeof own) < 0) {
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
    /* both arrays hold n slots, NULL until filled (the error path frees what is there) */
    char **d = realloc(*dirs, (*n + 1) * sizeof **dirs);
    if (d)
      *dirs = d;
    char **c = ctrls && d ? realloc(*ctrls, (*n + 1) * sizeof **ctrls) : NULL;
    if (c)
      *ctrls = c;
    if (!d || (ctrls && !c)) {
      rc = fail(ENOMEM, "cgroup");
      break;
    }
    d[*n] = NULL;
    if (c)
      c[*n] = NULL;
    (*n)++;
    size_t len = strlen(rel);
    while (len && rel[len - 1] == '/')
      rel[--len] = '\0';
    if (asprintf(&d[*n - 1], "%s%s%s", mp, *rel ? "/" : "", rel) < 0)
      d[*n - 1] = NULL; /* asprintf leaves it undefined on failure */
    if (c)
      c[*n - 1] = strdup(controllers);
    if (!d[*n - 1] || (c && !c[*n - 1]))
      rc = fail(ENOMEM, "cgroup");
  }
  fclose(f);
  if (rc == 0 && *n == 0)
    rc = fail(ENOENT, "no cgroup hierarchy mounted below /sys/fs/cgroup");
  if (rc < 0) {
    if (ctrls) {
      cg_free_dirs(*ctrls, *n);
      *ctrls = NULL;
    }
    cg_free_dirs(*dirs, *n);
    *dirs = NULL;
    *n = 0;
  }
  return rc;
}
