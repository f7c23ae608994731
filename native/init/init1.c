/*
 * --init: a minimal PID 1 (what docker's tini does). The calling process forks;
 * the child returns to exec the user's command; this process stays PID 1,
 * forwards the signals it gets to the child, reaps every orphan that the
 * kernel reparents to it, and exits with the child's status.
 *
 * Once it has forked, PID 1 re-executes itself (the sealed launcher, as
 * /proc/self/exe) with the container's environment: what tsrun-init had would
 * otherwise stay, as it never execs the user's command: the environment it
 * started with (tsrun's, the host's: /proc/1/environ and /proc/1/mem), the
 * plan, its fds. Like docker's tini it keeps the container's environment and
 * fds 0-2 only. (PR_SET_MM could repoint /proc/1/environ in place, but it
 * needs CAP_SYS_RESOURCE, which not every host grants even to root.)
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* every signal but the two that cannot be caught: forwarded to the child, SIGCHLD reaps */
static void pid1_signals(sigset_t *set)
{
  sigfillset(set);
  sigdelset(set, SIGKILL);
  sigdelset(set, SIGSTOP);
}

void become_pid1(const struct plan *p, int sync)
{
  sigset_t set, old;
  pid1_signals(&set);
  sigprocmask(SIG_BLOCK, &set, &old);
  /* until each has exec'd (which makes both dumpable again, as any process), the child's
     program must not read PID 1's memory (the plan, the environment it started with) */
  prctl(PR_SET_DUMPABLE, 0);
  /* the child waits at this gate until PID 1 has re-exec'd and named itself: a program that read
     /proc/1 at once would otherwise see the launcher's host path and arguments */
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0)
    child_fail(sync, "pipe", NULL);
  pid_t child = fork();
  if (child < 0)
    child_fail(sync, "fork", NULL);
  if (child == 0) {
    /* tini's way: the child gets its own process group and, with a tty, the
       terminal's foreground, so ^C and job control reach it (once) and not
       PID 1; SIGTTOU is still blocked here, so tcsetpgrp cannot stop us */
    if (p->tty) {
      setpgid(0, 0);
      tcsetpgrp(STDIN_FILENO, getpid());
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(gate[1]);
    char c;
    while (read(gate[0], &c, 1) < 0 && errno == EINTR)
      ;
    close(gate[0]);
    return;
  }
  close(gate[0]);
  if (p->tty)
    setpgid(child, child); /* either side may run first */
  /* the mask stays blocked across exec, and a SIGCHLD already pending stays pending; the
     sync socket closes on exec: EOF reaches the monitor once the child has exec'd too */
  char pid[16];
  snprintf(pid, sizeof pid, "%d", (int)child);
  char gatefd[16];
  snprintf(gatefd, sizeof gatefd, "%d", gate[1]);
  char *args[] = { "tsrun-init", PID1_ARG, pid, gatefd, NULL };
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  fcntl(gate[1], F_SETFD, 0); /* the one fd past 2 that crosses the exec; PID 1 closes it at once */
  execve("/proc/self/exe", args, p->env);
  kill(child, SIGKILL);
  child_fail(sync, "exec PID 1", "/proc/self/exe");
}

/* PID 1 after its re-exec (main sends tsrun-init --pid1 CHILD here): reap until the child ends. */
int pid1_main(int argc, char **argv)
{
  pid_t child = (pid_t)atoi(argv[2]);
  remember_args(argc, argv);
  int gate = atoi(argv[3]);          /* read before the title overwrites argv's memory */
  set_process_title("tsrun-init"); /* /proc/1/cmdline and comm: just the name */
  close(gate);                       /* opens the child's gate (become_pid1) */
  sigset_t set;
  pid1_signals(&set);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&set, &si) < 0)
      continue;
    if (si.si_signo != SIGCHLD) {
      kill(child, si.si_signo);
      continue;
    }
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      if (w == child)
        return exit_code(st);
  }
}
