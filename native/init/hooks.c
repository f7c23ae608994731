/*
 * Hooks, for tsrun-init (run.c) and tsrun-runtime alike: each runs with the
 * state JSON on its stdin, the spec's args and env (args[0] is its argv[0];
 * none means the path) and its timeout, in order; the first that fails or
 * times out stops the lifecycle step (except poststart/poststop, whose
 * callers only log it, as the spec says).
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run_hook(const struct oci_hook *h, const char *kind, const char *state)
{
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0)
    return fail(errno, "%s hook %s: pipe", kind, h->path);
  pid_t pid = fork();
  if (pid < 0)
    return fail(errno, "%s hook %s: fork", kind, h->path);
  if (pid == 0) {
    dup2(in[0], 0);
    /* the hook's output must not go into a pipe the caller waits on to close (conmon's, containerd's) */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
      dup2(null, 1);
    char *defargs[] = { h->path, NULL };
    char *noenv[] = { NULL };
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(h->path, h->args && h->args[0] ? h->args : defargs, h->env ? h->env : noenv);
    dprintf(2, "%s hook %s: exec: %s\n", kind, h->path, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  /* a hook that does not read its stdin must not block or kill us; the disposition is put back:
     an ignored SIGPIPE would be inherited by the container's process through execve */
  struct sigaction ign = { .sa_handler = SIG_IGN }, old;
  sigaction(SIGPIPE, &ign, &old);
  write_all(in[1], state, strlen(state));
  close(in[1]);
  sigaction(SIGPIPE, &old, NULL);
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (h->timeout > 0 && pfd >= 0) {
    struct pollfd p = { .fd = pfd, .events = POLLIN };
    int r;
    do
      r = poll(&p, 1, h->timeout * 1000);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      close(pfd);
      return fail(0, "%s hook %s timed out after %ds", kind, h->path, h->timeout);
    }
  }
  if (pfd >= 0)
    close(pfd);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  if (WIFSIGNALED(st))
    return fail(0, "%s hook %s killed by signal %d", kind, h->path, WTERMSIG(st));
  return fail(0, "%s hook %s failed with exit status %d", kind, h->path, WEXITSTATUS(st));
}

int run_hooks(const struct oci *o, enum hook_kind k, const char *state)
{
  for (size_t i = 0; i < o->nhooks[k]; i++)
    if (run_hook(&o->hooks[k][i], hook_names[k], state) < 0)
      return -1;
  return 0;
}
