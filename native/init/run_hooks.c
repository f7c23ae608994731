/*
 * A run's hook points, as the monitor and the container process carry them
 * out: the state hooks read, the creation hooks (prestart, createRuntime) once
 * the container's mounts are in place, poststart/poststop as warnings.
 */
#include "spec.h"
#include "../common/oci_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Hooks that run before the process starts need the state, which the monitor sends ('S'). */
bool needs_state(const struct oci *o)
{
  return o->nhooks[HOOK_PRESTART] || o->nhooks[HOOK_CREATE_RUNTIME] || o->nhooks[HOOK_CREATE_CONTAINER] || o->nhooks[HOOK_START_CONTAINER];
}

/* The state hooks read: the bundle is root.path's dir (tsrun's: the container's dir), the id its name. */
static char *state_of(const struct oci *o, const char *status, pid_t pid)
{
  char bundle[4096] = "/";
  if (o->root_path) {
    snprintf(bundle, sizeof bundle, "%s", o->root_path);
    char *slash = strrchr(bundle, '/');
    if (slash && slash != bundle)
      *slash = '\0';
    else
      strcpy(bundle, "/");
  }
  const char *id = strrchr(bundle, '/') ? strrchr(bundle, '/') + 1 : bundle;
  struct oci_state st = { .id = id, .status = status, .bundle = bundle, .pid = pid, .annotations = o->annotations };
  return oci_state_json(&st, false);
}

/* poststart, poststop: a failure is a warning and the rest goes on (the runtime spec) */
void run_hooks_warn(const struct oci *o, enum hook_kind k, const char *status, pid_t pid)
{
  if (!o->nhooks[k])
    return;
  char *state = state_of(o, status, pid);
  if (run_hooks(o, k, state) < 0)
    dprintf(STDERR_FILENO, "tsrun-init: warning: %s\n", oci_err.msg);
  free(state);
}

/*
 * prestart and createRuntime hooks, by the monitor (in the runtime's namespaces) once the
 * container process says its mounts are in place ('H'); then the state goes to it ('S') for its
 * createContainer hooks. An error record from it instead ends the launch (child_error_exit).
 */
int creation_hooks(const struct oci *o, pid_t pid, int sock, char *err, size_t errlen, const char **step)
{
  char msg[1300];
  int fd;
  int n = recv_msg(sock, msg, sizeof msg, &fd);
  if (n > 0 && msg[0] == 'E')
    child_error_exit(pid, msg);
  if (n <= 0 || msg[0] != 'H') {
    *step = "container process";
    snprintf(err, errlen, "exited during setup");
    return -ECHILD;
  }
  char *state = state_of(o, "creating", pid);
  int rc = 0;
  for (enum hook_kind k = HOOK_PRESTART; rc == 0 && k <= HOOK_CREATE_RUNTIME; k++)
    if (run_hooks(o, k, state) < 0) {
      *step = k == HOOK_PRESTART ? "prestart hook" : "createRuntime hook";
      snprintf(err, errlen, "%.255s", oci_err.msg);
      rc = -(oci_err.errnum ? oci_err.errnum : ECANCELED);
    }
  size_t len = strlen(state);
  char *smsg = malloc(len + 2);
  if (rc == 0 && smsg) {
    smsg[0] = 'S';
    memcpy(smsg + 1, state, len + 1);
    if (send(sock, smsg, len + 2, MSG_NOSIGNAL) < 0) {
      /* it failed meanwhile: its error record says why */
      n = recv_msg(sock, msg, sizeof msg, &fd);
      if (n > 0 && msg[0] == 'E')
        child_error_exit(pid, msg);
      *step = "container process";
      snprintf(err, errlen, "exited during setup");
      rc = -ECHILD;
    }
  }
  free(smsg);
  free(state);
  return rc;
}
