/*
 * A container's state: ROOT/ID/ holds state.json (what create recorded),
 * config.json (the bundle's, as created: start and delete read its hooks)
 * and exec.fifo (present while the init waits for start). The directory's
 * flock serialises every verb on the container. The status is never stored:
 * it is read from the kernel each time (refresh), as runc does.
 */
#include "runtime.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int check_id(const char *id)
{
  if (!*id || strlen(id) > 200 || !strcmp(id, ".") || !strcmp(id, ".."))
    return fail(0, "invalid container id: %s", id);
  for (const char *c = id; *c; c++)
    if (!isalnum((unsigned char)*c) && !strchr("_+-.", *c))
      return fail(0, "invalid container id format: %s", id);
  return 0;
}

static int mkdir_p(const char *dir, mode_t mode)
{
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s", dir);
  for (char *c = d + 1;; c++)
    if (*c == '/' || !*c) {
      char was = *c;
      *c = '\0';
      if (mkdir(d, mode) < 0 && errno != EEXIST)
        return fail(errno, "mkdir %s", d);
      if (!(*c = was))
        return 0;
    }
}

static int lock_dir(struct container *c)
{
  c->lockfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c->lockfd < 0)
    return errno == ENOENT ? fail(0, "container does not exist") : fail(errno, "open %s", c->dir);
  if (flock(c->lockfd, LOCK_EX) < 0)
    return fail(errno, "lock %s", c->dir);
  return 0;
}

int container_new(const char *id, struct container *c)
{
  memset(c, 0, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", id);
  snprintf(c->dir, sizeof c->dir, "%s/%s", G.root, id);
  if (mkdir_p(G.root, 0700) < 0)
    return -1;
  if (mkdir(c->dir, 0700) < 0)
    return errno == EEXIST ? fail(0, "container with id exists: %s", id) : fail(errno, "mkdir %s", c->dir);
  if (lock_dir(c) < 0) {
    rmdir(c->dir);
    return -1;
  }
  c->status = "creating";
  return 0;
}

unsigned long long proc_starttime(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* after "(comm)": state is field 3, starttime field 22 */
  char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  char state = p[2];
  if (state == 'Z' || state == 'X')
    return 0; /* exited: a zombie is a stopped container */
  p += 2;
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p)
      p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

int container_pidfd(const struct container *c)
{
  if (c->pid <= 0)
    return -1;
  int fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
  /* checked after the open: the pidfd then names the process whose start time matched */
  if (fd >= 0 && proc_starttime(c->pid) != c->starttime) {
    close(fd);
    return -1;
  }
  return fd;
}

void container_refresh(struct container *c)
{
  char fifo[PATH_MAX + 16];
  snprintf(fifo, sizeof fifo, "%s/exec.fifo", c->dir);
  if (c->pid <= 0 || proc_starttime(c->pid) != c->starttime)
    c->status = "stopped";
  else if (access(fifo, F_OK) == 0)
    c->status = "created";
  else if (rt_cg_paused(c->cgroups, c->ncgroups))
    c->status = "paused";
  else
    c->status = "running";
}

int container_load(const char *id, struct container *c)
{
  memset(c, 0, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", id);
  snprintf(c->dir, sizeof c->dir, "%s/%s", G.root, id);
  if (lock_dir(c) < 0)
    return -1;
  char file[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/state.json", c->dir);
  json_object *s = json_object_from_file(file);
  if (!s) {
    /* a create still in progress (or one that died before recording it) */
    c->status = "creating";
    return 0;
  }
  json_object *v;
  if (json_object_object_get_ex(s, "pid", &v))
    c->pid = json_object_get_int(v);
  if (json_object_object_get_ex(s, "starttime", &v))
    c->starttime = json_object_get_uint64(v);
  if (json_object_object_get_ex(s, "bundle", &v))
    snprintf(c->bundle, sizeof c->bundle, "%s", json_object_get_string(v));
  if (json_object_object_get_ex(s, "created", &v))
    snprintf(c->created, sizeof c->created, "%s", json_object_get_string(v));
  if (json_object_object_get_ex(s, "annotations", &v))
    c->annotations = v;
  if (json_object_object_get_ex(s, "cgroups", &v) && json_object_is_type(v, json_type_array))
    for (size_t i = 0; i < json_object_array_length(v); i++) {
      c->cgroups = grow(c->cgroups, &c->ncgroups, sizeof *c->cgroups);
      c->cgroups[c->ncgroups - 1] = (char *)json_object_get_string(json_object_array_get_idx(v, i));
    }
  container_refresh(c);
  return 0;
}

int container_save(struct container *c)
{
  json_object *s = json_object_new_object();
  json_object_object_add(s, "pid", json_object_new_int(c->pid));
  json_object_object_add(s, "starttime", json_object_new_uint64(c->starttime));
  json_object_object_add(s, "bundle", json_object_new_string(c->bundle));
  json_object_object_add(s, "created", json_object_new_string(c->created));
  json_object *cg = json_object_new_array();
  for (size_t i = 0; i < c->ncgroups; i++)
    json_object_array_add(cg, json_object_new_string(c->cgroups[i]));
  json_object_object_add(s, "cgroups", cg);
  if (c->annotations)
    json_object_object_add(s, "annotations", json_object_get(c->annotations));
  char file[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/state.json", c->dir);
  int rc = write_file(file, json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(s);
  return rc < 0 ? fail(errno, "write %s", file) : 0;
}

void container_remove_dir(struct container *c)
{
  static const char *FILES[] = { "state.json", "config.json", "exec.fifo" };
  for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++) {
    char f[PATH_MAX + 16];
    snprintf(f, sizeof f, "%s/%s", c->dir, FILES[i]);
    unlink(f);
  }
  rmdir(c->dir);
}

char *state_json(const struct container *c, const char *status, bool pretty)
{
  struct oci_state st = { .id = c->id, .status = status, .bundle = c->bundle, .pid = c->pid,
                          .annotations = c->annotations, .rootfs = "", .created = c->created };
  return oci_state_json(&st, pretty);
}

int signal_number(const char *s)
{
  char *end;
  long n = strtol(s, &end, 10);
  if (!*end && n > 0 && n < 65)
    return (int)n;
  const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (int sig = 1; sig < 32; sig++) {
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev && strcasecmp(abbrev, name) == 0)
      return sig;
  }
  return -1;
}

int write_pid_file(const char *file, pid_t pid)
{
  char tmp[PATH_MAX + 32], num[32];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", file, (int)getpid());
  snprintf(num, sizeof num, "%d", (int)pid);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write_all(fd, num, strlen(num)) < 0 || close(fd) < 0 || rename(tmp, file) < 0) {
    int err = errno;
    unlink(tmp);
    return fail(err, "write pid file %s", file);
  }
  return 0;
}

int container_ids(char ***ids, size_t *n)
{
  *n = 0;
  DIR *d = opendir(G.root);
  if (!d)
    return errno == ENOENT ? 0 : fail(errno, "open %s", G.root);
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
      *ids = grow(*ids, n, sizeof **ids);
      (*ids)[*n - 1] = strdup(e->d_name);
    }
  closedir(d);
  return 0;
}
