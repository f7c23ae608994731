/*
 * The runtime spec's state JSON, built in one place for both executables:
 * tsrun-runtime's `state` verb and the state every hook reads on its stdin
 * (tsrun-runtime's create/start/delete, tsrun-init's run). Fields are the
 * spec's (ociVersion, id, status, pid, bundle, annotations) plus runc's
 * extras for `state` (rootfs, created) when the caller has them.
 */
#ifndef TSRUN_OCI_STATE_H
#define TSRUN_OCI_STATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

struct oci_state {
  const char *id, *status, *bundle;
  pid_t pid;               /* written as 0 when stopped or unknown (as runc's state) */
  json_object *annotations; /* NULL: {} */
  const char *rootfs;       /* runc's extra, NULL: left out */
  const char *created;      /* runc's extra (RFC 3339), NULL or "": left out */
};

/* malloc'd JSON text; pretty for a person (`state`), plain for a hook's stdin */
char *oci_state_json(const struct oci_state *s, bool pretty);

#endif
