/*
 * The process's confinement as the spec gives it (the launcher's confine()
 * knows one capability set; the spec has five), in the kernel's order:
 * bounding set, seccomp (when no_new_privs is off: loading needs
 * CAP_SYS_ADMIN), groups/gid/uid keeping capabilities across the switch,
 * capset of effective/permitted/inheritable, ambient, no_new_privs. With
 * no_new_privs, seccomp is loaded last, right before exec (oci_load_seccomp).
 * Then oci_exec: chdir, execve after a PATH search inside the container
 * (the init made every fd above 2+preserve_fds close-on-exec before seccomp:
 * an older profile may not allow close_range).
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int oci_load_seccomp(const struct oci *o)
{
  const void *buf;
  size_t len;
  prepared_seccomp_bytes(&buf, &len);
  if (!o->p.seccomp || !len)
    return 0;
  struct sock_fprog prog = { (unsigned short)(len / sizeof(struct sock_filter)), (struct sock_filter *)buf };
  return (int)syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, o->seccomp_flags, &prog);
}

void oci_confine(const struct oci *o, int sync)
{
  const struct plan *p = &o->p;
  int last = last_cap();
  for (int c = 0; c <= last; c++)
    if (!(o->p.caps.bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      child_fail(sync, "drop bounding capability", NULL);
  if (!p->nnp && oci_load_seccomp(o) < 0)
    child_fail(sync, "seccomp load", NULL);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    child_fail(sync, "keep capabilities", NULL);
  if (setgroups(p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
    child_fail(sync, "setgroups", NULL);
  if (setresgid(p->gid, p->gid, p->gid) < 0)
    child_fail(sync, "setgid", NULL);
  if (setresuid(p->uid, p->uid, p->uid) < 0)
    child_fail(sync, "setuid", NULL);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(o->p.caps.effective >> (32 * i));
    data[i].permitted = (uint32_t)(o->p.caps.permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(o->p.caps.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0)
    child_fail(sync, "capset", NULL);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  /* the kernel raises an ambient capability only if it is permitted and inheritable; like runc,
     one that is not is left out rather than failing the container (runc's default spec has them so) */
  uint64_t ambient = o->p.caps.ambient & o->p.caps.permitted & o->p.caps.inheritable;
  for (int c = 0; c <= last; c++)
    if ((ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      child_fail(sync, "raise ambient capability", NULL);
  if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(sync, "no_new_privs", NULL);
}

static const char *env_path(const struct plan *p)
{
  for (size_t i = 0; i < p->nenv; i++)
    if (strncmp(p->env[i], "PATH=", 5) == 0)
      return p->env[i] + 5;
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* argv[0] as execve will find it (inside the container's root): 0, or -1 with errno */
int find_executable(const struct plan *p, char *out, size_t len)
{
  const char *file = p->argv[0];
  struct stat st;
  if (strchr(file, '/')) {
    snprintf(out, len, "%s", file);
    return stat(out, &st) < 0 ? -1 : 0;
  }
  int last = ENOENT;
  for (const char *s = env_path(p);;) {
    const char *e = strchr(s, ':');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    snprintf(out, len, "%.*s%s%s", (int)n, s, n ? "/" : "", file);
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(out, X_OK) == 0)
        return 0;
      last = EACCES;
    }
    if (!e)
      break;
    s = e + 1;
  }
  errno = last;
  return -1;
}

void oci_exec(const struct plan *p)
{
  char full[4096];
  if (chdir(p->cwd) < 0 || find_executable(p, full, sizeof full) < 0)
    return;
  execve(full, p->argv, p->env);
}
