/* Small helpers: status lines to tsrun, child error reports, fd passing, sealed self re-exec. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      /* tsrun's stdout may be a non-blocking pipe (libuv sets O_NONBLOCK on the shared description) */
      struct pollfd pf = { .fd = fd, .events = POLLOUT };
      poll(&pf, 1, -1);
      continue;
    }
    if (w < 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

void status_ok(pid_t pid)
{
  char line[64];
  int n = snprintf(line, sizeof line, "ok\t%d\n", (int)pid);
  write_all(STATUS_FD, line, (size_t)n);
}

/* Tabs and newlines in the detail would break the line protocol. */
static void clean(char *s)
{
  for (; *s; s++)
    if (*s == '\t' || *s == '\n' || *s == FIELD_SEP)
      *s = ' ';
}

void status_err(const char *step, int err, const char *detail)
{
  char line[1200];
  char d[1024];
  snprintf(d, sizeof d, "%s", detail ? detail : "");
  clean(d);
  int n = snprintf(line, sizeof line, "err\t%s\t%d\t%s\n", step, err, d);
  if (n > (int)sizeof line - 1)
    n = sizeof line - 1;
  write_all(STATUS_FD, line, (size_t)n);
}

_Noreturn void child_fail(int sync, const char *step, const char *detail)
{
  int err = errno;
  char msg[1200];
  int n = snprintf(msg, sizeof msg, "E%s%c%d%c%s", step, FIELD_SEP, err, FIELD_SEP, detail ? detail : "");
  if (n > (int)sizeof msg - 1)
    n = sizeof msg - 1;
  send(sync, msg, (size_t)n, MSG_NOSIGNAL);
  _exit(125);
}

int send_fd(int sock, int fd)
{
  char byte = 'T';
  struct iovec iov = { &byte, 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* One message; *fd gets a passed descriptor or -1. Returns bytes, 0 on EOF, -1 on error. */
int recv_msg(int sock, char *buf, size_t len, int *fd)
{
  struct iovec iov = { buf, len - 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  *fd = -1;
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_type == SCM_RIGHTS)
    memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return (int)n;
}

/*
 * Atomic: temp file in the same dir, rename. No fsync: exit.json is runtime
 * state on the path between the container's exit and tsrun's (an fsync costs
 * 2-20 ms on a busy disk); a reader still sees no file or the whole file, and
 * only a power cut can lose it, after which no container is running anyway
 * (see writeJsonReplace in src/util/atomic.ts).
 */
int write_file(const char *path, const char *data)
{
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  if (write_all(fd, data, strlen(data)) < 0) {
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, path) < 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* RFC 3339 with nanoseconds, UTC, as docker's json-file log writes it. */
void iso_time(char *out, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/*
 * CVE-2019-5736 class: a container process must never be able to write the
 * launcher binary through /proc/PID/exe (exec mode's child and --init's PID 1
 * run this binary inside the container's namespaces). So the launcher first
 * re-executes itself from a sealed memfd copy: writes and resizes are refused
 * by the kernel, and the host file is not reachable from it.
 */
#define SEALED_ARG "--sealed"
int seal_self(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], SEALED_ARG) == 0)
    return 0;
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0)
    return -1;
  struct stat st;
  if (fstat(src, &st) < 0)
    return -1;
  int mfd = memfd_create("tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return -1;
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
    if (n <= 0)
      return -1;
  }
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return -1;
  /* the same arguments, with SEALED_ARG after argv[0] */
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args)
    return -1;
  args[0] = argv[0];
  args[1] = SEALED_ARG;
  for (int i = 1; i < argc; i++)
    args[i + 1] = argv[i];
  extern char **environ;
  fexecve(mfd, args, environ);
  return -1;
}

/*
 * The argument area of this process (main records it), so a process that
 * stays inside the container without exec'ing (--init's PID 1) can show a
 * plain name instead of the launcher's host path and launch arguments.
 */
static char *args_start, *args_end;

void remember_args(int argc, char **argv)
{
  if (argc < 1)
    return;
  args_start = argv[0];
  args_end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
}

void set_process_title(const char *title)
{
  prctl(PR_SET_NAME, title);
  if (!args_start)
    return;
  size_t room = (size_t)(args_end - args_start);
  memset(args_start, 0, room);
  snprintf(args_start, room, "%s", title);
}

bool container_dir_exists(const char *root, const char *id)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/containers/%s", root, id);
  return access(dir, F_OK) == 0;
}
