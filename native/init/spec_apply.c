/*
 * What a spec asks for beyond the launcher's plan, carried out by the same
 * code in tsrun-init (run.c) and tsrun-runtime (native/runtime/): sysctls,
 * the id maps of a new user namespace, device nodes as bind mounts where
 * mknod is refused (see spec.h).
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * linux.sysctl, by the container process in its own namespaces (a /proc/sys
 * file acts on the namespaces of whoever writes it: net.* its network
 * namespace, kernel.shm* and the rest of IPC its IPC one). Written through
 * the /proc it can see before the read-only paths (docker's /proc/sys) go on.
 */
void write_sysctls(const struct oci *o, int sync)
{
  write_sysctls_of(o, sync, SYSCTL_ALL);
}

void write_sysctls_of(const struct oci *o, int sync, enum sysctl_part part)
{
  for (size_t i = 0; i < o->nsysctl; i++) {
    bool net = strncmp(o->sysctl[i].key, "net.", 4) == 0;
    if ((part == SYSCTL_NET && !net) || (part == SYSCTL_NOT_NET && net))
      continue;
    char path[512];
    int n = snprintf(path, sizeof path, "/proc/sys/%s", o->sysctl[i].key);
    if (n < 0 || (size_t)n >= sizeof path || strstr(o->sysctl[i].key, "..") || strchr(o->sysctl[i].key, '/')) {
      errno = EINVAL;
      child_fail(sync, "sysctl", o->sysctl[i].key);
    }
    for (char *c = path + 10; c < path + n; c++)
      if (*c == '.')
        *c = '/';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, o->sysctl[i].value, strlen(o->sysctl[i].value)) < 0)
      child_fail(sync, "sysctl", o->sysctl[i].key);
    close(fd);
  }
}

static int write_idmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n)
{
  char path[64], buf[4096];
  size_t len = 0;
  for (size_t i = 0; i < n && len < sizeof buf - 40; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%u %u %u\n", m[i].container, m[i].host, m[i].size);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
    int err = errno;
    if (fd >= 0)
      close(fd);
    return fail(err, "write %s", file);
  }
  close(fd);
  return 0;
}

/* The new user namespace's maps, written by the parent (in the host's) before the process goes on. */
int write_idmaps(pid_t pid, const struct oci *o)
{
  if (write_idmap(pid, "uid_map", o->uid_maps, o->nuid_maps) < 0 || write_idmap(pid, "gid_map", o->gid_maps, o->ngid_maps) < 0)
    return -1;
  return 0;
}

/* In a user namespace mknod is refused: the host's device nodes are bind-mounted instead (as runc). */
void devices_as_binds(struct plan *p)
{
  for (size_t i = 0; i < p->nops; i++) {
    struct op *d = &p->ops[i];
    if (d->kind == OP_MKNOD && (d->mode & S_IFMT) != S_IFIFO)
      *d = (struct op){ .kind = OP_MOUNT, .src = d->dst, .dst = d->dst, .fstype = "", .flags = MS_BIND, .data = "" };
  }
}
