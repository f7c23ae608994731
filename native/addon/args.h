/*
 * Argument unpacking shared by every binding. Each getter returns 0 on
 * success, or -1 after throwing a TypeError, so bindings read as
 * `if (arg_string(env, argv[0], &path, "target") < 0) return NULL;`.
 * Strings are malloc'd and owned by the caller (free() them).
 */
#ifndef TSRUN_ARGS_H
#define TSRUN_ARGS_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Fetches up to `want` arguments; missing ones read as undefined. */
int args_get(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

int arg_string(napi_env env, napi_value v, char **out, const char *name);
/* Like arg_string, but null/undefined give *out = NULL (e.g. mount's source). */
int arg_string_or_null(napi_env env, napi_value v, char **out, const char *name);
int arg_int32(napi_env env, napi_value v, int32_t *out, const char *name);
int arg_uint32(napi_env env, napi_value v, uint32_t *out, const char *name);
/* Borrows a Buffer/Uint8Array's bytes; valid while the JS value is alive (this call). */
int arg_bytes(napi_env env, napi_value v, void **data, size_t *len, const char *name);

/* True when v is null or undefined (optional fields). */
int is_nullish(napi_env env, napi_value v);

#endif
