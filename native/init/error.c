/* The OCI code's error record (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct oci_error oci_err;

int fail(int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(oci_err.msg, sizeof oci_err.msg, fmt, ap);
  va_end(ap);
  if (errnum && n >= 0 && (size_t)n < sizeof oci_err.msg)
    snprintf(oci_err.msg + n, sizeof oci_err.msg - (size_t)n, ": %s", strerror(errnum));
  /* one line, whatever the detail held */
  for (char *c = oci_err.msg; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  oci_err.errnum = errnum;
  return -1;
}
