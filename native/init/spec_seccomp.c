/*
 * linux.seccomp → the launcher's seccomp rules (any profile: every action
 * libseccomp knows but NOTIFY, errnoRet, args with every comparison,
 * architectures, flags). The filter itself is compiled by seccomp.c.
 * SCMP_ACT_NOTIFY needs a listener (seccomp agent) this runtime does not
 * run: a profile that uses it is refused, not weakened.
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int action(const char *name, bool has_errno, int64_t errno_ret, uint32_t *out)
{
  uint32_t e = has_errno ? (uint32_t)errno_ret : EPERM;
  if (!name)
    return fail(0, "config.json: seccomp action missing");
  if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
    *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
    *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(name, "SCMP_ACT_TRAP"))
    *out = SCMP_ACT_TRAP;
  else if (!strcmp(name, "SCMP_ACT_ERRNO"))
    *out = SCMP_ACT_ERRNO(e);
  else if (!strcmp(name, "SCMP_ACT_TRACE"))
    *out = SCMP_ACT_TRACE(e);
  else if (!strcmp(name, "SCMP_ACT_ALLOW"))
    *out = SCMP_ACT_ALLOW;
  else if (!strcmp(name, "SCMP_ACT_LOG"))
    *out = SCMP_ACT_LOG;
  else if (!strcmp(name, "SCMP_ACT_NOTIFY"))
    return fail(0, "config.json: seccomp action SCMP_ACT_NOTIFY is not supported (no seccomp agent)");
  else
    return fail(0, "config.json: unknown seccomp action %s", name);
  if (has_errno && errno_ret < 0)
    return fail(0, "config.json: seccomp errnoRet must not be negative");
  return 0;
}

static int compare_op(const char *name, int *out)
{
  static const struct {
    const char *name;
    int op;
  } OPS[] = { { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
              { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
              { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ } };
  for (size_t i = 0; name && i < sizeof OPS / sizeof *OPS; i++)
    if (!strcmp(OPS[i].name, name)) {
      *out = OPS[i].op;
      return 0;
    }
  return fail(0, "config.json: unknown seccomp operator %s", name ? name : "(none)");
}

static int read_flags(json_object *sc, struct oci *o)
{
  char **flags = NULL;
  size_t n = 0;
  if (jget_strv(sc, "flags", "linux.seccomp.", &flags, &n) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(flags[i], "SECCOMP_FILTER_FLAG_TSYNC"))
      o->seccomp_flags |= SECCOMP_FILTER_FLAG_TSYNC;
    else if (!strcmp(flags[i], "SECCOMP_FILTER_FLAG_LOG"))
      o->seccomp_flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (!strcmp(flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
      o->seccomp_flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else
      return fail(0, "config.json: unsupported seccomp flag %s", flags[i]);
  }
  return 0;
}

static int read_arches(json_object *sc, struct oci *o)
{
  if (jget_strv(sc, "architectures", "linux.seccomp.", &o->seccomp_arches, &o->nseccomp_arches) < 0)
    return -1;
  for (size_t i = 0; i < o->nseccomp_arches; i++) {
    const char *a = o->seccomp_arches[i];
    char lower[64];
    size_t k = 0;
    if (strncmp(a, "SCMP_ARCH_", 10) == 0)
      for (const char *c = a + 10; *c && k < sizeof lower - 1; c++)
        lower[k++] = (char)tolower((unsigned char)*c);
    lower[k] = '\0';
    if (!k || seccomp_arch_resolve_name(lower) == 0)
      return fail(0, "config.json: unknown seccomp architecture %s", a);
  }
  return 0;
}

static int read_rule(json_object *r, struct oci *o)
{
  char *act = NULL, **names = NULL;
  size_t nnames = 0;
  int64_t eret = 0;
  bool has_eret = false;
  json_object *args;
  if (jget_str(r, "action", "linux.seccomp.syscalls[].", &act) < 0 || jget_strv(r, "names", "linux.seccomp.syscalls[].", &names, &nnames) < 0 ||
      jget_i64(r, "errnoRet", "linux.seccomp.syscalls[].", &has_eret, &eret) < 0 || jget_arr(r, "args", "linux.seccomp.syscalls[].", &args) < 0)
    return -1;
  uint32_t a;
  if (action(act, has_eret, eret, &a) < 0)
    return -1;
  if (!nnames)
    return fail(0, "config.json: linux.seccomp.syscalls[].names must not be empty");
  struct sc_rule rule = { .action = a };
  for (size_t i = 0; args && i < json_object_array_length(args); i++) {
    json_object *g = json_object_array_get_idx(args, i);
    uint64_t idx = 0, v1 = 0, v2 = 0;
    bool hidx = false;
    char *op = NULL;
    int cmp = 0;
    if (jget_u64(g, "index", "linux.seccomp.syscalls[].args[].", &hidx, &idx) < 0 || jget_u64(g, "value", "linux.seccomp.syscalls[].args[].", NULL, &v1) < 0 ||
        jget_u64(g, "valueTwo", "linux.seccomp.syscalls[].args[].", NULL, &v2) < 0 || jget_str(g, "op", "linux.seccomp.syscalls[].args[].", &op) < 0 ||
        compare_op(op, &cmp) < 0)
      return -1;
    if (!hidx || idx > 5 || rule.nargs == 6)
      return fail(0, "config.json: seccomp args: index must be 0..5, at most 6 per rule");
    rule.args[rule.nargs++] = (struct sc_arg){ (unsigned)idx, cmp, v1, v2 };
  }
  struct plan *p = &o->p;
  for (size_t i = 0; i < nnames; i++) {
    p->rules = grow(p->rules, &p->nrules, sizeof *p->rules);
    p->rules[p->nrules - 1] = rule;
    p->rules[p->nrules - 1].name = names[i];
  }
  return 0;
}

int spec_read_seccomp(json_object *sc, struct oci *o)
{
  char *def = NULL, *listener = NULL;
  int64_t eret = 0;
  bool has_eret = false;
  json_object *rules;
  if (jget_str(sc, "defaultAction", "linux.seccomp.", &def) < 0 || jget_i64(sc, "defaultErrnoRet", "linux.seccomp.", &has_eret, &eret) < 0 ||
      jget_str(sc, "listenerPath", "linux.seccomp.", &listener) < 0 || jget_arr(sc, "syscalls", "linux.seccomp.", &rules) < 0 ||
      read_flags(sc, o) < 0 || read_arches(sc, o) < 0)
    return -1;
  if (listener && *listener)
    return fail(0, "config.json: linux.seccomp.listenerPath is not supported (no seccomp agent)");
  if (action(def, has_eret, eret, &o->p.seccomp_default) < 0)
    return -1;
  o->p.seccomp = true;
  for (size_t i = 0; rules && i < json_object_array_length(rules); i++)
    if (read_rule(json_object_array_get_idx(rules, i), o) < 0)
      return -1;
  return 0;
}
