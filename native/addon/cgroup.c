/*
 * The cgroup manager (native/cgroup/manager.c, the one tsrun-init and
 * tsrun-runtime use) and the resources mapping, for tsrun's TypeScript
 * (src/runtime/cgroups.ts): in-process calls, no process spawned, so `ps`,
 * `stats` and `run` pay nothing extra. Each takes the version the caller
 * recorded (1 or 2) and the container's dirs. Errors: an Error whose message
 * is the manager's one line and whose code is its errno's name (ECGROUP when
 * it has none).
 */
#include "addon.h"
#include "args.h"
#include "errors.h"
#include "../cgroup/manager.h"
#include "../init/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void free_resources(struct oci_resources *r)
{
  free(r->devices);
  for (int k = 0; k < THR_KINDS; k++)
    free(r->throttle[k]);
}

static napi_value throw_cg(napi_env env)
{
  const char *code = oci_err.errnum ? strerrorname_np(oci_err.errnum) : NULL;
  napi_throw_error(env, code ? code : "ECGROUP", oci_err.msg);
  return NULL;
}

/* (version, dirs, …): the first two arguments of every call but cgroupResolve */
struct cg_args {
  bool v2;
  char **dirs;
  uint32_t n;
};

static void cg_args_free(struct cg_args *a)
{
  for (uint32_t i = 0; a->dirs && i < a->n; i++)
    free(a->dirs[i]);
  free(a->dirs);
}

static int get_cg_args(napi_env env, napi_value *argv, struct cg_args *a)
{
  int32_t version = 0;
  bool is_array = false;
  memset(a, 0, sizeof *a);
  if (arg_int32(env, argv[0], &version, "version") < 0)
    return -1;
  if (version != 1 && version != 2) {
    throw_arg_error(env, "version must be 1 or 2");
    return -1;
  }
  a->v2 = version == 2;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &a->n) != napi_ok) {
    throw_arg_error(env, "dirs must be an array of strings");
    return -1;
  }
  a->dirs = calloc(a->n + 1, sizeof *a->dirs);
  for (uint32_t i = 0; a->dirs && i < a->n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || arg_string(env, v, &a->dirs[i], "dirs[]") < 0)
      return -1;
  }
  return 0;
}

/* linux.resources JSON text → r; -1 with oci_err */
static int read_resources(const char *json, struct oci_resources *r)
{
  json_object *res = json_tokener_parse(json);
  if (!res || !json_object_is_type(res, json_type_object)) {
    if (res)
      json_object_put(res);
    return fail(0, "linux.resources: not a JSON object");
  }
  int rc = spec_read_resources(res, r);
  json_object_put(res);
  return rc;
}

/* cgroupApply(version, dirs, resourcesJson): write linux.resources into existing dirs (update) */
napi_value js_cgroup_apply(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  struct cg_args a;
  char *json = NULL;
  struct oci_resources r;
  memset(&r, 0, sizeof r);
  if (args_get(env, info, 3, argv) < 0 || get_cg_args(env, argv, &a) < 0 || arg_string(env, argv[2], &json, "resourcesJson") < 0)
    goto out;
  if (a.n == 0) {
    throw_arg_error(env, "dirs must be a non-empty array of strings");
    goto out;
  }
  if (read_resources(json, &r) < 0) {
    throw_cg(env);
    goto out;
  }
  if (a.v2)
    cg_enable_v2(a.dirs[0], &r);
  if (cg_apply(&r, a.dirs, a.n, a.v2) < 0) {
    throw_cg(env);
    goto out;
  }
  ret = js_undefined(env);
out:
  free_resources(&r);
  cg_args_free(&a);
  free(json);
  return ret;
}

/* cgroupCreate(version, dirs, resourcesJson): make the dirs and write the resources; removed again on failure */
napi_value js_cgroup_create(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  struct cg_args a;
  char *json = NULL;
  struct oci_resources r;
  memset(&r, 0, sizeof r);
  if (args_get(env, info, 3, argv) < 0 || get_cg_args(env, argv, &a) < 0 || arg_string(env, argv[2], &json, "resourcesJson") < 0)
    goto out;
  if (read_resources(json, &r) < 0) {
    throw_cg(env);
    goto out;
  }
  if (cg_make(a.dirs, a.n, a.v2, &r) < 0 || cg_apply(&r, a.dirs, a.n, a.v2) < 0) {
    struct oci_error saved = oci_err;
    cg_remove(a.dirs, a.n, a.v2, 1000, false);
    oci_err = saved;
    throw_cg(env);
    goto out;
  }
  ret = js_undefined(env);
out:
  free_resources(&r);
  cg_args_free(&a);
  free(json);
  return ret;
}

/* cgroupResolve(cgroupsPath, all): { version, dirs, controllers } (nothing made) */
napi_value js_cgroup_resolve(napi_env env, napi_callback_info info)
{
  napi_value argv[2], ret = NULL, obj, arr, v;
  char *path = NULL, **dirs = NULL, **ctrls = NULL;
  size_t n = 0;
  bool all = false, v2 = false;
  if (args_get(env, info, 2, argv) < 0 || arg_string(env, argv[0], &path, "cgroupsPath") < 0)
    goto out;
  napi_get_value_bool(env, argv[1], &all);
  if (cg_resolve(path, all, &v2, &dirs, &ctrls, &n) < 0) {
    throw_cg(env);
    goto out;
  }
  napi_create_object(env, &obj);
  napi_create_int32(env, v2 ? 2 : 1, &v);
  napi_set_named_property(env, obj, "version", v);
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_create_string_utf8(env, dirs[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_set_named_property(env, obj, "dirs", arr);
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_create_string_utf8(env, ctrls[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_set_named_property(env, obj, "controllers", arr);
  ret = obj;
out:
  cg_free_dirs(ctrls, n);
  cg_free_dirs(dirs, n);
  free(path);
  return ret;
}

/* cgroupPids(version, dirs): the PIDs in it (union over v1 hierarchies), unsorted */
napi_value js_cgroup_pids(napi_env env, napi_callback_info info)
{
  napi_value argv[2], ret = NULL, arr, v;
  struct cg_args a;
  pid_t *pids = NULL;
  size_t n = 0;
  if (args_get(env, info, 2, argv) < 0 || get_cg_args(env, argv, &a) < 0)
    goto out;
  if (cg_pids(a.dirs, a.n, &pids, &n) < 0) {
    throw_cg(env);
    goto out;
  }
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_create_int32(env, pids[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  ret = arr;
out:
  free(pids);
  cg_args_free(&a);
  return ret;
}

/* cgroupFreeze(version, dirs, freeze, timeoutMs) */
napi_value js_cgroup_freeze(napi_env env, napi_callback_info info)
{
  napi_value argv[4], ret = NULL;
  struct cg_args a;
  bool freeze = false;
  int32_t timeout = 0;
  if (args_get(env, info, 4, argv) < 0 || get_cg_args(env, argv, &a) < 0 || arg_int32(env, argv[3], &timeout, "timeoutMs") < 0)
    goto out;
  napi_get_value_bool(env, argv[2], &freeze);
  if (cg_freeze(a.dirs, a.n, a.v2, freeze, timeout) < 0) {
    throw_cg(env);
    goto out;
  }
  ret = js_undefined(env);
out:
  cg_args_free(&a);
  return ret;
}

/* cgroupFrozen(version, dirs, requested): 1 frozen (or, requested: a freeze asked for), 0 not, -1 no freezer */
napi_value js_cgroup_frozen(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  struct cg_args a;
  bool requested = false;
  if (args_get(env, info, 3, argv) < 0 || get_cg_args(env, argv, &a) < 0)
    goto out;
  napi_get_value_bool(env, argv[2], &requested);
  napi_create_int32(env, requested ? cg_freeze_requested(a.dirs, a.n, a.v2) : cg_frozen(a.dirs, a.n, a.v2), &ret);
out:
  cg_args_free(&a);
  return ret;
}

/* cgroupKill(version, dirs, signal): every process of the cgroup (manager.h: cg_kill_all) */
napi_value js_cgroup_kill(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  struct cg_args a;
  int32_t sig = 0;
  if (args_get(env, info, 3, argv) < 0 || get_cg_args(env, argv, &a) < 0 || arg_int32(env, argv[2], &sig, "signal") < 0)
    goto out;
  if (cg_kill_all(a.dirs, a.n, a.v2, sig) < 0) {
    throw_cg(env);
    goto out;
  }
  ret = js_undefined(env);
out:
  cg_args_free(&a);
  return ret;
}

/* cgroupRemove(version, dirs, timeoutMs): rmdir each, waiting while one is busy */
napi_value js_cgroup_remove(napi_env env, napi_callback_info info)
{
  napi_value argv[3], ret = NULL;
  struct cg_args a;
  int32_t timeout = 0;
  if (args_get(env, info, 3, argv) < 0 || get_cg_args(env, argv, &a) < 0 || arg_int32(env, argv[2], &timeout, "timeoutMs") < 0)
    goto out;
  if (cg_remove(a.dirs, a.n, a.v2, timeout, false) < 0) {
    throw_cg(env);
    goto out;
  }
  ret = js_undefined(env);
out:
  cg_args_free(&a);
  return ret;
}
