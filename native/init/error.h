/*
 * The OCI code's one error convention (crun's): a function that fails records
 * errno and a one-line message here and returns -1; the caller returns -1 in
 * turn, and the command's entry prints the message once. Errors from inside
 * the container's namespaces come back over the sync socket (child_fail) and
 * are recorded here by the parent.
 */
#ifndef TSRUN_ERROR_H
#define TSRUN_ERROR_H

struct oci_error {
  int errnum;     /* 0 when the message says it all */
  char msg[1024];
};
extern struct oci_error oci_err;

/* Records the error (with errnum's text appended when nonzero) and returns -1. */
int fail(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
