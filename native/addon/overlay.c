/*
 * mountOverlay(target, { lowerdirs, upperdir?, workdir?, options?, readonly? })
 *
 * Uses the new mount API instead of mount(2) with a "lowerdir=a:b:c" string:
 * `lowerdir+` passes each layer as its own parameter, so there is no page-size
 * limit on the option string (deep images have many layers) and no escaping
 * of ':' or ',' in layer paths. It also gives the kernel's own explanation of
 * a failure (the fs context log), which mount(2) throws away.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Kernel ABI values (include/uapi/linux/mount.h). Defined here under our own
 * names because glibc's <sys/mount.h> and <linux/mount.h> clash, and older
 * headers lack them entirely. The syscall numbers are the same on every
 * architecture that has these calls (they were added after the table unified).
 */
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#define TSRUN_FSOPEN_CLOEXEC 0x00000001u
#define TSRUN_FSCONFIG_SET_FLAG 0u
#define TSRUN_FSCONFIG_SET_STRING 1u
#define TSRUN_FSCONFIG_CMD_CREATE 6u
#define TSRUN_FSMOUNT_CLOEXEC 0x00000001u
#define TSRUN_MOUNT_ATTR_RDONLY 0x00000001u
#define TSRUN_MOUNT_ATTR_NOSUID 0x00000002u
#define TSRUN_MOUNT_ATTR_NODEV 0x00000004u
#define TSRUN_MOUNT_ATTR_NOEXEC 0x00000008u
/* A read-only view (export, --squash) is only read: no device node in it opens, nothing runs from it. */
#define TSRUN_MOUNT_ATTR_VIEW (TSRUN_MOUNT_ATTR_RDONLY | TSRUN_MOUNT_ATTR_NOSUID | TSRUN_MOUNT_ATTR_NODEV | TSRUN_MOUNT_ATTR_NOEXEC)
#define TSRUN_MOVE_MOUNT_F_EMPTY_PATH 0x00000004u

/* What the JS options object says, copied into C strings before any syscall. */
struct overlay_opts {
  char *target;
  char **lowers;
  uint32_t nlowers;
  char *upper;
  char *work;
  char **keys; /* extra options: keys[i] = values[i]; "" value = flag */
  char **values;
  uint32_t nopts;
  bool readonly;
};

static void opts_free(struct overlay_opts *o)
{
  for (uint32_t i = 0; i < o->nlowers; i++)
    free(o->lowers[i]);
  for (uint32_t i = 0; i < o->nopts; i++) {
    free(o->keys[i]);
    free(o->values[i]);
  }
  free(o->lowers);
  free(o->keys);
  free(o->values);
  free(o->target);
  free(o->upper);
  free(o->work);
}

/* Reads obj[key] as an optional string (missing/null/undefined -> NULL). */
static int get_opt_string(napi_env env, napi_value obj, const char *key, char **out)
{
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok)
    return -1;
  return arg_string_or_null(env, v, out, key);
}

static int parse_opts(napi_env env, napi_value target, napi_value obj, struct overlay_opts *o)
{
  napi_valuetype t;
  napi_value v;
  bool is_array = false;

  if (arg_string(env, target, &o->target, "target") < 0)
    return -1;
  if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object) {
    throw_arg_error(env, "The \"opts\" argument must be of type object");
    return -1;
  }

  if (napi_get_named_property(env, obj, "lowerdirs", &v) != napi_ok ||
      napi_is_array(env, v, &is_array) != napi_ok || !is_array) {
    throw_arg_error(env, "The \"opts.lowerdirs\" property must be an array of strings");
    return -1;
  }
  uint32_t n;
  napi_get_array_length(env, v, &n);
  o->lowers = calloc(n ? n : 1, sizeof *o->lowers);
  if (o->lowers == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    if (napi_get_element(env, v, i, &el) != napi_ok ||
        arg_string(env, el, &o->lowers[i], "opts.lowerdirs[i]") < 0)
      return -1;
    o->nlowers = i + 1;
  }

  if (get_opt_string(env, obj, "upperdir", &o->upper) < 0 ||
      get_opt_string(env, obj, "workdir", &o->work) < 0)
    return -1;

  if (napi_get_named_property(env, obj, "readonly", &v) != napi_ok)
    return -1;
  bool ro = false;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_boolean)
    napi_get_value_bool(env, v, &ro);
  o->readonly = ro;

  if (napi_get_named_property(env, obj, "options", &v) != napi_ok)
    return -1;
  if (is_nullish(env, v))
    return 0;
  napi_value names;
  /* Own enumerable string keys only: nothing inherited from a prototype. */
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object ||
      napi_get_all_property_names(env, v, napi_key_own_only,
                                  napi_key_enumerable | napi_key_skip_symbols,
                                  napi_key_numbers_to_strings, &names) != napi_ok) {
    throw_arg_error(env, "The \"opts.options\" property must be an object of strings");
    return -1;
  }
  napi_get_array_length(env, names, &n);
  o->keys = calloc(n ? n : 1, sizeof *o->keys);
  o->values = calloc(n ? n : 1, sizeof *o->values);
  if (o->keys == NULL || o->values == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value key, val;
    if (napi_get_element(env, names, i, &key) != napi_ok ||
        napi_get_property(env, v, key, &val) != napi_ok ||
        arg_string(env, key, &o->keys[i], "opts.options key") < 0 ||
        arg_string(env, val, &o->values[i], "opts.options value") < 0) {
      o->nopts = i + 1; /* free what this iteration allocated too */
      return -1;
    }
    o->nopts = i + 1;
  }
  return 0;
}

/*
 * Drains the fs context log: each read() returns one message, "e ..." for
 * errors, "w ..." warnings, "i ..." info, until ENODATA. Joined with "; ".
 * This is the only place the kernel says *why* overlay refused (bad
 * lowerdir, upper on an unsupported fs, ...).
 */
static void read_fs_log(int fsfd, char *out, size_t outlen)
{
  char msg[1024];
  size_t used = 0;
  out[0] = '\0';
  for (;;) {
    ssize_t n = read(fsfd, msg, sizeof msg - 1);
    if (n <= 0)
      break;
    while (n > 0 && msg[n - 1] == '\n')
      n--;
    msg[n] = '\0';
    int w = snprintf(out + used, outlen - used, "%s%s", used ? "; " : "", msg);
    if (w < 0 || (size_t)w >= outlen - used)
      break;
    used += (size_t)w;
  }
}

/*
 * Throws for a failed step, with errno saved before the log is read (read()
 * ends with ENODATA and would otherwise clobber it).
 */
static napi_value fail(napi_env env, int fsfd, const char *syscall,
                       const char *target, const char *what)
{
  int err = errno;
  char log[2048] = "";
  char detail[2600];
  if (fsfd >= 0)
    read_fs_log(fsfd, log, sizeof log);
  snprintf(detail, sizeof detail, "%s%s%s", what ? what : "",
           (what && *log) ? ": " : "", log);
  return throw_errno_detail(env, err, syscall, target, detail);
}

static int fsconfig_string(int fsfd, const char *key, const char *value)
{
  return (int)syscall(SYS_fsconfig, fsfd, TSRUN_FSCONFIG_SET_STRING, key, value, 0);
}

/* Runs the fsopen..move_mount sequence; returns 0, or -1 after throwing. */
static int do_mount(napi_env env, const struct overlay_opts *o)
{
  char what[4200];
  int fsfd = -1, mfd = -1, rc = -1;

  fsfd = (int)syscall(SYS_fsopen, "overlay", TSRUN_FSOPEN_CLOEXEC);
  if (fsfd < 0) {
    fail(env, -1, "fsopen", o->target, "overlay");
    return -1;
  }

  /* Order matters: overlay stacks lowerdir+ values topmost first. */
  for (uint32_t i = 0; i < o->nlowers; i++) {
    if (fsconfig_string(fsfd, "lowerdir+", o->lowers[i]) < 0) {
      snprintf(what, sizeof what, "lowerdir+=%s", o->lowers[i]);
      fail(env, fsfd, "fsconfig", o->target, what);
      goto out;
    }
  }
  if (o->upper && fsconfig_string(fsfd, "upperdir", o->upper) < 0) {
    snprintf(what, sizeof what, "upperdir=%s", o->upper);
    fail(env, fsfd, "fsconfig", o->target, what);
    goto out;
  }
  if (o->work && fsconfig_string(fsfd, "workdir", o->work) < 0) {
    snprintf(what, sizeof what, "workdir=%s", o->work);
    fail(env, fsfd, "fsconfig", o->target, what);
    goto out;
  }
  for (uint32_t i = 0; i < o->nopts; i++) {
    /* An empty value means a bare flag option such as "userxattr". */
    int r = o->values[i][0] == '\0'
      ? (int)syscall(SYS_fsconfig, fsfd, TSRUN_FSCONFIG_SET_FLAG, o->keys[i], NULL, 0)
      : fsconfig_string(fsfd, o->keys[i], o->values[i]);
    if (r < 0) {
      snprintf(what, sizeof what, "%s%s%s", o->keys[i], *o->values[i] ? "=" : "", o->values[i]);
      fail(env, fsfd, "fsconfig", o->target, what);
      goto out;
    }
  }

  /* Superblock creation is where most real errors surface (paths, xattr support). */
  if (syscall(SYS_fsconfig, fsfd, TSRUN_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    fail(env, fsfd, "fsconfig", o->target, "create");
    goto out;
  }

  mfd = (int)syscall(SYS_fsmount, fsfd, TSRUN_FSMOUNT_CLOEXEC,
                     o->readonly ? TSRUN_MOUNT_ATTR_VIEW : 0u);
  if (mfd < 0) {
    fail(env, fsfd, "fsmount", o->target, NULL);
    goto out;
  }

  /* Until attached, the mount is anonymous; closing mfd on failure discards it. */
  if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, o->target, TSRUN_MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    fail(env, -1, "move_mount", o->target, NULL);
    goto out;
  }
  rc = 0;
out:
  if (mfd >= 0)
    close(mfd);
  close(fsfd);
  return rc;
}

napi_value js_mount_overlay(napi_env env, napi_callback_info info)
{
  napi_value argv[2], ret = NULL;
  struct overlay_opts o;
  memset(&o, 0, sizeof o);

  if (args_get(env, info, 2, argv) == 0 &&
      parse_opts(env, argv[0], argv[1], &o) == 0 &&
      do_mount(env, &o) == 0)
    ret = js_undefined(env);
  opts_free(&o);
  return ret;
}
