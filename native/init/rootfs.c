/*
 * The container's filesystem view, in the child, in kernel order:
 * private propagation, overlay root (new mount API, lowerdir+ per layer),
 * the plan's mount operations (proc, sys, dev, binds, tmpfs, masks, read-only
 * paths), read-only root, pivot_root. Every container path is resolved with
 * openat2(RESOLVE_IN_ROOT) from a handle on the root, so a symlink planted in
 * the image cannot point a mount at a host path, and it is resolved once:
 * binds are cloned (open_tree), made read-only while still detached
 * (mount_setattr, recursively: no mount below a `:ro` volume stays writable),
 * then attached by fd onto that handle (move_mount). Nothing is looked up a
 * second time, where another container sharing a volume could have swapped
 * the target for a symlink meanwhile. A target that resolves to the root
 * itself (an image's `/x -> /`) is refused, as runc does.
 *
 * Propagation: by default every mount of the namespace is made private
 * first, so nothing reaches the host or comes from it. A plan whose binds
 * share with the host or receive from it (-v SRC:DST:rshared|rslave, with
 * linux.rootfsPropagation shared or rslave as docker sets it) follows runc:
 * `/` rslave (or, for a shared bind, left a peer of the host), the mount
 * holding the rootfs dir a slave so that the overlay and pivot_root stay in
 * this namespace, each bind's propagation set once it is attached (the clone
 * keeps its source's peer group), the old root made rslave before it is
 * detached (that unmount must not reach the host), and the root propagation
 * applied to the new `/`.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define X_FSOPEN_CLOEXEC 0x1u
#define X_FSCONFIG_SET_FLAG 0u
#define X_FSCONFIG_SET_STRING 1u
#define X_FSCONFIG_CMD_CREATE 6u
#define X_FSMOUNT_CLOEXEC 0x1u
#define X_MOVE_MOUNT_F_EMPTY_PATH 0x4u
#define X_MOVE_MOUNT_T_EMPTY_PATH 0x40u
#define X_OPEN_TREE_CLONE 0x1u
#define X_MOUNT_ATTR_RDONLY 0x1u
#define X_MOUNT_ATTR_NOSUID 0x2u
#define X_MOUNT_ATTR_NODEV 0x4u
#define X_MOUNT_ATTR_NOEXEC 0x8u

/* MS_* propagation of the plan → mount_attr's propagation (MS_REC: AT_RECURSIVE, the whole tree) */
#define PROPAGATION_TYPE(f) ((f) & (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE))

/* linux/mount.h's struct mount_attr (that header clashes with glibc's sys/mount.h) */
struct x_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The container's root, to refuse mounts that resolve to it (set by setup_rootfs). */
static struct stat root_st;

static int resolve(int rootfd, const char *path, int flags)
{
  struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  const char *rel = path;
  while (*rel == '/')
    rel++;
  if (!*rel)
    rel = ".";
  return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
}

/*
 * An O_PATH handle on the container path, creating it (and its parents, as
 * directories) when missing: a directory, or an empty file when !dir.
 */
static int ensure(int rootfd, const char *path, bool dir, int sync)
{
  int fd = resolve(rootfd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  char *slash = strrchr(buf, '/');
  const char *name = slash ? slash + 1 : buf;
  int parent;
  if (slash && slash != buf) {
    *slash = '\0';
    parent = ensure(rootfd, buf, true, sync);
  } else
    parent = dup(rootfd);
  if (parent < 0)
    return -1;
  int r = dir ? mkdirat(parent, name, 0755) : close(openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  close(parent);
  if (r < 0 && errno != EEXIST)
    return -1;
  return resolve(rootfd, path, O_PATH);
}

static void fdpath(char *out, size_t len, int fd)
{
  snprintf(out, len, "/proc/self/fd/%d", fd);
}

/*
 * A mount target that resolved to the container's root (through an image's
 * `/x -> /` or `..`): mounting there would replace the whole root (no /proc,
 * /dev, /sys left). runc refuses it; so does tsrun.
 */
static void refuse_root(int fd, const char *dst, int sync)
{
  struct stat st;
  if (fstat(fd, &st) < 0)
    child_fail(sync, "stat mount target", dst);
  if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
    errno = EINVAL;
    child_fail(sync, "mount target is the root", dst);
  }
}

/* MS_* flags of the plan → MOUNT_ATTR_* for mount_setattr. */
static uint64_t mount_attrs(unsigned long flags)
{
  return ((flags & MS_RDONLY) ? X_MOUNT_ATTR_RDONLY : 0) | ((flags & MS_NOSUID) ? X_MOUNT_ATTR_NOSUID : 0) |
         ((flags & MS_NODEV) ? X_MOUNT_ATTR_NODEV : 0) | ((flags & MS_NOEXEC) ? X_MOUNT_ATTR_NOEXEC : 0);
}

/*
 * A detached clone of the tree at `from` (a host path, or "" with fromfd):
 * with the mounts below it when `rec` (rbind; tsrun's own binds always),
 * its attributes set (read-only: on every mount of the clone) before
 * attach_tree puts it on the open target.
 */
static int clone_tree(int fromfd, const char *from, bool rec, uint64_t attrs, const char *dst, int sync)
{
  unsigned flags = X_OPEN_TREE_CLONE | O_CLOEXEC | (rec ? AT_RECURSIVE : 0) | (*from ? 0 : AT_EMPTY_PATH);
  int tree = (int)syscall(SYS_open_tree, fromfd, from, flags);
  if (tree < 0)
    child_fail(sync, "open bind source", *from ? from : dst);
  struct x_mount_attr attr = { .attr_set = attrs };
  if (attrs && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    child_fail(sync, (attrs & X_MOUNT_ATTR_RDONLY) ? "make bind read-only" : "set bind mount flags", dst);
  return tree;
}

/* Attach the clone on the open target; then its propagation, when the plan gives one (runc sets it after the mount too). */
static void attach_tree(int tree, int fd, unsigned long prop, const char *dst, int sync)
{
  if (syscall(SYS_move_mount, tree, "", fd, "", X_MOVE_MOUNT_F_EMPTY_PATH | X_MOVE_MOUNT_T_EMPTY_PATH) < 0)
    child_fail(sync, "bind mount", dst);
  struct x_mount_attr attr = { .propagation = PROPAGATION_TYPE(prop) };
  if (attr.propagation && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | ((prop & MS_REC) ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    child_fail(sync, "set bind propagation", dst);
  close(tree);
}

static void do_mount(int rootfd, const struct op *o, int sync)
{
  char p[64];
  if (o->flags & MS_BIND) {
    int tree = clone_tree(AT_FDCWD, o->src, o->flags & MS_REC, mount_attrs(o->flags), o->dst, sync);
    struct stat st;
    if (fstat(tree, &st) < 0)
      child_fail(sync, "stat bind source", o->src);
    int fd = ensure(rootfd, o->dst, S_ISDIR(st.st_mode), sync);
    if (fd < 0)
      child_fail(sync, "create mount point", o->dst);
    refuse_root(fd, o->dst, sync);
    attach_tree(tree, fd, o->prop, o->dst, sync);
    close(fd);
    return;
  }
  int fd = ensure(rootfd, o->dst, true, sync);
  if (fd < 0)
    child_fail(sync, "create mount point", o->dst);
  refuse_root(fd, o->dst, sync);
  fdpath(p, sizeof p, fd);
  if (mount(*o->src ? o->src : o->fstype, p, o->fstype, o->flags, *o->data ? o->data : NULL) < 0)
    child_fail(sync, "mount", o->dst);
  close(fd);
}

static void do_mknod(int rootfd, const struct op *o, int sync)
{
  /* a device node on the container's /dev tmpfs; the parent exists (it is /dev) */
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", o->dst);
  char *slash = strrchr(buf, '/');
  if (!slash)
    child_fail(sync, "mknod", o->dst);
  *slash = '\0';
  int parent = ensure(rootfd, *buf ? buf : "/", true, sync);
  mode_t type = (o->mode & S_IFMT) ? (o->mode & S_IFMT) : S_IFCHR;
  if (parent < 0 || mknodat(parent, slash + 1, type | (o->mode & 07777), makedev(o->major, o->minor)) < 0)
    child_fail(sync, "mknod", o->dst);
  /* mknod honours the umask; the plan's mode is what the node must have */
  char p[64];
  int fd = openat(parent, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  fdpath(p, sizeof p, fd);
  if (fd < 0 || chmod(p, o->mode & 07777) < 0)
    child_fail(sync, "chmod device", o->dst);
  if (o->chown && fchownat(fd, "", o->uid, o->gid, AT_EMPTY_PATH) < 0)
    child_fail(sync, "chown device", o->dst);
  close(fd);
  close(parent);
}

static void do_symlink(int rootfd, const struct op *o, int sync)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", o->dst);
  char *slash = strrchr(buf, '/');
  if (!slash)
    child_fail(sync, "symlink", o->dst);
  *slash = '\0';
  int parent = ensure(rootfd, *buf ? buf : "/", true, sync);
  if (parent < 0 || (symlinkat(o->src, parent, slash + 1) < 0 && errno != EEXIST))
    child_fail(sync, "symlink", o->dst);
  close(parent);
}

static void do_mask(int rootfd, const struct op *o, int sync)
{
  char p[64], devnull[64];
  int fd = resolve(rootfd, o->dst, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT)
      return;
    child_fail(sync, "resolve masked path", o->dst);
  }
  refuse_root(fd, o->dst, sync);
  struct stat st;
  fstat(fd, &st);
  fdpath(p, sizeof p, fd);
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
      child_fail(sync, "mask directory", o->dst);
  } else {
    int nfd = resolve(rootfd, "/dev/null", O_PATH);
    if (nfd < 0)
      child_fail(sync, "resolve /dev/null", o->dst);
    fdpath(devnull, sizeof devnull, nfd);
    if (mount(devnull, p, NULL, MS_BIND, NULL) < 0)
      child_fail(sync, "mask file", o->dst);
    close(nfd);
  }
  close(fd);
}

static void do_ropath(int rootfd, const struct op *o, int sync)
{
  int fd = resolve(rootfd, o->dst, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT)
      return;
    child_fail(sync, "resolve read-only path", o->dst);
  }
  refuse_root(fd, o->dst, sync);
  /* a read-only clone of the path, attached onto itself: the same handle, never looked up again */
  attach_tree(clone_tree(fd, "", true, X_MOUNT_ATTR_RDONLY, o->dst, sync), fd, 0, o->dst, sync);
  close(fd);
}

static void attach_overlay(const struct plan *p, int mfd, int sync)
{
  if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, p->rootfs, X_MOVE_MOUNT_F_EMPTY_PATH) < 0)
    child_fail(sync, "move_mount overlay", p->rootfs);
  close(mfd);
}

static void mount_overlay(const struct plan *p, int sync)
{
  const char *step;
  char detail[512];
  int mfd = make_root_overlay(p, -1, &step, detail, sizeof detail);
  if (mfd < 0)
    child_fail(sync, step, detail);
  attach_overlay(p, mfd, sync);
}

/* A root propagation that keeps links to the host (shared or slave, not private). */
static bool linked_root(const struct plan *p)
{
  return p->root_propagation && !(p->root_propagation & MS_PRIVATE);
}

/* The mount holding `path` (a directory that is no mount point) made a slave: walk up to it (EINVAL: not a mount point). */
static void slave_parent_mount(const char *path, int sync)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (;;) {
    if (mount(NULL, *buf ? buf : "/", NULL, MS_SLAVE, NULL) == 0)
      return;
    char *slash = strrchr(buf, '/');
    if (errno != EINVAL || !slash)
      child_fail(sync, "make the rootfs parent mount a slave", buf);
    *slash = '\0';
  }
}

void mount_root_overlay(const struct plan *p, int sync, int mfd)
{
  if (!linked_root(p)) {
    /* nothing mounted from here on may propagate to or from the host */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
      child_fail(sync, "make / private", NULL);
  } else {
    /* runc's prepareRoot: receive from the host (a shared bind keeps the host's peers as they are) */
    if (!(p->root_propagation & MS_SHARED) && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
      child_fail(sync, "make / rslave", NULL);
    slave_parent_mount(p->rootfs, sync);
  }
  if (!p->upper) { /* no io.tsrun.overlay.*: root.path as it is, a mount of its own for pivot_root */
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
      child_fail(sync, "bind rootfs", p->rootfs);
    return;
  }
  if (mfd >= 0)
    attach_overlay(p, mfd, sync);
  else
    mount_overlay(p, sync);
}

void setup_rootfs(const struct plan *p, int sync)
{
  int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || fstat(rootfd, &root_st) < 0)
    child_fail(sync, "open rootfs", p->rootfs);
  for (size_t i = 0; i < p->nops; i++) {
    const struct op *o = &p->ops[i];
    switch (o->kind) {
    case OP_MOUNT:
      do_mount(rootfd, o, sync);
      break;
    case OP_MKNOD:
      do_mknod(rootfd, o, sync);
      break;
    case OP_SYMLINK:
      do_symlink(rootfd, o, sync);
      break;
    case OP_MASK:
      do_mask(rootfd, o, sync);
      break;
    case OP_ROPATH:
      do_ropath(rootfd, o, sync);
      break;
    case OP_MKDIR: {
      int fd = ensure(rootfd, o->dst, true, sync);
      if (fd < 0)
        child_fail(sync, "create working directory", o->dst);
      close(fd);
      break;
    }
    }
  }
  /* --read-only: the root mount alone (volumes keep their own mode), by its handle */
  struct x_mount_attr ro = { .attr_set = X_MOUNT_ATTR_RDONLY };
  if (p->readonly_rootfs && syscall(SYS_mount_setattr, rootfd, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
    child_fail(sync, "remount root read-only", p->rootfs);
  close(rootfd);
}

void pivot_to_rootfs(const struct plan *p, int sync)
{
  /* pivot_root(".", "."): the old root ends up stacked on the new one; detach it */
  int oldroot = linked_root(p) ? open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC) : -1;
  if (linked_root(p) && oldroot < 0)
    child_fail(sync, "open old root", NULL);
  if (chdir(p->rootfs) < 0)
    child_fail(sync, "chdir rootfs", p->rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    child_fail(sync, "pivot_root", p->rootfs);
  /* mount(2) reads "." as the new root under the old one (umount2 follows to the top mount): by its fd, as runc */
  if (oldroot >= 0 && (fchdir(oldroot) < 0 || mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0))
    child_fail(sync, "make the old root rslave", NULL);
  if (oldroot >= 0)
    close(oldroot);
  if (umount2(".", MNT_DETACH) < 0)
    child_fail(sync, "detach old root", NULL);
  if (chdir("/") < 0)
    child_fail(sync, "chdir /", NULL);
  if (linked_root(p) && mount(NULL, "/", NULL, p->root_propagation, NULL) < 0)
    child_fail(sync, "rootfsPropagation", "/");
}

/* --network none still has a loopback interface, up, as docker's does. */
void set_lo_up(int sync)
{
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    child_fail(sync, "get lo flags", NULL);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
    child_fail(sync, "bring lo up", NULL);
  close(s);
}
