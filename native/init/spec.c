/*
 * config.json → struct oci: the top level (ociVersion, root, hostname,
 * domainname, hooks, annotations) and process. The linux section, mounts and
 * seccomp are read by their own files (spec.h).
 */
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

const char *const hook_names[HOOK_KINDS] = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" };

static const char *const CAP_NAMES[] = {
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
  "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
  "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
  "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
  "CHECKPOINT_RESTORE",
};

static int read_capset(json_object *caps, const char *key, uint64_t *out)
{
  char **names = NULL;
  size_t n = 0;
  if (jget_strv(caps, key, "process.capabilities.", &names, &n) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    size_t c = 0;
    const char *name = strncmp(names[i], "CAP_", 4) == 0 ? names[i] + 4 : "";
    while (c < sizeof CAP_NAMES / sizeof *CAP_NAMES && strcmp(CAP_NAMES[c], name) != 0)
      c++;
    if (c == sizeof CAP_NAMES / sizeof *CAP_NAMES)
      return fail(0, "config.json: unknown capability %s in process.capabilities.%s", names[i], key);
    *out |= 1ULL << c;
  }
  free(names);
  return 0;
}

static const struct {
  const char *name;
  int resource;
} RLIMITS[] = {
  { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

const char *spec_cap_name(int c)
{
  return c >= 0 && (size_t)c < sizeof CAP_NAMES / sizeof *CAP_NAMES ? CAP_NAMES[c] : NULL;
}

const char *spec_rlimit_name(int resource)
{
  for (size_t k = 0; k < sizeof RLIMITS / sizeof *RLIMITS; k++)
    if (RLIMITS[k].resource == resource)
      return RLIMITS[k].name;
  return NULL;
}

static int read_rlimits(json_object *proc, struct plan *p)
{
  json_object *a;
  if (jget_arr(proc, "rlimits", "process.", &a) < 0)
    return -1;
  if (!a)
    return 0;
  for (size_t i = 0; i < json_object_array_length(a); i++) {
    json_object *r = json_object_array_get_idx(a, i);
    char *type = NULL;
    uint64_t soft = 0, hard = 0;
    bool hs = false, hh = false;
    if (jget_str(r, "type", "process.rlimits[].", &type) < 0 || jget_u64(r, "soft", "process.rlimits[].", &hs, &soft) < 0 ||
        jget_u64(r, "hard", "process.rlimits[].", &hh, &hard) < 0)
      return -1;
    size_t k = 0;
    while (type && k < sizeof RLIMITS / sizeof *RLIMITS && strcmp(RLIMITS[k].name, type) != 0)
      k++;
    if (!type || k == sizeof RLIMITS / sizeof *RLIMITS)
      return fail(0, "config.json: unknown rlimit type %s", type ? type : "(none)");
    if (!hs || !hh)
      return fail(0, "config.json: rlimit %s needs soft and hard", type);
    for (size_t j = 0; j < p->nrlimits; j++)
      if (p->rlimits[j].resource == RLIMITS[k].resource)
        return fail(0, "config.json: rlimit %s given twice", type);
    p->rlimits = grow(p->rlimits, &p->nrlimits, sizeof *p->rlimits);
    p->rlimits[p->nrlimits - 1] = (struct rlim){ RLIMITS[k].resource, soft, hard };
  }
  return 0;
}

int spec_read_process(json_object *proc, struct oci *o)
{
  struct plan *p = &o->p;
  json_object *user, *caps, *cs;
  if (jget_bool(proc, "terminal", "process.", &o->terminal) < 0 || jget_strv(proc, "args", "process.", &p->argv, &p->nargv) < 0 ||
      jget_strv(proc, "env", "process.", &p->env, &p->nenv) < 0 || jget_str(proc, "cwd", "process.", &p->cwd) < 0 ||
      jget_bool(proc, "noNewPrivileges", "process.", &p->nnp) < 0 || jget_obj(proc, "user", "process.", &user) < 0 ||
      jget_obj(proc, "capabilities", "process.", &caps) < 0 || jget_obj(proc, "consoleSize", "process.", &cs) < 0 ||
      read_rlimits(proc, p) < 0)
    return -1;
  if (!p->argv || !p->nargv)
    return fail(0, "config.json: process.args must not be empty");
  if (!p->env) {
    p->env = calloc(1, sizeof *p->env);
    p->nenv = 0;
  }
  if (!p->cwd || p->cwd[0] != '/')
    return fail(0, "config.json: process.cwd must be an absolute path");
  int64_t v;
  bool has = false;
  if (jget_i64(proc, "oomScoreAdj", "process.", &o->has_oom_score_adj, &v) < 0)
    return -1;
  if (o->has_oom_score_adj && (v < -1000 || v > 1000))
    return fail(0, "config.json: process.oomScoreAdj must be within -1000..1000");
  o->oom_score_adj = (int)v;
  if (cs) {
    uint64_t h = 0, w = 0;
    if (jget_u64(cs, "height", "process.consoleSize.", NULL, &h) < 0 || jget_u64(cs, "width", "process.consoleSize.", NULL, &w) < 0)
      return -1;
    o->console_height = (unsigned)h;
    o->console_width = (unsigned)w;
  }
  if (user) {
    uint64_t uid = 0, gid = 0, um = 0;
    has = false;
    if (jget_u64(user, "uid", "process.user.", NULL, &uid) < 0 || jget_u64(user, "gid", "process.user.", NULL, &gid) < 0 ||
        jget_u64(user, "umask", "process.user.", &has, &um) < 0)
      return -1;
    if (uid > 0xfffffffeu || gid > 0xfffffffeu)
      return fail(0, "config.json: process.user uid/gid out of range");
    p->uid = (uid_t)uid;
    p->gid = (gid_t)gid;
    o->umask = has ? (int)(um & 0777) : -1;
    json_object *g;
    if (jget_arr(user, "additionalGids", "process.user.", &g) < 0)
      return -1;
    for (size_t i = 0; g && i < json_object_array_length(g); i++) {
      json_object *e = json_object_array_get_idx(g, i);
      if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 0 || json_object_get_int64(e) > 0xfffffffeLL)
        return fail(0, "config.json: process.user.additionalGids must hold gids");
      p->groups = grow(p->groups, &p->ngroups, sizeof *p->groups);
      p->groups[p->ngroups - 1] = (gid_t)json_object_get_int64(e);
    }
  } else
    o->umask = -1;
  p->caps = (struct capsets){ 0 };
  if (caps && (read_capset(caps, "bounding", &p->caps.bounding) < 0 || read_capset(caps, "effective", &p->caps.effective) < 0 ||
               read_capset(caps, "inheritable", &p->caps.inheritable) < 0 || read_capset(caps, "permitted", &p->caps.permitted) < 0 ||
               read_capset(caps, "ambient", &p->caps.ambient) < 0))
    return -1;
  char *ignored = NULL;
  if (jget_str(proc, "apparmorProfile", "process.", &ignored) < 0 || jget_str(proc, "selinuxLabel", "process.", &ignored) < 0)
    return -1;
  return 0;
}

static int read_hooks(json_object *hooks, struct oci *o)
{
  for (int k = 0; k < HOOK_KINDS; k++) {
    json_object *a;
    if (jget_arr(hooks, hook_names[k], "hooks.", &a) < 0)
      return -1;
    for (size_t i = 0; a && i < json_object_array_length(a); i++) {
      json_object *h = json_object_array_get_idx(a, i);
      o->hooks[k] = grow(o->hooks[k], &o->nhooks[k], sizeof *o->hooks[k]);
      struct oci_hook *hk = &o->hooks[k][o->nhooks[k] - 1];
      int64_t t = 0;
      bool has = false;
      if (!json_object_is_type(h, json_type_object) || jget_str(h, "path", "hooks[].", &hk->path) < 0 ||
          jget_strv(h, "args", "hooks[].", &hk->args, NULL) < 0 || jget_strv(h, "env", "hooks[].", &hk->env, NULL) < 0 ||
          jget_i64(h, "timeout", "hooks[].", &has, &t) < 0)
        return oci_err.msg[0] ? -1 : fail(0, "config.json: hooks.%s[] must be objects", hook_names[k]);
      if (!hk->path || hk->path[0] != '/')
        return fail(0, "config.json: hooks.%s[].path must be an absolute path", hook_names[k]);
      if (has && t <= 0)
        return fail(0, "config.json: hooks.%s[].timeout must be positive", hook_names[k]);
      hk->timeout = (int)t;
    }
  }
  return 0;
}

int spec_load_hooks(const char *file, struct oci *o)
{
  json_object *cfg = json_object_from_file(file), *hooks = NULL;
  if (!cfg)
    return fail(0, "read %s: %s", file, json_util_get_last_err());
  o->json = cfg;
  if (jget_obj(cfg, "hooks", "", &hooks) < 0)
    return -1;
  return hooks ? read_hooks(hooks, o) : 0;
}

static int read_root(json_object *cfg, struct oci *o)
{
  json_object *root;
  char *path = NULL;
  bool ro = false;
  if (jget_obj(cfg, "root", "", &root) < 0)
    return -1;
  if (!root || jget_str(root, "path", "root.", &path) < 0 || !path || !*path)
    return oci_err.msg[0] ? -1 : fail(0, "config.json: root.path is missing");
  if (jget_bool(root, "readonly", "root.", &ro) < 0)
    return -1;
  o->p.readonly_rootfs = ro;
  if (path[0] != '/' && !o->bundle)
    return fail(0, "config.json: root.path must be absolute here (no bundle)");
  char full[PATH_MAX];
  snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : o->bundle, path[0] == '/' ? "" : "/", path);
  char *real = realpath(full, NULL);
  struct stat st;
  if (!real || stat(real, &st) < 0)
    return fail(errno, "rootfs %s", full);
  if (!S_ISDIR(st.st_mode))
    return fail(ENOTDIR, "rootfs %s", full);
  o->root_path = o->p.rootfs = real;
  return 0;
}

/* A JSON text (a config.json's) parsed; NULL with oci_err set. */
json_object *spec_parse_text(const char *text, size_t len)
{
  json_tokener *tok = json_tokener_new();
  json_object *cfg = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
  enum json_tokener_error jerr = tok ? json_tokener_get_error(tok) : json_tokener_error_depth;
  if (jerr == json_tokener_continue)
    jerr = json_tokener_error_parse_eof;
  if (tok)
    json_tokener_free(tok);
  if (jerr != json_tokener_success || !cfg) {
    fail(0, "config.json: not valid JSON: %s", json_tokener_error_desc(jerr));
    return NULL;
  }
  if (!json_object_is_type(cfg, json_type_object)) {
    fail(0, "config.json: must be a JSON object");
    return NULL;
  }
  return cfg;
}

int spec_load(const char *bundle, struct oci *o)
{
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/config.json", bundle);
  o->bundle = strdup(bundle);
  FILE *f = fopen(file, "re");
  if (!f)
    return fail(errno, "open %s", file);
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  do {
    if (len + 65536 > cap) {
      char *t = realloc(text, cap = len + 65536);
      if (!t) {
        fclose(f);
        return fail(ENOMEM, "read %s", file);
      }
      text = t;
    }
    n = fread(text + len, 1, 65536, f);
    len += n;
  } while (n > 0);
  fclose(f);
  json_object *cfg = spec_parse_text(text ? text : "", len);
  free(text);
  return cfg ? spec_read(cfg, o, true) : -1;
}

/*
 * cfg (a config.json) into o. need_root: a container's spec (root, a mount
 * namespace); without it, what an exec into a running one needs (process,
 * namespaces joined by path, seccomp). o->bundle resolves relative paths
 * (NULL: they are refused).
 */
int spec_read(json_object *cfg, struct oci *o, bool need_root)
{
  o->umask = -1;
  o->json = cfg;
  char *version = NULL;
  if (jget_str(cfg, "ociVersion", "", &version) < 0)
    return -1;
  if (!version)
    return fail(0, "config.json: ociVersion is missing");
  if (strncmp(version, "1.", 2) != 0)
    return fail(0, "config.json: unsupported ociVersion %s (this runtime implements %s)", version, OCI_VERSION);
  o->oci_version = version;
  json_object *proc, *hooks, *mounts, *linux_;
  if ((need_root && read_root(cfg, o) < 0) || jget_obj(cfg, "process", "", &proc) < 0 || jget_obj(cfg, "hooks", "", &hooks) < 0 ||
      jget_arr(cfg, "mounts", "", &mounts) < 0 || jget_obj(cfg, "linux", "", &linux_) < 0 ||
      jget_obj(cfg, "annotations", "", &o->annotations) < 0 || jget_str(cfg, "hostname", "", &o->p.hostname) < 0 ||
      jget_str(cfg, "domainname", "", &o->domainname) < 0)
    return -1;
  if (!proc)
    return fail(0, "config.json: process is missing");
  if (spec_read_process(proc, o) < 0 || (hooks && read_hooks(hooks, o) < 0) || (mounts && spec_read_mounts(mounts, o) < 0) ||
      spec_read_linux(linux_, o, need_root) < 0)
    return -1;
  /* the working directory exists in the container, as runc makes it */
  if (need_root) {
    o->p.ops = grow(o->p.ops, &o->p.nops, sizeof *o->p.ops);
    o->p.ops[o->p.nops - 1] = (struct op){ .kind = OP_MKDIR, .dst = o->p.cwd };
  }
  if ((o->p.hostname && *o->p.hostname) && !spec_ns(o, CLONE_NEWUTS))
    return fail(0, "config.json: hostname needs a new uts namespace");
  return 0;
}

const struct oci_ns *spec_ns(const struct oci *o, int type)
{
  for (size_t i = 0; i < o->nns; i++)
    if (o->ns[i].type == type)
      return &o->ns[i];
  return NULL;
}
