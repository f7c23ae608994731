/* The informational commands: list, ps, spec (a default config.json), features. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cmd_list(struct opts *op)
{
  char **ids = NULL;
  size_t n = 0;
  if (container_ids(&ids, &n) < 0)
    return -1;
  bool json = op->format && !strcmp(op->format, "json");
  json_object *arr = json_object_new_array();
  if (!json)
    printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (size_t i = 0; i < n; i++) {
    struct container c;
    if (container_load(ids[i], &c) < 0)
      continue;
    pid_t pid = strcmp(c.status, "stopped") ? c.pid : 0;
    if (json) {
      json_object *e = json_object_new_object();
      json_object_object_add(e, "ociVersion", json_object_new_string(OCI_VERSION));
      json_object_object_add(e, "id", json_object_new_string(c.id));
      json_object_object_add(e, "pid", json_object_new_int(pid));
      json_object_object_add(e, "status", json_object_new_string(c.status));
      json_object_object_add(e, "bundle", json_object_new_string(c.bundle));
      json_object_object_add(e, "rootfs", json_object_new_string(""));
      json_object_object_add(e, "created", json_object_new_string(c.created));
      json_object_object_add(e, "owner", json_object_new_string("root"));
      json_object_array_add(arr, e);
    } else
      printf("%-12s %-8d %-10s %-40s %-30s %s\n", c.id, pid, c.status, c.bundle, c.created, "root");
    close(c.lockfd);
  }
  if (json)
    printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  return 0;
}

int cmd_ps(struct opts *op)
{
  struct container c;
  if (container_load(op->args[0], &c) < 0)
    return -1;
  pid_t *pids = NULL;
  size_t n = 0;
  if (cg_pids(c.cgroups, c.ncgroups, &pids, &n) < 0)
    return -1;
  if (op->format && !strcmp(op->format, "json")) {
    printf("[");
    for (size_t i = 0; i < n; i++)
      printf("%s%d", i ? "," : "", (int)pids[i]);
    printf("]\n");
    return 0;
  }
  printf("%-8s %s\n", "PID", "CMD");
  for (size_t i = 0; i < n; i++) {
    char path[64], cmd[256] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t r = read(fd, cmd, sizeof cmd - 1);
      cmd[r > 0 ? r : 0] = '\0';
      cmd[strcspn(cmd, "\n")] = '\0';
      close(fd);
    }
    printf("%-8d %s\n", (int)pids[i], cmd);
  }
  return 0;
}

/* runc's default spec: sh on a terminal, rootfs "rootfs", docker's capabilities' subset, masked paths */
static const char DEFAULT_SPEC[] =
  "{\n"
  "\t\"ociVersion\": \"" OCI_VERSION "\",\n"
  "\t\"process\": {\n"
  "\t\t\"terminal\": true,\n"
  "\t\t\"user\": {\"uid\": 0, \"gid\": 0},\n"
  "\t\t\"args\": [\"sh\"],\n"
  "\t\t\"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\"],\n"
  "\t\t\"cwd\": \"/\",\n"
  "\t\t\"capabilities\": {\n"
  "\t\t\t\"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
  "\t\t},\n"
  "\t\t\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
  "\t\t\"noNewPrivileges\": true\n"
  "\t},\n"
  "\t\"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
  "\t\"hostname\": \"tsrun\",\n"
  "\t\"mounts\": [\n"
  "\t\t{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
  "\t\t{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},\n"
  "\t\t{\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
  "\t\t{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
  "\t\t{\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n"
  "\t],\n"
  "\t\"linux\": {\n"
  "\t\t\"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n"
  "\t\t\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}],\n"
  "\t\t\"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],\n"
  "\t\t\"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]\n"
  "\t}\n"
  "}\n";

int cmd_spec(struct opts *op)
{
  char file[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/config.json", op->bundle ? op->bundle : ".");
  int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    return errno == EEXIST ? fail(0, "File %s exists. Remove it first", file) : fail(errno, "create %s", file);
  if (write_all(fd, DEFAULT_SPEC, sizeof DEFAULT_SPEC - 1) < 0) {
    close(fd);
    return fail(errno, "write %s", file);
  }
  return close(fd) < 0 ? fail(errno, "write %s", file) : 0;
}

int cmd_features(struct opts *op)
{
  (void)op;
  printf("{\n"
         "  \"ociVersionMin\": \"1.0.0\",\n"
         "  \"ociVersionMax\": \"%s\",\n"
         "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", \"poststop\"],\n"
         "  \"mountOptions\": [\"async\", \"atime\", \"bind\", \"defaults\", \"dev\", \"diratime\", \"dirsync\", \"exec\", \"mand\", \"noatime\", \"nodev\", \"nodiratime\", \"noexec\", \"nomand\", \"norelatime\", \"nostrictatime\", \"nosuid\", \"private\", \"rbind\", \"relatime\", \"remount\", \"ro\", \"rprivate\", \"rshared\", \"rslave\", \"runbindable\", \"rw\", \"shared\", \"slave\", \"strictatime\", \"suid\", \"sync\", \"unbindable\"],\n"
         "  \"linux\": {\n"
         "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"user\", \"uts\"],\n"
         "    \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\", \"CAP_FOWNER\", \"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SETPCAP\", \"CAP_LINUX_IMMUTABLE\", \"CAP_NET_BIND_SERVICE\", \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", \"CAP_IPC_LOCK\", \"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\", \"CAP_SYS_PTRACE\", \"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\", \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", \"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\", \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", \"CAP_AUDIT_CONTROL\", \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", \"CAP_SYSLOG\", \"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\", \"CAP_BPF\", \"CAP_CHECKPOINT_RESTORE\"],\n"
         "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false, \"rdma\": false},\n"
         "    \"seccomp\": {\n"
         "      \"enabled\": true,\n"
         "      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],\n"
         "      \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\", \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],\n"
         "      \"archs\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X32\"],\n"
         "      \"knownFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\n"
         "      \"supportedFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]\n"
         "    },\n"
         "    \"apparmor\": {\"enabled\": false},\n"
         "    \"selinux\": {\"enabled\": false},\n"
         "    \"intelRdt\": {\"enabled\": false}\n"
         "  },\n"
         "  \"annotations\": {\"org.opencontainers.runc.checkpoint.enabled\": \"false\"}\n"
         "}\n",
         OCI_VERSION);
  return 0;
}
