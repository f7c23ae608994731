/*
 * Starting and reaping the launcher (tsrun-init) without node:child_process.
 *
 * Why: child_process drags in net, streams and dgram (~2 ms of every
 * `tsrun run` before anything happens), and its spawn() forks the whole Node
 * process and sets up stream objects for fds 3 and 4 (~2-3 ms more). Here it
 * is posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table copy) with
 * two pipes: the launcher gets the plan pipe's read end as fd 3 and the status
 * pipe's write end as fd 4; tsrun keeps the other ends, close-on-exec.
 *
 * The exit of the launcher is seen as EOF on the status pipe (the monitor
 * keeps fd 4 open until it exits, close-on-exec, so nothing else holds it),
 * and its status is then collected with waitpid(): Node's own SIGCHLD
 * handling (libuv) only reaps the children it spawned itself.
 */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* An fd that is not 0-4: dup2() onto 3 or 4 must never meet its own source. */
static int above_four(int fd)
{
  if (fd > 4)
    return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  int err = errno;
  close(fd);
  errno = err;
  return moved;
}

static int set_int(napi_env env, napi_value obj, const char *name, int v)
{
  napi_value n;
  return napi_create_int32(env, v, &n) == napi_ok && napi_set_named_property(env, obj, name, n) == napi_ok ? 0 : -1;
}

/*
 * spawnLauncher(path, detach[, stdio]) -> { pid, planFd, statusFd }
 * Foreground: fds 0-2 are tsrun's own, or the three fds of `stdio` (build's RUN
 * steps hand their own pipes: the output is read in-process). Detached:
 * /dev/null, in a new session.
 * Every signal starts with its default action and unblocked (Node ignores
 * SIGPIPE, and an ignored signal would stay ignored across exec).
 */
napi_value js_spawn_launcher(napi_env env, napi_callback_info info)
{
  napi_value argv[3], result = NULL;
  char *path = NULL;
  bool detach = false;
  int stdio[3] = { 0, 1, 2 };
  int plan[2] = { -1, -1 }, status[2] = { -1, -1 };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_ok = false, attr_ok = false;

  size_t argc = 3;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    throw_arg_error(env, "spawnLauncher(path, detach[, stdio])");
    goto out;
  }
  if (arg_string(env, argv[0], &path, "path") < 0)
    goto out;
  if (napi_get_value_bool(env, argv[1], &detach) != napi_ok) {
    throw_arg_error(env, "The \"detach\" argument must be of type boolean");
    goto out;
  }
  napi_valuetype t = napi_undefined;
  if (argc > 2 && napi_typeof(env, argv[2], &t) == napi_ok && t == napi_object) {
    for (uint32_t i = 0; i < 3; i++) {
      napi_value v;
      if (napi_get_element(env, argv[2], i, &v) != napi_ok || napi_get_value_int32(env, v, &stdio[i]) != napi_ok || stdio[i] < 0) {
        throw_arg_error(env, "The \"stdio\" argument must be an array of three fds");
        goto out;
      }
    }
  }
  if (pipe2(plan, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) {
    throw_errno(env, "pipe2", NULL);
    goto out;
  }
  if ((plan[0] = above_four(plan[0])) < 0 || (status[1] = above_four(status[1])) < 0) {
    throw_errno(env, "fcntl", NULL);
    goto out;
  }

  int rc = posix_spawn_file_actions_init(&fa);
  fa_ok = rc == 0;
  for (int fd = 0; fd < 3 && rc == 0; fd++) {
    if (detach)
      rc = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    else /* dup2 onto itself clears close-on-exec (glibc 2.29+): tsrun's stdio may carry it */
      rc = posix_spawn_file_actions_adddup2(&fa, stdio[fd], fd);
  }
  /* dup2 clears close-on-exec on the copies, which are all the launcher gets */
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&fa, plan[0], 3);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&fa, status[1], 4);
  if (rc == 0)
    rc = posix_spawnattr_init(&attr);
  attr_ok = rc == 0;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (detach ? POSIX_SPAWN_SETSID : 0);
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0)
    rc = posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  if (rc == 0) {
    char *args[] = { path, NULL };
    rc = posix_spawn(&pid, path, &fa, &attr, args, environ);
  }
  if (rc != 0) {
    errno = rc;
    throw_errno(env, "posix_spawn", path);
    goto out;
  }

  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok || set_int(env, obj, "pid", (int)pid) < 0 ||
      set_int(env, obj, "planFd", plan[1]) < 0 || set_int(env, obj, "statusFd", status[0]) < 0)
    goto out;
  plan[1] = status[0] = -1; /* now the caller's */
  result = obj;
out:
  if (fa_ok)
    posix_spawn_file_actions_destroy(&fa);
  if (attr_ok)
    posix_spawnattr_destroy(&attr);
  for (int i = 0; i < 2; i++) {
    if (plan[i] >= 0)
      close(plan[i]);
    if (status[i] >= 0)
      close(status[i]);
  }
  free(path);
  return result;
}

/*
 * waitpid(pid, block) -> null (still running, block=false) or
 * { code } / { signal } once it has exited. Only for our own children
 * (the launcher), which nothing else in Node reaps.
 */
napi_value js_waitpid(napi_env env, napi_callback_info info)
{
  napi_value argv[2], obj;
  int32_t pid = 0;
  bool block = true;
  if (args_get(env, info, 2, argv) < 0 || arg_int32(env, argv[0], &pid, "pid") < 0)
    return NULL;
  if (napi_get_value_bool(env, argv[1], &block) != napi_ok)
    return throw_arg_error(env, "The \"block\" argument must be of type boolean");
  int st = 0;
  pid_t r;
  do
    r = waitpid((pid_t)pid, &st, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return throw_errno(env, "waitpid", NULL);
  if (r == 0) {
    napi_value null;
    napi_get_null(env, &null);
    return null;
  }
  if (napi_create_object(env, &obj) != napi_ok)
    return NULL;
  if (WIFSIGNALED(st) ? set_int(env, obj, "signal", WTERMSIG(st)) : set_int(env, obj, "code", WEXITSTATUS(st)))
    return NULL;
  return obj;
}

/*
 * pipe() -> [readFd, writeFd], both close-on-exec: a build's RUN step hands the
 * write end to the launcher as its stdout/stderr (spawnLauncher's stdio) and
 * reads the other in-process (node has no pipe(2) of its own outside child_process).
 */
napi_value js_pipe(napi_env env, napi_callback_info info)
{
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return throw_errno(env, "pipe2", NULL);
  napi_value arr, v;
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok)
    goto fail;
  for (uint32_t i = 0; i < 2; i++)
    if (napi_create_int32(env, fds[i], &v) != napi_ok || napi_set_element(env, arr, i, v) != napi_ok)
      goto fail;
  return arr;
fail:
  close(fds[0]);
  close(fds[1]);
  return NULL;
}
