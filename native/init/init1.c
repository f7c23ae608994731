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
#include <unistd.h>

void become_pid1(int sync)
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
    sigprocmask(SIG_SETMASK, &old, NULL);
    return;
  }
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
