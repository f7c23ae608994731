/*
 * Terminals. In the container: a pty from the container's own devpts
 * (/dev/ptmx → pts/ptmx), so `tty` inside says /dev/pts/0; the slave becomes
 * the controlling terminal of a new session (job control works) and fds 0-2;
 * the master goes to the monitor over the sync socket. On the user's side:
 * raw mode while attached, restored on every exit path.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>
#include <unistd.h>

void setup_child_tty(int sync, const struct winsize *ws, bool console)
{
  if (setsid() < 0)
    child_fail(sync, "setsid", NULL);
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    child_fail(sync, "open /dev/ptmx", NULL);
  if (unlockpt(master) < 0)
    child_fail(sync, "unlockpt", NULL);
  char name[64];
  if (ptsname_r(master, name, sizeof name) != 0)
    child_fail(sync, "ptsname", NULL);
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0)
    child_fail(sync, "open pty slave", name);
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    child_fail(sync, "set controlling terminal", name);
  if (ws && ws->ws_row)
    ioctl(slave, TIOCSWINSZ, ws);
  if (console) {
    int c = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (c >= 0)
      close(c);
    if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
      child_fail(sync, "bind /dev/console", name);
  }
  if (send_fd(sync, master) < 0)
    child_fail(sync, "send pty master", NULL);
  close(master);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0)
      child_fail(sync, "dup pty slave", NULL);
  if (slave > 2)
    close(slave);
}

static struct termios saved;
static int saved_fd = -1;

void term_restore(void)
{
  if (saved_fd >= 0)
    tcsetattr(saved_fd, TCSADRAIN, &saved);
  saved_fd = -1;
}

void term_raw(int fd)
{
  struct termios t;
  if (tcgetattr(fd, &t) < 0)
    return;
  saved = t;
  saved_fd = fd;
  /* fully raw, output too (as docker's term.MakeRaw): the container's own pty
   * already turned \n into \r\n; post-processing here would double the \r */
  cfmakeraw(&t);
  tcsetattr(fd, TCSADRAIN, &t);
  atexit(term_restore);
}
