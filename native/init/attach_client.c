/*
 * `tsrun attach`'s end of a monitor's attach socket (attach.c has the
 * protocol). tsrun runs it as tsrun-init with the one frame
 * "attach=FLAGS\x1fKEYS\x1fPATH": FLAGS letters i (send stdin), t (the
 * container has a terminal), p (--sig-proxy), o (the end of stdin closes the
 * container's: docker's StdinOnce); KEYS the detach keys in hex;
 * PATH the socket. On fd 4: "ok\t0" once connected (or "err\t…" when nothing
 * listens: the container is not running), then at the end one line:
 * "exit\tCODE" (the container's), "detached" (the keys came), "signal\tSIG"
 * (a signal ended the attach), or nothing (the monitor went away silently).
 *
 * Signals: tsrun (node) passes on what it gets to this process; with
 * --sig-proxy (no terminal) they go on to the container, except those the
 * terminal itself sent (SI_KERNEL: tsrun got the same one and passes it on, so
 * it would arrive twice). Without proxying, or with a terminal (docker's
 * client proxies only without one), a signal ends the attach.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define INPUT_CHUNK 32768

/* Through /proc/self/fd/DIRFD/NAME: a long --root would pass sun_path's 108 bytes. */
static int connect_socket(const char *path)
{
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (!slash || !slash[1] || (size_t)(slash - path) >= sizeof dir) {
    errno = EINVAL;
    return -1;
  }
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  int dfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  int n = snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", dfd, slash + 1);
  int fd = n < (int)sizeof a.sun_path ? socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) : -1;
  int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&a, sizeof a);
  int err = n < (int)sizeof a.sun_path ? errno : ENAMETOOLONG;
  close(dfd);
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* docker's resizeTTY: one size off by one first, so that the program redraws (a prompt) on attach. */
static void send_size(int sock, int tty_fd, int extra)
{
  struct winsize ws;
  if (tty_fd < 0 || ioctl(tty_fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row)
    return;
  unsigned short rc[2] = { (unsigned short)(ws.ws_row + extra), (unsigned short)(ws.ws_col + extra) };
  char msg[1 + sizeof rc] = { 'W' };
  memcpy(msg + 1, rc, sizeof rc);
  send(sock, msg, sizeof msg, MSG_NOSIGNAL);
}

static int parse_hex(const char *s, unsigned char *out, size_t max)
{
  size_t n = strlen(s);
  if (n % 2 || n / 2 > max)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned x;
    if (sscanf(s + 2 * i, "%2x", &x) != 1)
      return -1;
    out[i] = (unsigned char)x;
  }
  return (int)(n / 2);
}

static int finish(const char *line)
{
  term_restore();
  if (line)
    write_all(STATUS_FD, line, strlen(line));
  return 0;
}

int attach_client_main(char *frame)
{
  char *keys = strchr(frame, FIELD_SEP);
  char *path = keys ? strchr(keys + 1, FIELD_SEP) : NULL;
  unsigned char hello[2 + DETACH_KEYS_MAX] = { 'H', 0 };
  int nkeys = -1;
  if (path) {
    *keys++ = '\0';
    *path++ = '\0';
    nkeys = parse_hex(keys, hello + 2, DETACH_KEYS_MAX);
  }
  if (nkeys < 0) {
    status_err("attach", EINVAL, "attach=FLAGS\\x1fKEYS\\x1fPATH");
    return 125;
  }
  bool want_in = strchr(frame, 'i'), tty = strchr(frame, 't'), proxy = strchr(frame, 'p') && !tty;
  hello[1] = (unsigned char)((want_in ? 1 : 0) | (want_in && strchr(frame, 'o') ? 2 : 0));
  int sock = connect_socket(path);
  if (sock < 0) {
    status_err("attach", errno, path);
    return 125;
  }
  int sfd = block_signals();
  if (sfd < 0 || send(sock, hello, 2 + (size_t)nkeys, MSG_NOSIGNAL) < 0) {
    status_err("attach", errno, path);
    return 125;
  }
  status_ok(0);
  if (tty && want_in && isatty(STDIN_FILENO))
    term_raw(STDIN_FILENO);
  int size_fd = isatty(STDOUT_FILENO) ? STDOUT_FILENO : isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
  if (tty) {
    send_size(sock, size_fd, 1);
    send_size(sock, size_fd, 0);
  }
  static char msg[ATTACH_MSG_MAX + 64];
  static char pend[1 + INPUT_CHUNK]; /* an input message the monitor has not taken yet */
  size_t pend_len = 0;
  bool reading = want_in;
  for (;;) {
    struct pollfd pf[3] = {
      { .fd = sock, .events = (short)(POLLIN | (pend_len ? POLLOUT : 0)) },
      { .fd = reading && !pend_len ? STDIN_FILENO : -1, .events = POLLIN },
      { .fd = sfd, .events = POLLIN },
    };
    if (poll(pf, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return finish(NULL);
    }
    /* signals first: a resize goes to the monitor before the keys typed after it (the kernel
       queued the SIGWINCH before the terminal had them), so that `stty size` typed right after a
       resize sees the new size */
    if (pf[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD) {
        if (si.ssi_signo == SIGWINCH) {
          if (tty)
            send_size(sock, size_fd, 0);
        } else if (proxy) {
          char s[2] = { 'S', (char)si.ssi_signo };
          if (si.ssi_code != SI_KERNEL)
            send(sock, s, sizeof s, MSG_NOSIGNAL);
        } else {
          char line[32];
          snprintf(line, sizeof line, "signal\t%u\n", si.ssi_signo);
          return finish(line);
        }
      }
    }
    if (pf[1].revents) {
      ssize_t r = read(STDIN_FILENO, pend + 1, INPUT_CHUNK);
      if (r > 0) {
        pend[0] = 'I';
        pend_len = (size_t)r + 1;
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        reading = false;
        pend[0] = 'E';
        pend_len = 1;
      }
    }
    /* never a blocking send: the monitor may wait for this side to read output first */
    if (pend_len && send(sock, pend, pend_len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
      pend_len = 0;
    else if (pend_len && errno != EAGAIN && errno != ENOBUFS)
      return finish(NULL);
    if (pf[0].revents & POLLIN) {
      ssize_t n = recv(sock, msg, sizeof msg, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return finish(NULL);
      if (n > 0 && (msg[0] == '1' || msg[0] == '2'))
        write_all(msg[0] == '1' ? STDOUT_FILENO : STDERR_FILENO, msg + 1, (size_t)n - 1);
      else if (n > 0 && msg[0] == 'D')
        return finish("detached\n");
      else if (n > (ssize_t)sizeof(int) && msg[0] == 'X') {
        int code;
        char line[32];
        memcpy(&code, msg + 1, sizeof code);
        snprintf(line, sizeof line, "exit\t%d\n", code);
        return finish(line);
      }
    } else if (pf[0].revents & (POLLHUP | POLLERR))
      return finish(NULL);
  }
}
