/*
 * tsrun-runtime's command line: runc's global options, then a command with
 * its options and arguments. Options are Go-style, as runc's (urfave/cli):
 * -x or --x, a value as the next argument or after '='. On error: the
 * message on stderr (and, with --log, in the log file: text, or
 * {"level":"error","msg":…,"time":…} for --log-format json), exit status 1.
 */
#include "runtime.h"

#include <errno.h>
#include <seccomp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VERSION "0.1.0"

struct globals G = { .root = "/run/tsrun-runtime" };

static const struct {
  const char *name;
  int (*fn)(struct opts *);
  bool needs_id;
} COMMANDS[] = {
  { "create", cmd_create, true }, { "start", cmd_start, true }, { "state", cmd_state, true }, { "kill", cmd_kill, true },
  { "delete", cmd_delete, true }, { "list", cmd_list, false }, { "ps", cmd_ps, true }, { "pause", cmd_pause, true },
  { "resume", cmd_resume, true }, { "update", cmd_update, true }, { "exec", cmd_exec, true }, { "spec", cmd_spec, false },
  { "features", cmd_features, false },
};

static void log_line(const char *level, const char *msg)
{
  if (!G.log)
    return;
  int fd = open(G.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  char when[64];
  iso_time(when, sizeof when);
  if (G.log_json) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "level", json_object_new_string(level));
    json_object_object_add(o, "msg", json_object_new_string(msg));
    json_object_object_add(o, "time", json_object_new_string(when));
    dprintf(fd, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
  } else
    dprintf(fd, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
  close(fd);
}

static _Noreturn void die(const char *msg)
{
  log_line("error", msg);
  fprintf(stderr, "%s\n", msg);
  exit(1);
}

static void usage(void)
{
  printf("usage: tsrun-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [OPTIONS] ID\n"
         "commands: create start state kill delete exec ps list pause resume update spec features\n");
}

/* "--name=value", "--name value", "-name value": true when arg is option name (value in *val if wanted) */
static bool opt_is(char **argv, int argc, int *i, const char *name, const char **val)
{
  const char *a = argv[*i];
  if (a[0] != '-')
    return false;
  a += a[1] == '-' ? 2 : 1;
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
    return false;
  if (!val) {
    if (a[n] == '=') { /* a boolean given =true/=false */
      return strcmp(a + n + 1, "false") != 0;
    }
    return true;
  }
  if (a[n] == '=')
    *val = a + n + 1;
  else if (*i + 1 < argc)
    *val = argv[++*i];
  else {
    char m[128];
    snprintf(m, sizeof m, "flag needs an argument: -%s", name);
    die(m);
  }
  return true;
}

static void parse_command_opts(int argc, char **argv, int i, struct opts *op)
{
  op->args = calloc((size_t)argc + 1, sizeof *op->args);
  bool rest = false; /* after the ID (exec's command) or "--" everything is positional */
  for (; i < argc; i++) {
    const char *v = NULL;
    if (rest || argv[i][0] != '-' || !argv[i][1]) {
      op->args[op->nargs++] = argv[i];
      if (op->nargs >= 1)
        rest = true; /* runc's flags precede the ID */
      continue;
    }
    if (strcmp(argv[i], "--") == 0) {
      rest = true;
      continue;
    }
    if (opt_is(argv, argc, &i, "bundle", &v) || opt_is(argv, argc, &i, "b", &v))
      op->bundle = v;
    else if (opt_is(argv, argc, &i, "pid-file", &v))
      op->pid_file = v;
    else if (opt_is(argv, argc, &i, "console-socket", &v))
      op->console_socket = v;
    else if (opt_is(argv, argc, &i, "process", &v) || opt_is(argv, argc, &i, "p", &v))
      op->process = v;
    else if (opt_is(argv, argc, &i, "cwd", &v))
      op->cwd = v;
    else if (opt_is(argv, argc, &i, "user", &v) || opt_is(argv, argc, &i, "u", &v))
      op->user = v;
    else if (opt_is(argv, argc, &i, "resources", &v) || opt_is(argv, argc, &i, "r", &v))
      op->resources = v;
    else if (opt_is(argv, argc, &i, "format", &v))
      op->format = v;
    else if (opt_is(argv, argc, &i, "env", &v) || opt_is(argv, argc, &i, "e", &v)) {
      op->env = realloc(op->env, (op->nenv + 1) * sizeof *op->env);
      op->env[op->nenv++] = v;
    } else if (opt_is(argv, argc, &i, "preserve-fds", &v)) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 0 || n > 65536)
        die("invalid --preserve-fds value");
      op->preserve_fds = (unsigned)n;
    } else if (opt_is(argv, argc, &i, "no-pivot", NULL))
      op->no_pivot = true;
    else if (opt_is(argv, argc, &i, "all", NULL) || opt_is(argv, argc, &i, "a", NULL))
      op->all = true;
    else if (opt_is(argv, argc, &i, "force", NULL) || opt_is(argv, argc, &i, "f", NULL))
      op->force = true;
    else if (opt_is(argv, argc, &i, "detach", NULL) || opt_is(argv, argc, &i, "d", NULL))
      op->detach = true;
    else if (opt_is(argv, argc, &i, "tty", NULL) || opt_is(argv, argc, &i, "t", NULL))
      op->tty = true;
    else if (opt_is(argv, argc, &i, "no-new-keyring", NULL) || opt_is(argv, argc, &i, "no-subreaper", NULL) ||
             opt_is(argv, argc, &i, "quiet", NULL) || opt_is(argv, argc, &i, "q", NULL))
      ; /* accepted, nothing to do: no session keyring is made, no subreaper is used */
    else if (opt_is(argv, argc, &i, "process-label", &v) || opt_is(argv, argc, &i, "apparmor", &v) ||
             opt_is(argv, argc, &i, "cap", &v) || opt_is(argv, argc, &i, "c", &v))
      ; /* LSM labels: no LSM is applied by this runtime */
    else {
      char m[300];
      snprintf(m, sizeof m, "flag provided but not defined: %.200s", argv[i]);
      die(m);
    }
  }
}

int main(int argc, char **argv)
{
  int i = 1;
  if (argc > 1 && strcmp(argv[1], "--sealed") == 0) /* seal_self's re-exec (create, exec) */
    i = 2;
  remember_args(argc, argv);
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *v = NULL;
    if (opt_is(argv, argc, &i, "root", &v))
      G.root = v;
    else if (opt_is(argv, argc, &i, "log", &v))
      G.log = v;
    else if (opt_is(argv, argc, &i, "log-format", &v)) {
      if (strcmp(v, "json") && strcmp(v, "text"))
        die("invalid log format: must be text or json");
      G.log_json = strcmp(v, "json") == 0;
    } else if (opt_is(argv, argc, &i, "debug", NULL))
      G.debug = true;
    else if (opt_is(argv, argc, &i, "systemd-cgroup", NULL))
      die("--systemd-cgroup is not supported by tsrun-runtime (cgroupfs paths only)");
    else if (opt_is(argv, argc, &i, "rootless", &v)) {
      if (strcmp(v, "false") && strcmp(v, "auto"))
        die("--rootless is not supported by tsrun-runtime");
    } else if (opt_is(argv, argc, &i, "criu", &v))
      ;
    else if (opt_is(argv, argc, &i, "version", NULL) || opt_is(argv, argc, &i, "v", NULL)) {
      const struct scmp_version *sv = seccomp_version();
      printf("tsrun-runtime version %s\nspec: %s\nlibseccomp: %u.%u.%u\n", VERSION, OCI_VERSION, sv->major, sv->minor, sv->micro);
      return 0;
    } else if (opt_is(argv, argc, &i, "help", NULL) || opt_is(argv, argc, &i, "h", NULL)) {
      usage();
      return 0;
    } else {
      char m[300];
      snprintf(m, sizeof m, "flag provided but not defined: %.200s", argv[i]);
      die(m);
    }
  }
  if (i >= argc) {
    usage();
    return 1;
  }
  const char *cmd = argv[i];
  /* CVE-2019-5736: the container's init runs this binary; it must be a sealed copy, not the file */
  if ((!strcmp(cmd, "create") || !strcmp(cmd, "exec")) && strcmp(argv[1], "--sealed") != 0 && seal_self(argc, argv) < 0)
    die("seal tsrun-runtime: memfd copy of /proc/self/exe failed");
  for (size_t k = 0; k < sizeof COMMANDS / sizeof *COMMANDS; k++) {
    if (strcmp(COMMANDS[k].name, cmd) != 0)
      continue;
    struct opts op = { 0 };
    parse_command_opts(argc, argv, i + 1, &op);
    if (COMMANDS[k].needs_id && (op.nargs < 1 || !*op.args[0])) {
      char m[128];
      snprintf(m, sizeof m, "%s: container id cannot be empty", cmd);
      die(m);
    }
    if (COMMANDS[k].needs_id && check_id(op.args[0]) < 0)
      die(oci_err.msg);
    if (COMMANDS[k].fn(&op) < 0)
      die(oci_err.msg);
    return 0;
  }
  char m[200];
  snprintf(m, sizeof m, "No help topic for '%.100s'", cmd);
  die(m);
}
