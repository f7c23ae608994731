/*
 * One error convention for the whole addon (crun style): a failing call site
 * does `return throw_errno(env, "mount", target);` and the JS caller gets a
 * Node-shaped Error (code, errno, syscall, path) it can switch on exactly like
 * an error from node:fs.
 */
#ifndef TSRUN_ERRORS_H
#define TSRUN_ERRORS_H

#include <node_api.h>

/* Throws the error for the current errno; returns NULL so callers can `return` it. */
napi_value throw_errno(napi_env env, const char *syscall, const char *path);

/*
 * Same, for an explicit errno value, with an optional detail appended to the
 * message in parentheses (e.g. the kernel's fs-context log for overlay).
 */
napi_value throw_errno_detail(napi_env env, int err, const char *syscall,
                              const char *path, const char *detail);

/* Argument errors: a TypeError with code ERR_INVALID_ARG_TYPE, like Node's own. */
napi_value throw_arg_error(napi_env env, const char *what);

#endif
