/*
 * The plan reader. The plan is "key=value\0" records (see src/runtime/plan.ts);
 * list-valued fields repeat their key, and a record with several fields
 * separates them with 0x1f. The reader is strict: an unknown key, a missing
 * field or a malformed number is an error, never a default.
 */
#include "init.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_MAX (16u << 20)

/* Splits s in place on FIELD_SEP; returns the number of fields (at most max). */
static size_t split_on(char *s, char **f, size_t max, char sep)
{
  size_t n = 0;
  f[n++] = s;
  for (char *c = s; *c && n < max; c++)
    if (*c == sep) {
      *c = '\0';
      f[n++] = c + 1;
    }
  return n;
}

static size_t split(char *s, char **f, size_t max)
{
  return split_on(s, f, max, FIELD_SEP);
}

static int num(const char *s, uint64_t *out, int base)
{
  char *end;
  if (!*s)
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

static int snum(const char *s, int64_t *out)
{
  char *end;
  if (!*s)
    return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

/* Appends one element to a growable array. */
static void *push(void *arr, size_t *n, size_t size)
{
  void *p = realloc(arr, (*n + 1) * size);
  if (!p) {
    status_err("plan", ENOMEM, "out of memory");
    _exit(125);
  }
  memset((char *)p + *n * size, 0, size);
  (*n)++;
  return p;
}

#define PUSH_STR(arr, n, v)                                                                        \
  do {                                                                                             \
    arr = push(arr, &n, sizeof *arr);                                                              \
    arr[n - 1] = v;                                                                                \
  } while (0)

static int parse_op(struct plan *p, char *v)
{
  char *f[7];
  size_t n = split(v, f, 7);
  uint64_t a, b, c;
  p->ops = push(p->ops, &p->nops, sizeof *p->ops);
  struct op *o = &p->ops[p->nops - 1];
  switch (f[0][0]) {
  case 'm':
    if (n != 6 || num(f[4], &a, 10))
      return -1;
    o->kind = OP_MOUNT;
    o->src = f[1];
    o->dst = f[2];
    o->fstype = f[3];
    o->flags = a;
    o->data = f[5];
    return 0;
  case 'n':
    if ((n != 5 && n != 7) || num(f[2], &a, 8) || num(f[3], &b, 10) || num(f[4], &c, 10))
      return -1;
    o->kind = OP_MKNOD;
    o->dst = f[1];
    o->mode = a;
    o->major = b;
    o->minor = c;
    if (n == 7) {
      uint64_t u, g;
      if (num(f[5], &u, 10) || num(f[6], &g, 10) || u > 0xfffffffeu || g > 0xfffffffeu)
        return -1;
      o->chown = true;
      o->uid = (unsigned)u;
      o->gid = (unsigned)g;
    }
    return 0;
  case 'l':
    if (n != 3)
      return -1;
    o->kind = OP_SYMLINK;
    o->src = f[1];
    o->dst = f[2];
    return 0;
  case 'k':
  case 'r':
  case 'd':
    if (n != 2)
      return -1;
    o->kind = f[0][0] == 'k' ? OP_MASK : f[0][0] == 'r' ? OP_ROPATH : OP_MKDIR;
    o->dst = f[1];
    return 0;
  }
  return -1;
}

static int parse_rule(struct plan *p, char *v)
{
  char *f[8];
  size_t n = split(v, f, 8);
  uint64_t a;
  if (n < 2 || num(f[0], &a, 10))
    return -1;
  p->rules = push(p->rules, &p->nrules, sizeof *p->rules);
  struct sc_rule *r = &p->rules[p->nrules - 1];
  r->action = (uint32_t)a;
  r->name = f[1];
  for (size_t i = 2; i < n; i++) {
    uint64_t idx, op, v1, v2;
    char *g[4];
    if (split_on(f[i], g, 4, ',') != 4 || num(g[0], &idx, 10) || num(g[1], &op, 10) || num(g[2], &v1, 10) ||
        num(g[3], &v2, 10) || idx > 5)
      return -1;
    r->args[r->nargs++] = (struct sc_arg){ (unsigned)idx, (int)op, v1, v2 };
  }
  return 0;
}

/* "TYPE MAJOR MINOR ACCESS" (0x1f between): a|b|c, a number or * for each of the two, letters of rwm */
static int parse_devrule(struct plan *p, char *v)
{
  char *f[4];
  if (split(v, f, 4) != 4 || strlen(f[0]) != 1 || !strchr("abc", f[0][0]) || !*f[3])
    return -1;
  int nums[2];
  for (int i = 0; i < 2; i++) {
    uint64_t n;
    if (strcmp(f[1 + i], "*") == 0)
      nums[i] = -1;
    else if (num(f[1 + i], &n, 10) || n > 0xfffffff)
      return -1;
    else
      nums[i] = (int)n;
  }
  unsigned access = 0;
  for (const char *c = f[3]; *c; c++) {
    unsigned bit = *c == 'm' ? 1u : *c == 'r' ? 2u : *c == 'w' ? 4u : 0u;
    if (!bit || (access & bit))
      return -1;
    access |= bit;
  }
  p->devrules = push(p->devrules, &p->ndevrules, sizeof *p->devrules);
  p->devrules[p->ndevrules - 1] = (struct devrule){ f[0][0], nums[0], nums[1], access };
  return 0;
}

static int parse_rlimit(struct plan *p, char *v)
{
  char *f[3];
  uint64_t r;
  int64_t s, h;
  if (split(v, f, 3) != 3 || num(f[0], &r, 10) || snum(f[1], &s) || snum(f[2], &h))
    return -1;
  p->rlimits = push(p->rlimits, &p->nrlimits, sizeof *p->rlimits);
  /* -1 means unlimited (RLIM_INFINITY is all ones) */
  p->rlimits[p->nrlimits - 1] = (struct rlim){ (int)r, (uint64_t)s, (uint64_t)h };
  return 0;
}

static int parse_record(struct plan *p, char *k, char *v)
{
  uint64_t n;
#define IS(s) (strcmp(k, s) == 0)
  if (IS("mode")) {
    if (strcmp(v, "run") && strcmp(v, "exec"))
      return -1;
    p->exec_mode = strcmp(v, "exec") == 0;
  } else if (IS("clone")) {
    if (num(v, &n, 10))
      return -1;
    p->clone_flags = (unsigned long)n;
  } else if (IS("rootfs"))
    p->rootfs = v;
  else if (IS("upper"))
    p->upper = v;
  else if (IS("work"))
    p->work = v;
  else if (IS("lower"))
    PUSH_STR(p->lowers, p->nlowers, v);
  else if (IS("ovl"))
    PUSH_STR(p->overlay_opts, p->noverlay_opts, v);
  else if (IS("op"))
    return parse_op(p, v);
  else if (IS("readonly"))
    p->readonly_rootfs = true;
  else if (IS("devices")) {
    if (strcmp(v, "all") == 0)
      p->devices_all = true;
    else if (v[0] == '/')
      p->devices_dir = v;
    else
      return -1;
  } else if (IS("dev"))
    return parse_devrule(p, v);
  else if (IS("hostname"))
    p->hostname = v;
  else if (IS("lo"))
    p->lo_up = true;
  else if (IS("nsjoin")) {
    static const struct { const char *name; int type; } types[] = {
      { "net", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
    };
    char *f[2];
    if (split(v, f, 2) != 2 || f[1][0] != '/')
      return -1;
    int type = 0;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
      if (strcmp(f[0], types[i].name) == 0)
        type = types[i].type;
    if (!type)
      return -1;
    p->nsjoins = push(p->nsjoins, &p->nnsjoins, sizeof *p->nsjoins);
    p->nsjoins[p->nnsjoins - 1].type = type;
    p->nsjoins[p->nnsjoins - 1].path = f[1];
  }
  else if (IS("exitfile"))
    p->exit_file = v;
  else if (IS("init"))
    p->init = true;
  else if (IS("autorm")) {
    char *f[4];
    if (split(v, f, 4) != 4 || !*f[0] || !*f[1] || !*f[2] || !*f[3])
      return -1;
    p->autorm_node = f[0];
    p->autorm_bin = f[1];
    p->autorm_root = f[2];
    p->autorm_id = f[3];
  }
  else if (IS("watch"))
    return watch_parse(p, v);
  else if (IS("pid")) {
    if (num(v, &n, 10) || n < 1)
      return -1;
    p->target_pid = (pid_t)n;
  } else if (IS("ns"))
    PUSH_STR(p->ns, p->nns, v);
  else if (IS("cgroup"))
    PUSH_STR(p->cgroup_procs, p->ncgroup_procs, v);
  else if (IS("rlimit"))
    return parse_rlimit(p, v);
  else if (IS("oomscoreadj")) {
    char *end;
    long adj = strtol(v, &end, 10);
    if (*end || end == v || adj < -1000 || adj > 1000)
      return -1;
    p->has_oom_score_adj = true;
    p->oom_score_adj = (int)adj;
  }
  else if (IS("caps")) {
    if (num(v, &n, 16))
      return -1;
    p->caps = n;
  } else if (IS("nnp"))
    p->nnp = true;
  else if (IS("seccomp.default")) {
    if (num(v, &n, 10))
      return -1;
    p->seccomp = true;
    p->seccomp_default = (uint32_t)n;
  } else if (IS("seccomp.rule"))
    return parse_rule(p, v);
  else if (IS("seccomp.cache"))
    p->seccomp_cache = v;
  else if (IS("uid")) {
    if (num(v, &n, 10) || n > 0xfffffffeu)
      return -1;
    p->uid = (uid_t)n;
  } else if (IS("gid")) {
    if (num(v, &n, 10) || n > 0xfffffffeu)
      return -1;
    p->gid = (gid_t)n;
  } else if (IS("group")) {
    if (num(v, &n, 10) || n > 0xfffffffeu)
      return -1;
    p->groups = push(p->groups, &p->ngroups, sizeof *p->groups);
    p->groups[p->ngroups - 1] = (gid_t)n;
  } else if (IS("cwd"))
    p->cwd = v;
  else if (IS("env"))
    PUSH_STR(p->env, p->nenv, v);
  else if (IS("arg"))
    PUSH_STR(p->argv, p->nargv, v);
  else if (IS("tty"))
    p->tty = true;
  else if (IS("stdin"))
    p->open_stdin = true;
  else if (IS("detach"))
    p->detach = true;
  else if (IS("log"))
    p->log_file = v;
  else
    return -1;
  return 0;
#undef IS
}

/* Reads more of the plan into b (growing it); returns 0 at EOF, 1 after a read, or -errno. */
static int read_some(int fd, struct planbuf *b, char *err, size_t errlen)
{
  if (b->len == b->cap) {
    if (b->cap >= PLAN_MAX) {
      snprintf(err, errlen, "plan larger than %u bytes", PLAN_MAX);
      return -E2BIG;
    }
    size_t cap = b->cap ? b->cap * 2 : 1 << 16;
    char *d = realloc(b->data, cap);
    if (!d) {
      snprintf(err, errlen, "out of memory");
      return -ENOMEM;
    }
    b->data = d;
    b->cap = cap;
  }
  ssize_t r;
  do
    r = read(fd, b->data + b->len, b->cap - b->len);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    snprintf(err, errlen, "read plan");
    return -errno;
  }
  b->len += (size_t)r;
  return r > 0;
}

/* One more read for a part of the plan not all in yet: 0, -errno, or -EINVAL at EOF. */
static int need_more(int fd, struct planbuf *b, const char *what, char *err, size_t errlen)
{
  int rc = read_some(fd, b, err, errlen);
  if (rc == 0) {
    snprintf(err, errlen, "plan ends before its %s does", what);
    return -EINVAL;
  }
  return rc < 0 ? rc : 0;
}

/*
 * Reads up to the end of the early block: the records before the first empty
 * record (a lone NUL). What was read beyond it stays in b for planbuf_rest.
 */
int planbuf_read_early(int fd, struct planbuf *b, char *err, size_t errlen)
{
  size_t scanned = 0, rec = 0;
  for (;;) {
    for (; scanned < b->len; scanned++)
      if (b->data[scanned] == '\0') {
        if (scanned == rec) {
          b->early_len = rec;
          return 0;
        }
        rec = scanned + 1;
      }
    int rc = need_more(fd, b, "early block", err, errlen);
    if (rc < 0)
      return rc;
  }
}

/* Reads until b holds the first record (or the empty one that ends an empty early block). */
int planbuf_read_first(int fd, struct planbuf *b, size_t *first_len, char *err, size_t errlen)
{
  for (size_t scanned = 0;;) {
    for (; scanned < b->len; scanned++)
      if (b->data[scanned] == '\0') {
        *first_len = scanned;
        return 0;
      }
    int rc = need_more(fd, b, "first record", err, errlen);
    if (rc < 0)
      return rc;
  }
}

/* Reads the rest of the plan to EOF and closes fd; the rest starts at b->data + b->early_len + 1. */
int planbuf_read_rest(int fd, struct planbuf *b, char *err, size_t errlen)
{
  int rc;
  while ((rc = read_some(fd, b, err, errlen)) > 0)
    ;
  close(fd);
  return rc;
}

/* Parses one "key=value" record in place. */
static int parse_one(struct plan *p, char *rec, char *err, size_t errlen)
{
  char *eq = strchr(rec, '=');
  if (!eq) {
    snprintf(err, errlen, "plan record without '=': %.60s", rec);
    return -EINVAL;
  }
  *eq = '\0';
  if (parse_record(p, rec, eq + 1) < 0) {
    snprintf(err, errlen, "bad plan record %.40s", rec);
    return -EINVAL;
  }
  return 0;
}

/*
 * The early block of a run: what the container process needs to set up its
 * namespaces and filesystem before the rest of the plan (see run_main). Only
 * those keys; parsed from a copy, as b grows (and moves) while the rest is read.
 */
int plan_parse_early(const struct planbuf *b, struct plan *p, char *err, size_t errlen)
{
  static const char *early[] = { "clone=", "cgroup=", "rootfs=", "upper=", "work=", "lower=", "ovl=", "op=", "readonly=", "hostname=", "lo=", "devices=", "dev=", "nsjoin=" };
  if (b->early_len == 0)
    return 0;
  char *copy = malloc(b->early_len + 1);
  if (!copy) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  memcpy(copy, b->data, b->early_len + 1);
  for (size_t off = 0; off < b->early_len;) {
    char *rec = copy + off;
    off += strlen(rec) + 1;
    bool ok = false;
    for (size_t k = 0; k < sizeof early / sizeof *early; k++)
      ok = ok || strncmp(rec, early[k], strlen(early[k])) == 0;
    if (!ok) {
      snprintf(err, errlen, "not an early record: %.60s", rec);
      return -EINVAL;
    }
    int rc = parse_one(p, rec, err, errlen);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Adds the records of buf (parsed in place: the plan's strings point into it) to p. */
int plan_parse(char *buf, size_t len, struct plan *p, char *err, size_t errlen)
{
  if (len == 0 || buf[len - 1] != '\0') {
    snprintf(err, errlen, "plan is empty or not NUL-terminated");
    return -EINVAL;
  }
  for (size_t off = 0; off < len;) {
    char *rec = buf + off;
    off += strlen(rec) + 1;
    int rc = parse_one(p, rec, err, errlen);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Once every record is in: the plan is complete and consistent. */
int plan_check(struct plan *p, char *err, size_t errlen)
{
  /* lists are used as NULL-terminated vectors by execve */
  PUSH_STR(p->argv, p->nargv, NULL);
  p->nargv--;
  PUSH_STR(p->env, p->nenv, NULL);
  p->nenv--;
  if (p->nargv == 0 || !p->cwd) {
    snprintf(err, errlen, "plan lacks arg or cwd");
    return -EINVAL;
  }
  if (!p->exec_mode && (!p->rootfs || !p->upper || !p->work || !p->nlowers || !p->exit_file)) {
    snprintf(err, errlen, "run plan lacks rootfs, upper, work, lower or exitfile");
    return -EINVAL;
  }
  if (p->exec_mode && !p->target_pid) {
    snprintf(err, errlen, "exec plan lacks pid");
    return -EINVAL;
  }
  if (p->detach && !p->log_file && !p->exec_mode) {
    snprintf(err, errlen, "detached plan lacks log");
    return -EINVAL;
  }
  return 0;
}

