/*
 * The root overlay as a detached mount, made by the container process or,
 * for a container in a user namespace, by the monitor. There its lower
 * layers are idmapped mounts (open_tree + mount_setattr MOUNT_ATTR_IDMAP with
 * the container's user namespace; overlayfs takes idmapped lower layers since
 * Linux 5.19; the overlay itself cannot be idmapped, and with an idmapped
 * upper layer this kernel mounts it read-only): the image's files, owned by 0
 * on disk, are root's in the container; upper/ is plain, so what the
 * container writes is owned by the host ids it maps to (upper/ itself is
 * given to the namespace's root: it is the container's /). Nothing of the
 * image is chowned.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X_FSOPEN_CLOEXEC 0x1u
#define X_FSCONFIG_SET_FLAG 0u
#define X_FSCONFIG_SET_STRING 1u
#define X_FSCONFIG_CMD_CREATE 6u
#define X_FSMOUNT_CLOEXEC 0x1u
#define X_OPEN_TREE_CLONE 0x1u
#define X_MOUNT_ATTR_IDMAP 0x00100000u
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct x_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The paths overlayfs is given: the plan's, or /proc/self/fd/N of idmapped clones of them. */
struct layers {
  char **lowers;
  char upper[64 + 4096], work[64 + 4096];
  int *fds;
  size_t nfds;
};

static void close_layers(struct layers *l)
{
  for (size_t i = 0; i < l->nfds; i++)
    close(l->fds[i]);
  if (l->fds) { /* lowers are ours (the /proc/self/fd paths), not the plan's */
    for (size_t i = 0; l->lowers && i < l->nfds; i++)
      free(l->lowers[i]);
    free(l->lowers);
  }
  free(l->fds);
}

static int idmapped(const char *path, int userns)
{
  int t = (int)syscall(SYS_open_tree, AT_FDCWD, path, X_OPEN_TREE_CLONE | O_CLOEXEC);
  struct x_mount_attr a = { .attr_set = X_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
  if (t >= 0 && syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &a, sizeof a) < 0) {
    int err = errno;
    close(t);
    errno = err;
    return -1;
  }
  return t;
}

static int layer_paths(const struct plan *p, int userns, struct layers *l, const char **step, char *detail, size_t len)
{
  memset(l, 0, sizeof *l);
  snprintf(l->upper, sizeof l->upper, "%s", p->upper);
  snprintf(l->work, sizeof l->work, "%s", p->work);
  if (userns < 0) {
    l->lowers = p->lowers;
    return 0;
  }
  *step = "idmapped overlay layer";
  l->fds = calloc(p->nlowers + 1, sizeof *l->fds);
  l->lowers = calloc(p->nlowers + 1, sizeof *l->lowers);
  if (!l->fds || !l->lowers)
    return -1;
  for (size_t i = 0; i < p->nlowers; i++) {
    int fd = idmapped(p->lowers[i], userns);
    if (fd < 0) {
      snprintf(detail, len, "%s", p->lowers[i]);
      close_layers(l);
      return -1;
    }
    l->fds[l->nfds++] = fd;
    if (asprintf(&l->lowers[i], "/proc/self/fd/%d", fd) < 0)
      return -1;
  }
  return 0;
}

/* The host id that id 0 of pid's user namespace is (its uid_map or gid_map), or -1. */
static long host_root(pid_t pid, const char *map)
{
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, map);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0)
    close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long inside, outside, count;
    if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && count > 0)
      return (long)outside;
  }
  return -1;
}

int own_upper_root(const struct plan *p, pid_t pid)
{
  long uid = host_root(pid, "uid_map"), gid = host_root(pid, "gid_map");
  if (uid < 0 || gid < 0) {
    errno = EINVAL;
    return -1;
  }
  return lchown(p->upper, (uid_t)uid, (gid_t)gid);
}

int make_root_overlay(const struct plan *p, int userns, const char **step, char *detail, size_t len)
{
  struct layers l;
  if (layer_paths(p, userns, &l, step, detail, len) < 0)
    return -1;
  snprintf(detail, len, "%s", p->rootfs);
  *step = "fsopen overlay";
  int fs = (int)syscall(SYS_fsopen, "overlay", X_FSOPEN_CLOEXEC);
  if (fs < 0) {
    close_layers(&l);
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < p->nlowers; i++)
    if ((rc = (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_SET_STRING, "lowerdir+", l.lowers[i], 0)) < 0) {
      *step = "overlay lowerdir+";
      snprintf(detail, len, "%s", p->lowers[i]);
    }
  if (rc == 0 && (rc = (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_SET_STRING, "upperdir", l.upper, 0)) < 0) {
    *step = "overlay upperdir";
    snprintf(detail, len, "%s", p->upper);
  }
  if (rc == 0 && (rc = (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_SET_STRING, "workdir", l.work, 0)) < 0) {
    *step = "overlay workdir";
    snprintf(detail, len, "%s", p->work);
  }
  for (size_t i = 0; rc == 0 && i < p->noverlay_opts; i++) {
    char kv[256];
    snprintf(kv, sizeof kv, "%s", p->overlay_opts[i]);
    char *eq = strchr(kv, '=');
    if (eq)
      *eq = '\0';
    /* "key=value" is a string option, a bare "key" (volatile) a flag */
    rc = eq ? (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_SET_STRING, kv, eq + 1, 0) : (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_SET_FLAG, kv, NULL, 0);
    if (rc < 0) {
      *step = "overlay option";
      snprintf(detail, len, "%s", kv);
    }
  }
  if (rc == 0 && (rc = (int)syscall(SYS_fsconfig, fs, X_FSCONFIG_CMD_CREATE, NULL, NULL, 0)) < 0) {
    int err = errno;
    char log[512] = "";
    ssize_t n = read(fs, log, sizeof log - 1);
    log[n > 0 ? n : 0] = '\0';
    *step = "create overlay";
    if (*log)
      snprintf(detail, len, "%s", log);
    errno = err;
  }
  int mfd = rc == 0 ? (int)syscall(SYS_fsmount, fs, X_FSMOUNT_CLOEXEC, 0) : -1;
  if (rc == 0 && mfd < 0)
    *step = "fsmount overlay";
  int err = errno;
  close(fs);
  close_layers(&l);
  errno = err;
  return mfd;
}

