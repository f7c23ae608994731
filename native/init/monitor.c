/*
 * The monitor: tsrun-init's parent half, alive as long as the container.
 * It forwards signals to the container process, copies a pty between the
 * user's terminal and the container, copies tsrun's stdin into the
 * container's (its pipe, or the pty), copies the container's output (pipes,
 * or the pty) to the json-file log (docker's format: {"log","stream","time"}
 * per line) and, in the foreground, on to tsrun's stdout/stderr, reaps the
 * container and records how it ended.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384

struct stream {
  int fd;             /* read end (pipe or pty master) */
  const char *name;   /* "stdout" / "stderr" */
  int out;            /* where raw bytes go (foreground tty), or -1 */
  char buf[LINE_MAX_BYTES];
  size_t len;
};

int exit_code(int status)
{
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}

void write_exit_file(const char *path, int status)
{
  char when[64], sig[48] = "", json[256];
  iso_time(when, sizeof when);
  if (WIFSIGNALED(status)) {
    const char *abbrev = sigabbrev_np(WTERMSIG(status));
    snprintf(sig, sizeof sig, ",\"signal\":\"SIG%s\"", abbrev ? abbrev : "UNKNOWN");
  }
  snprintf(json, sizeof json, "{\"exitCode\":%d%s,\"finishedAt\":\"%s\"}\n", exit_code(status), sig, when);
  write_file(path, json);
}

static int log_fd = -1;

/* One json-file record; the text is JSON-escaped byte by byte (invalid UTF-8 passes through as is). */
static void log_record(const char *stream, const char *data, size_t len)
{
  if (log_fd < 0)
    return;
  size_t cap = len * 6 + 160;
  char *out = malloc(cap);
  if (!out)
    return;
  size_t o = (size_t)snprintf(out, cap, "{\"log\":\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    } else
      out[o++] = (char)c;
  }
  char when[64];
  iso_time(when, sizeof when);
  o += (size_t)snprintf(out + o, cap - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, when);
  write_all(log_fd, out, o);
  free(out);
}

/* Emits every complete line; a line longer than the buffer is emitted in pieces. */
static void log_feed(struct stream *s, const char *data, size_t n, bool flush)
{
  while (n) {
    size_t take = n < sizeof s->buf - s->len ? n : sizeof s->buf - s->len;
    memcpy(s->buf + s->len, data, take);
    s->len += take;
    data += take;
    n -= take;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++)
      if (s->buf[i] == '\n') {
        log_record(s->name, s->buf + start, i + 1 - start);
        start = i + 1;
      }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == sizeof s->buf) {
      log_record(s->name, s->buf, s->len);
      s->len = 0;
    }
  }
  if (flush && s->len) {
    log_record(s->name, s->buf, s->len);
    s->len = 0;
  }
}

/* Reads what is there; returns false at EOF/EIO (a pty master reads EIO once every slave is closed). */
static bool pump(struct stream *s)
{
  char buf[65536];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  bool gone = s->out >= 0 && write_all(s->out, buf, (size_t)n) < 0 && errno == EPIPE;
  log_feed(s, buf, (size_t)n, false);
  attach_output(s->name[3] == 'o' ? '1' : '2', buf, (size_t)n);
  if (gone) {
    /* the reader of tsrun's output went away (`tsrun run … | head`): close our end
       too, so the container gets SIGPIPE as it would writing there itself */
    close(s->fd);
    return false;
  }
  return true;
}

static void resize(int master)
{
  struct winsize ws;
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl(master, TIOCSWINSZ, &ws);
}

/*
 * Input on its way into the container: to the write end of the container's
 * stdin pipe, or to the pty master. From tsrun's stdin (a foreground run) and
 * from attach clients (attach.c). Never a blocking write (a container that
 * does not read its stdin must not stop the copying of its output): one
 * buffer, written as the other end takes it; stdin is read only when it is
 * empty. At the end of tsrun's stdin the pipe is closed (the container reads
 * EOF), or a pty gets its EOF character when stdin is not a terminal.
 */
#define INPUT_CAP (4 * ATTACH_MSG_MAX)
static struct input {
  int dst;
  bool reading, pty; /* reading: tsrun's stdin, in the foreground */
  bool close_drained; /* an attach client's stdin ended (docker's StdinOnce): close once written */
  bool keep_at_end;   /* the end of tsrun's stdin leaves a pipe open (p->stdin_keep) */
  char buf[INPUT_CAP];
  size_t len, off; /* what is still to write: buf[off, len) */
  bool keys_on;    /* a foreground terminal with detach keys */
  struct keys keys;
} in;

size_t monitor_input_room(void)
{
  return in.dst < 0 ? INPUT_CAP : INPUT_CAP - (in.len - in.off);
}

bool monitor_input(const char *data, size_t len)
{
  if (in.dst < 0)
    return true; /* the container has no stdin (any more): nowhere to go */
  if (in.off) {
    memmove(in.buf, in.buf + in.off, in.len - in.off);
    in.len -= in.off;
    in.off = 0;
  }
  if (len > INPUT_CAP - in.len)
    return false;
  memcpy(in.buf + in.len, data, len);
  in.len += len;
  return true;
}

/* docker's StdinOnce: the end of an attach client's stdin closes a pipe stdin, after what came before it. */
void monitor_input_close(void)
{
  if (in.dst >= 0 && !in.pty)
    in.close_drained = true;
}

static void input_end(bool stdin_ended)
{
  in.reading = false;
  in.close_drained = false;
  in.len = in.off = 0;
  if (!in.pty) {
    close(in.dst);
    in.dst = -1;
  } else if (stdin_ended && !isatty(STDIN_FILENO)) {
    struct termios t;
    char eof = 4;
    if (tcgetattr(in.dst, &t) == 0)
      eof = (char)t.c_cc[VEOF];
    if (write(in.dst, &eof, 1) < 0) {
      /* the container is gone or does not read: nothing more to tell it */
    }
  }
}

/* What to poll for: stdin while the buffer is empty, the destination while it is not. */
static struct pollfd input_poll(void)
{
  if (in.len && in.dst >= 0)
    return (struct pollfd){ .fd = in.dst, .events = POLLOUT };
  return (struct pollfd){ .fd = in.reading ? STDIN_FILENO : -1, .events = POLLIN };
}

/* Returns true when tsrun's stdin brought the detach keys. */
static bool input_step(short revents)
{
  if (!revents)
    return false;
  if (!in.len) {
    char tmp[ATTACH_MSG_MAX];
    ssize_t r = read(STDIN_FILENO, tmp, sizeof tmp);
    if (r > 0) {
      bool hit = false;
      in.off = 0;
      if (in.keys_on)
        in.len = keys_filter(&in.keys, tmp, (size_t)r, in.buf, &hit);
      else
        memcpy(in.buf, tmp, (size_t)(in.len = (size_t)r));
      return hit;
    }
    if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
      if (in.keep_at_end && !in.pty)
        in.reading = false; /* docker: without StdinOnce the container's stdin outlives ours */
      else
        input_end(true);
    }
    return false;
  }
  ssize_t w = write(in.dst, in.buf + in.off, in.len - in.off);
  if (w > 0 && (in.off += (size_t)w) == in.len)
    in.len = in.off = 0;
  else if (w < 0 && errno != EINTR && errno != EAGAIN)
    input_end(false); /* EPIPE: the container closed its stdin */
  return false;
}

/*
 * The detach keys on a foreground run's terminal: tsrun is let go (a
 * "detached" line on the status pipe, which closes; tsrun exits 0 without
 * waiting), the terminal is given back as it was, and this monitor goes on as
 * a detached one would: /dev/null for its stdio, a session of its own (the
 * user's terminal closing must not signal it), the container's --rm and
 * restart policy its own to carry out. Attach clients keep the container.
 */
static int host_null = -1;

/* The host's /dev/null for detach_foreground, opened while the host's filesystem is in reach:
   an exec's monitor is in the container's mount namespace when its terminal detaches, and the
   container's /dev/null may be anything (a FIFO would block the open). */
void monitor_open_null(void)
{
  host_null = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
}

static void detach_foreground(struct plan *p, struct stream *streams, int nstreams)
{
  term_restore();
  write_all(STATUS_FD, "detached\n", 9);
  close(STATUS_FD);
  int null = host_null >= 0 ? host_null : open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; null >= 0 && fd < 3; fd++)
    dup2(null, fd);
  if (null > 2)
    close(null);
  setsid();
  for (int i = 0; i < nstreams; i++)
    streams[i].out = -1;
  in.reading = false;
  in.keys_on = false;
  if (in.len == 0)
    in.off = 0;
  p->detach = true;
  watch_detached(p);
}

int monitor_loop(struct plan *p, pid_t child, int sfd, int master, int in_fd, int out_fd, int err_fd)
{
  struct stream streams[2];
  int nstreams = 0;
  bool attached_tty = master >= 0 && !p->detach;
  /* the container's stdin: the pty (with -i), or the pipe (-i without -t; -1 without -i) */
  /* field by field: a compound literal would zero the whole buffer (touching its pages) on every start */
  in.dst = master >= 0 ? (p->open_stdin ? master : -1) : in_fd;
  in.pty = master >= 0;
  in.len = in.off = 0;
  in.keys_on = false;
  in.close_drained = false;
  in.keep_at_end = p->stdin_keep;
  in.reading = in.dst >= 0 && !p->detach && !p->stdin_unattached;
  if (in.dst >= 0)
    fcntl(in.dst, F_SETFL, fcntl(in.dst, F_GETFL) | O_NONBLOCK);
  /* docker's json-file driver logs foreground containers too */
  if (p->log_file)
    log_fd = open(p->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (master >= 0) {
    streams[nstreams++] = (struct stream){ .fd = master, .name = "stdout", .out = attached_tty ? STDOUT_FILENO : -1 };
    if (attached_tty && p->open_stdin && !p->stdin_unattached && isatty(STDIN_FILENO)) {
      term_raw(STDIN_FILENO);
      /* docker's detach keys work on a terminal only */
      in.keys_on = p->ndetach_keys > 0;
      keys_init(&in.keys, p->detach_keys, p->ndetach_keys);
    }
  }
  /* in the foreground the pipes are passed through to tsrun's stdout/stderr as well */
  if (out_fd >= 0)
    streams[nstreams++] = (struct stream){ .fd = out_fd, .name = "stdout", .out = p->detach ? -1 : STDOUT_FILENO };
  if (err_fd >= 0)
    streams[nstreams++] = (struct stream){ .fd = err_fd, .name = "stderr", .out = p->detach ? -1 : STDERR_FILENO };
  const struct attach_target target = { .child = child, .master = master, .tty = master >= 0, .input = p->open_stdin };

  int status = 0;
  bool exited = false;
  bool open_s[2] = { true, true };
  while (!exited) {
    struct pollfd pf[32];
    int n = 0;
    pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
    /* no more output read while an attach client has not taken the last */
    bool backlog = attach_backlogged();
    for (int i = 0; i < nstreams; i++)
      pf[n++] = (struct pollfd){ .fd = open_s[i] && !backlog ? streams[i].fd : -1, .events = POLLIN };
    int in_idx = n;
    pf[n++] = input_poll();
    int at_idx = n;
    n += attach_pollfds(pf + n, (int)(sizeof pf / sizeof *pf) - n, in.dst < 0 || monitor_input_room() >= ATTACH_MSG_MAX + DETACH_KEYS_MAX);
    if (poll(pf, (nfds_t)n, watch_timeout(p)) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    /* signals first: a resize reaches the container's pty before the keys typed after it (the
       kernel queued the SIGWINCH before the terminal had them); what else is ready waits a round */
    if (pf[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) != sizeof si)
        continue;
      if (si.ssi_signo == SIGCHLD) {
        pid_t w;
        int st;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
          if (w == child) {
            status = st;
            exited = true;
          } else
            watch_reaped(p, w, st); /* a healthcheck the monitor ran */
        continue;
      }
      watch_signalled(p, (int)si.ssi_signo);
      if (si.ssi_signo == SIGWINCH && attached_tty)
        resize(master);
      else if (si.ssi_signo != SIGWINCH || master < 0)
        kill(child, (int)si.ssi_signo);
    }
    for (int i = 0; i < nstreams; i++)
      if (open_s[i] && (pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(&streams[i]))
        open_s[i] = false;
    if (input_step(pf[in_idx].revents)) {
      detach_foreground(p, streams, nstreams);
      attached_tty = false;
    }
    attach_events(pf + at_idx, n - at_idx, &target);
    if (in.close_drained && in.len == in.off)
      input_end(false);
    watch_tick(p);
  }
  /* the process is gone: take what is still buffered, without waiting for holders of the other end */
  for (int i = 0; i < nstreams; i++) {
    if (!open_s[i])
      goto flush;
    fcntl(streams[i].fd, F_SETFL, fcntl(streams[i].fd, F_GETFL) | O_NONBLOCK);
    for (int k = 0; k < 1024; k++) {
      char buf[65536];
      ssize_t r = read(streams[i].fd, buf, sizeof buf);
      if (r <= 0)
        break;
      if (streams[i].out >= 0 && write_all(streams[i].out, buf, (size_t)r) < 0 && errno == EPIPE)
        streams[i].out = -1;
      log_feed(&streams[i], buf, (size_t)r, false);
      attach_output(streams[i].name[3] == 'o' ? '1' : '2', buf, (size_t)r);
    }
  flush:
    log_feed(&streams[i], "", 0, true);
  }
  term_restore();
  return status;
}
