/*
 * Confinement, in the order the kernel needs it:
 *   rlimits (raising a hard limit needs CAP_SYS_RESOURCE)
 *   bounding set (PR_CAPBSET_DROP needs CAP_SETPCAP)
 *   seccomp, when no_new_privs is off (loading then needs CAP_SYS_ADMIN; the
 *   filter was compiled, or taken from the cache, by the parent: seccomp.c)
 *   setgroups/setgid/setuid (need CAP_SETGID/SETUID)
 *   capset: the spec's effective, permitted and inheritable sets (tsrun gives a
 *   non-root user none, as docker), then its ambient set
 *   no_new_privs + seccomp, when no_new_privs is on (as late as possible)
 * then exec_process: chdir inside the new root, every fd but 0-2 close-on-exec,
 * execve with a PATH search done here (inside the container's root).
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

void apply_rlimits(const struct plan *p, int sync)
{
  for (size_t i = 0; i < p->nrlimits; i++) {
    struct rlimit r = { (rlim_t)p->rlimits[i].soft, (rlim_t)p->rlimits[i].hard };
    if (setrlimit(p->rlimits[i].resource, &r) < 0)
      child_fail(sync, "setrlimit", NULL);
  }
  /* --oom-score-adj: before the capabilities go (lowering it needs CAP_SYS_RESOURCE) */
  if (p->has_oom_score_adj) {
    char v[16];
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), n = snprintf(v, sizeof v, "%d", p->oom_score_adj);
    if (fd < 0 || write(fd, v, (size_t)n) != n)
      child_fail(sync, "write /proc/self/oom_score_adj", NULL);
    close(fd);
  }
}

/* the highest capability number this kernel knows (confine.c and tsrun-runtime's oci_confine) */
int last_cap(void)
{
  char buf[16] = "";
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  /* after pivot_root /proc is the container's own proc; cap_last_cap is readable there */
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0)
      return atoi(buf);
  }
  return CAP_LAST_CAP;
}

void confine(const struct plan *p, int sync)
{
  int last = last_cap();
  for (int c = 0; c <= last; c++)
    if (!(p->caps.bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      child_fail(sync, "drop bounding capability", NULL);
  if (p->seccomp && !p->nnp)
    load_prepared_seccomp(sync); /* prepared by the parent: seccomp.c */
  /* keep the permitted set across the switch to another uid: capset below sets what the spec says */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    child_fail(sync, "keep capabilities", NULL);
  if (setgroups(p->ngroups, p->groups) < 0)
    child_fail(sync, "setgroups", NULL);
  if (setresgid(p->gid, p->gid, p->gid) < 0)
    child_fail(sync, "setgid", NULL);
  if (setresuid(p->uid, p->uid, p->uid) < 0)
    child_fail(sync, "setuid", NULL);
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2], have[2];
  memset(data, 0, sizeof data);
  /* a set can only shrink: --privileged means every capability tsrun itself has */
  if (syscall(SYS_capget, &hdr, have) < 0)
    child_fail(sync, "capget", NULL);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(p->caps.effective >> (32 * i)) & have[i].permitted;
    data[i].permitted = (uint32_t)(p->caps.permitted >> (32 * i)) & have[i].permitted;
    data[i].inheritable = (uint32_t)(p->caps.inheritable >> (32 * i)) & have[i].permitted;
  }
  if (syscall(SYS_capset, &hdr, data) < 0)
    child_fail(sync, "capset", NULL);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  /* raised only when permitted and inheritable (the kernel's rule; runc leaves others out too) */
  uint64_t ambient = p->caps.ambient & p->caps.permitted & p->caps.inheritable;
  for (int c = 0; c <= last; c++)
    if ((ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      child_fail(sync, "raise ambient capability", NULL);
  if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(sync, "no_new_privs", NULL);
  if (p->seccomp && p->nnp)
    load_prepared_seccomp(sync); /* prepared by the parent: seccomp.c */
}

static const char *env_path(const struct plan *p)
{
  for (size_t i = 0; i < p->nenv; i++)
    if (strncmp(p->env[i], "PATH=", 5) == 0)
      return p->env[i] + 5;
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

_Noreturn void exec_process(const struct plan *p, int sync)
{
  if (chdir(p->cwd) < 0)
    child_fail(sync, "chdir", p->cwd);
  /* CVE-2024-21626 class: the cwd must be inside the new root, never a leaked host dir */
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') {
    errno = EPERM;
    child_fail(sync, "check working directory", p->cwd);
  }
  /* no descriptor of the launcher reaches the container; the sync socket closes on exec */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    child_fail(sync, "close_range", NULL);
  const char *file = p->argv[0];
  if (strchr(file, '/')) {
    execve(file, p->argv, p->env);
    child_fail(sync, "exec", file);
  }
  /* execvp's search, but over the container's PATH and with its errno rules */
  const char *path = env_path(p);
  int saw_eacces = 0, last = ENOENT;
  char full[4096];
  for (const char *s = path;;) {
    const char *e = strchr(s, ':');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    snprintf(full, sizeof full, "%.*s%s%s", (int)n, s, n ? "/" : "", file);
    execve(full, p->argv, p->env);
    if (errno == EACCES)
      saw_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR)
      last = errno;
    if (!e)
      break;
    s = e + 1;
  }
  errno = saw_eacces ? EACCES : last;
  child_fail(sync, "exec", file);
}
