/*
 * --init: a minimal PID 1 (what docker's tini does). The calling process forks;
 * the child returns to exec the user's command; this process stays PID 1,
 * forwards the signals it gets to the child, reaps every orphan that the
 * kernel reparents to it, and exits with the child's status.
 */
#include "init.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

void become_pid1(int sync, bool tty)
{
  sigset_t set, old;
  sigfillset(&set);
  sigdelset(&set, SIGKILL);
  sigdelset(&set, SIGSTOP);
  sigprocmask(SIG_BLOCK, &set, &old);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0)
    child_fail(sync, "signalfd", NULL);
  pid_t child = fork();
  if (child < 0)
    child_fail(sync, "fork", NULL);
  if (child == 0) {
    close(sfd);
    /* tini's way: the child gets its own process group and, with a tty, the
       terminal's foreground, so ^C and job control reach it (once) and not
       PID 1; SIGTTOU is still blocked here, so tcsetpgrp cannot stop us */
    if (tty) {
      setpgid(0, 0);
      tcsetpgrp(STDIN_FILENO, getpid());
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return;
  }
  if (tty)
    setpgid(child, child); /* either side may run first */
  set_process_title("tsrun-init"); /* not the host path and launch arguments */
  close(sync); /* the child reports its exec; EOF reaches the monitor when it has exec'd */
  for (;;) {
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si)
      continue;
    if (si.ssi_signo != SIGCHLD) {
      kill(child, (int)si.ssi_signo);
      continue;
    }
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      if (w == child)
        _exit(exit_code(st));
  }
}
