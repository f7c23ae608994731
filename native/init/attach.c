/*
 * The monitor's attach socket (conmon's attach socket, for `tsrun attach`):
 * a SOCK_SEQPACKET listener at the path of the io.tsrun.attach annotation
 * (ROOT/containers/ID/attach), bound through /proc/self/fd/DIRFD/NAME so that
 * a long --root never meets sun_path's 108 bytes.
 *
 * Messages, one per packet, first byte the kind:
 *   client → monitor  'H' FLAGS KEYS...  hello: FLAGS bit 0 = it sends stdin, bit 1 = its stdin's end
 *                                        is the container's (docker's StdinOnce); KEYS its detach keys
 *                     'I' DATA           for the container's stdin (its detach keys taken out here,
 *                                        with a terminal only, as docker's daemon does)
 *                     'E'                its stdin ended: with bit 1 and no terminal, the container's
 *                                        pipe is closed once what came before is written (docker's
 *                                        StdinOnce, set by `run -i`/`create -i`); else it stays open
 *                     'W' ROWS COLS      a resize of the pty (two native uint16)
 *                     'S' SIGNO          a signal for the container's process (--sig-proxy)
 *   monitor → client  '1' DATA, '2' DATA the container's stdout, stderr (a pty's output is stdout)
 *                     'D'                its detach keys came: it is let go
 *                     'X' CODE           the container exited with CODE (native int)
 * Every client gets all output from when it connected. A client that does not
 * take a message at once keeps it as its one pending message, and the monitor
 * reads no more output until every client has taken its own (docker's attach
 * too holds the container's output for a slow client), so nothing is dropped.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define MSG_DATA_MAX ATTACH_MSG_MAX

struct client {
  int fd;
  bool input; /* it sends stdin (not --no-stdin) */
  bool stdin_once; /* its stdin's end closes the container's */
  struct keys keys;
  char *pending; /* a message the socket has not taken yet */
  size_t pending_len;
};

static int listen_fd = -1;
static const char *sock_path;
static struct client clients[MAX_CLIENTS];
static int nclients;

int attach_listen(const struct plan *p)
{
  if (!p->attach_path)
    return 0;
  const char *slash = strrchr(p->attach_path, '/');
  char dir[PATH_MAX];
  if (!slash || !slash[1] || (size_t)(slash - p->attach_path) >= sizeof dir) {
    errno = EINVAL;
    return -1;
  }
  memcpy(dir, p->attach_path, (size_t)(slash - p->attach_path));
  dir[slash - p->attach_path] = '\0';
  int dfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  int n = snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", dfd, slash + 1);
  unlinkat(dfd, slash + 1, 0); /* the socket of the container's previous run */
  int fd = n < (int)sizeof a.sun_path ? socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) : -1;
  mode_t old = umask(077); /* root's only, whatever the dir allows */
  int rc = fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ? -1 : 0;
  int err = n < (int)sizeof a.sun_path ? errno : ENAMETOOLONG;
  umask(old);
  close(dfd);
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    errno = err;
    return -1;
  }
  listen_fd = fd;
  sock_path = p->attach_path;
  return 0;
}

static void drop(int i)
{
  close(clients[i].fd);
  free(clients[i].pending);
  clients[i] = clients[--nclients];
}

/* Sends what it can of [kind][data] now; the rest waits as the client's pending message. */
static int send_or_keep(struct client *c, char kind, const char *data, size_t len)
{
  struct iovec iov[2] = { { &kind, 1 }, { (void *)data, len } };
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
  if (sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
    return 0;
  if (errno != EAGAIN && errno != ENOBUFS)
    return -1;
  c->pending = malloc(len + 1);
  if (!c->pending)
    return -1;
  c->pending[0] = kind;
  memcpy(c->pending + 1, data, len);
  c->pending_len = len + 1;
  return 0;
}

/* The pending message, waiting up to ms for the client to take it. */
static int flush_pending(struct client *c, int ms)
{
  while (c->pending) {
    if (send(c->fd, c->pending, c->pending_len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      free(c->pending);
      c->pending = NULL;
      return 0;
    }
    if (errno != EAGAIN && errno != ENOBUFS)
      return -1;
    struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
    if (ms <= 0 || poll(&pf, 1, ms) <= 0)
      return ms <= 0 ? 0 : -1;
  }
  return 0;
}

void attach_output(char stream, const char *data, size_t len)
{
  for (int i = 0; i < nclients; i++) {
    /* only after the monitor's loop (the container gone, its last output drained) can a
       client still hold a message here: it gets a moment to take it */
    if (flush_pending(&clients[i], 2000) < 0 || clients[i].pending || send_or_keep(&clients[i], stream, data, len) < 0)
      drop(i--);
  }
}

bool attach_backlogged(void)
{
  for (int i = 0; i < nclients; i++)
    if (clients[i].pending)
      return true;
  return false;
}

int attach_pollfds(struct pollfd *pf, int max, bool take_input)
{
  int n = 0;
  if (listen_fd >= 0 && n < max)
    pf[n++] = (struct pollfd){ .fd = nclients < MAX_CLIENTS ? listen_fd : -1, .events = POLLIN };
  for (int i = 0; i < nclients && n < max; i++)
    pf[n++] = (struct pollfd){ .fd = clients[i].fd, .events = (short)((take_input ? POLLIN : 0) | (clients[i].pending ? POLLOUT : 0)) };
  return n;
}

/* One message from client i; false when the client is to be dropped. */
static bool client_message(struct client *c, const struct attach_target *t)
{
  static char msg[MSG_DATA_MAX + 64];
  static char out[MSG_DATA_MAX + 64 + DETACH_KEYS_MAX];
  ssize_t n = recv(c->fd, msg, sizeof msg, MSG_DONTWAIT);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n == 0)
    return false;
  switch (msg[0]) {
  case 'H':
    c->input = n > 1 && (msg[1] & 1);
    c->stdin_once = n > 1 && (msg[1] & 2);
    keys_init(&c->keys, (const unsigned char *)msg + 2, n > 2 ? (size_t)n - 2 : 0);
    return true;
  case 'I': {
    if (!c->input || !t->input)
      return true;
    bool hit = false;
    size_t o = (size_t)n - 1;
    const char *data = msg + 1;
    if (t->tty) { /* docker's daemon takes the detach keys out of a terminal's input only */
      o = keys_filter(&c->keys, msg + 1, (size_t)n - 1, out, &hit);
      data = out;
    }
    if (o)
      monitor_input(data, o);
    if (hit) {
      char d = 'D';
      send(c->fd, &d, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      return false;
    }
    return true;
  }
  case 'W':
    if (n >= 5 && t->master >= 0) {
      unsigned short rc[2];
      memcpy(rc, msg + 1, sizeof rc);
      struct winsize ws = { .ws_row = rc[0], .ws_col = rc[1] };
      ioctl(t->master, TIOCSWINSZ, &ws);
    }
    return true;
  case 'S':
    if (n >= 2 && msg[1] > 0 && msg[1] < 65)
      kill(t->child, msg[1]);
    return true;
  case 'E': /* docker's daemon: CloseStdin (StdinOnce) without a terminal */
    if (c->input && c->stdin_once && t->input && !t->tty)
      monitor_input_close();
    return true;
  default: /* what a newer client may send */
    return true;
  }
}

void attach_events(const struct pollfd *pf, int n, const struct attach_target *t)
{
  int k = 0;
  if (listen_fd >= 0 && k < n) {
    if (pf[k].revents & POLLIN) {
      int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0 && nclients < MAX_CLIENTS)
        clients[nclients++] = (struct client){ .fd = fd };
      else if (fd >= 0)
        close(fd);
    }
    k++;
  }
  /* the clients as attach_pollfds listed them (one accepted just now comes after them) */
  int listed = n - k;
  for (int i = listed - 1; i >= 0; i--) {
    short r = pf[k + i].revents;
    struct client *c = &clients[i];
    bool keep = true;
    if (r & POLLOUT)
      keep = flush_pending(c, 0) == 0;
    if (keep && (r & POLLIN)) {
      /* one message at most per client and round, while the input buffer has room for it */
      if (!t->input || monitor_input_room() >= MSG_DATA_MAX + DETACH_KEYS_MAX)
        keep = client_message(c, t);
    } else if (keep && (r & (POLLHUP | POLLERR)))
      keep = false;
    if (!keep)
      drop(i);
  }
}

/*
 * No new clients: the socket's path goes before exit.json is written. A
 * `start` or restart waiting for that file starts a new monitor, which binds
 * the same path; an unlink after that (this monitor flushing its clients for
 * seconds) would take the new monitor's socket away.
 */
void attach_stop_listening(void)
{
  if (listen_fd >= 0) {
    close(listen_fd);
    listen_fd = -1;
    unlink(sock_path);
  }
}

void attach_end(int code)
{
  for (int i = 0; i < nclients; i++) {
    struct client *c = &clients[i];
    if (flush_pending(c, 2000) == 0 && !c->pending) {
      char x[1 + sizeof code];
      x[0] = 'X';
      memcpy(x + 1, &code, sizeof code);
      struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
      poll(&pf, 1, 2000);
      send(c->fd, x, sizeof x, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    close(c->fd);
    free(c->pending);
  }
  nclients = 0;
  attach_stop_listening();
}
