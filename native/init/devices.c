/*
 * The device cgroup of a container: which device nodes its processes may
 * open (read, write) or make (mknod), as the spec's linux.resources.devices
 * lists them (OCI semantics: the cgroup starts allowing everything, each rule
 * allows or denies, a later rule overrides an earlier one). For tsrun run the
 * list is TypeScript's decision (src/runtime/devices.ts: deny all, then
 * docker's defaults, --device, --device-cgroup-rule); tsrun-runtime applies a
 * bundle's (native/runtime/cgroups.c). tsrun-init's monitor applies it before
 * the container process gets its spec, so before that process joins the
 * cgroup (v1) or does anything at all in it (v2); exec'd processes join the
 * same cgroup and get the same rules.
 *
 *  - cgroup v1: each rule, in order, into devices.allow or devices.deny (the
 *    kernel parses one rule per write).
 *  - cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, built here as
 *    instructions, loaded and attached to the cgroup dir (what runc and crun
 *    do). The kernel runs it on every open and mknod of a device node with
 *    the device's type, numbers and the access asked for; 1 allows, 0 denies.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X_CGROUP2_SUPER_MAGIC 0x63677270

/* "rwm" of a rule's access bits (BPF_DEVCG_ACC_*: m 1, r 2, w 4), as devices.allow reads them. */
static void access_str(unsigned access, char out[4])
{
  size_t n = 0;
  if (access & BPF_DEVCG_ACC_READ)
    out[n++] = 'r';
  if (access & BPF_DEVCG_ACC_WRITE)
    out[n++] = 'w';
  if (access & BPF_DEVCG_ACC_MKNOD)
    out[n++] = 'm';
  out[n] = '\0';
}

static int write_rule(int fd, const char *rule, char *err, size_t errlen)
{
  if (write_all(fd, rule, strlen(rule)) < 0) {
    snprintf(err, errlen, "write `%s`", rule);
    return -errno;
  }
  return 0;
}

static int apply_v1(const struct devrule *rules, size_t n, const char *dir, char *err, size_t errlen)
{
  int fds[2] = { -1, -1 }, rc = 0;
  const char *names[2] = { "devices.deny", "devices.allow" };
  for (int k = 0; k < 2; k++) {
    char file[4200];
    snprintf(file, sizeof file, "%s/%s", dir, names[k]);
    if ((fds[k] = open(file, O_WRONLY | O_CLOEXEC)) < 0) {
      rc = -errno;
      snprintf(err, errlen, "%s", file);
    }
  }
  for (size_t i = 0; i < n && rc == 0; i++) {
    const struct devrule *r = &rules[i];
    char line[64], maj[16] = "*", min[16] = "*", acc[4];
    if (r->major >= 0)
      snprintf(maj, sizeof maj, "%d", r->major);
    if (r->minor >= 0)
      snprintf(min, sizeof min, "%d", r->minor);
    access_str(r->access, acc);
    if (r->type == 'a')
      snprintf(line, sizeof line, "a"); /* v1 reads any "a…" as: everything */
    else
      snprintf(line, sizeof line, "%c %s:%s %s", r->type, maj, min, acc);
    rc = write_rule(fds[r->allow], line, err, errlen);
  }
  for (int k = 0; k < 2; k++)
    if (fds[k] >= 0)
      close(fds[k]);
  return rc;
}

/* A BPF program of at most 8 instructions per rule, plus the 6 of the prologue and 2 of the final deny. */
#define MAX_INSNS (8 + 8 * 256)

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV32_IMM(d, i) INSN(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, i)
#define AND32_IMM(d, i) INSN(BPF_ALU | BPF_AND | BPF_K, d, 0, 0, i)
#define RSH32_IMM(d, i) INSN(BPF_ALU | BPF_RSH | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)

/*
 * The program. Registers once the prologue has run: r2 the device type
 * (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2), r3 the access asked for (BPF_DEVCG_ACC_*),
 * r4 the major, r5 the minor. Then one block per rule, the last rule first
 * (it overrides the ones before), each a row of "not this one? skip to the
 * next block" tests ending in "return 1" (allow) or "return 0" (deny); after
 * the last block, "return 1": what no rule names keeps the cgroup's default.
 * An allow rule matches when every access bit asked for is in it (an open for
 * read and write asks for both at once), a deny rule when any is. A block
 * with no test (type a, all of rwm) ends the program: nothing after it could
 * run, which the verifier refuses.
 */
static size_t build_program(const struct devrule *rules, size_t nrules, struct bpf_insn *prog)
{
  size_t n = 0;
  prog[n++] = LDX_W(BPF_REG_2, BPF_REG_1, 0); /* access_type = access << 16 | type */
  prog[n++] = MOV32_REG(BPF_REG_3, BPF_REG_2);
  prog[n++] = AND32_IMM(BPF_REG_2, 0xffff);
  prog[n++] = RSH32_IMM(BPF_REG_3, 16);
  prog[n++] = LDX_W(BPF_REG_4, BPF_REG_1, 4);
  prog[n++] = LDX_W(BPF_REG_5, BPF_REG_1, 8);
  for (size_t i = nrules; i-- > 0;) {
    const struct devrule *r = &rules[i];
    struct bpf_insn block[8];
    size_t k = 0;
    if (r->type != 'a')
      block[k++] = JNE_IMM(BPF_REG_2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
    if ((r->access & 7u) != 7u) {
      block[k++] = MOV32_REG(BPF_REG_1, BPF_REG_3);
      if (r->allow) { /* bits asked for but not granted: r1 = r3 & ~granted, must be 0 */
        block[k++] = AND32_IMM(BPF_REG_1, (int32_t)(~r->access & 7u));
        block[k++] = JNE_IMM(BPF_REG_1, 0, 0);
      } else { /* bits asked for that are denied: r1 = r3 & denied, must not be 0 */
        block[k++] = AND32_IMM(BPF_REG_1, (int32_t)(r->access & 7u));
        block[k++] = JEQ_IMM(BPF_REG_1, 0, 0);
      }
    }
    if (r->type != 'a' && r->major >= 0)
      block[k++] = JNE_IMM(BPF_REG_4, r->major, 0);
    if (r->type != 'a' && r->minor >= 0)
      block[k++] = JNE_IMM(BPF_REG_5, r->minor, 0);
    bool unconditional = k == 0;
    block[k++] = MOV32_IMM(BPF_REG_0, r->allow ? 1 : 0);
    block[k++] = EXIT();
    /* each test jumps past the rest of its block */
    for (size_t j = 0; j + 2 < k; j++)
      if (block[j].code == (BPF_JMP | BPF_JNE | BPF_K) || block[j].code == (BPF_JMP | BPF_JEQ | BPF_K))
        block[j].off = (int16_t)(k - j - 1);
    memcpy(prog + n, block, k * sizeof *block);
    n += k;
    if (unconditional)
      return n;
  }
  prog[n++] = MOV32_IMM(BPF_REG_0, 1);
  prog[n++] = EXIT();
  return n;
}

static int apply_v2(const struct devrule *rules, size_t nrules, const char *dir, char *err, size_t errlen)
{
  static struct bpf_insn prog[MAX_INSNS];
  if (nrules > 256) {
    snprintf(err, errlen, "more than 256 device rules");
    return -E2BIG;
  }
  size_t n = build_program(rules, nrules, prog);
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insn_cnt = (uint32_t)n;
  load.insns = (uint64_t)(uintptr_t)prog;
  load.license = (uint64_t)(uintptr_t) "Apache-2.0";
  int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  if (pfd < 0) {
    snprintf(err, errlen, "load the device program (BPF_PROG_TYPE_CGROUP_DEVICE)");
    return -errno;
  }
  int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cfd < 0) {
    int e = errno;
    close(pfd);
    snprintf(err, errlen, "%s", dir);
    return -e;
  }
  /* no BPF_F_ALLOW_MULTI: a restart's program replaces the one before instead of adding to it.
     The program stays attached (the cgroup holds it) once both fds are closed. */
  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (uint32_t)cfd;
  attach.attach_bpf_fd = (uint32_t)pfd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
  int e = errno;
  close(cfd);
  close(pfd);
  if (rc < 0) {
    snprintf(err, errlen, "attach the device program to %s", dir);
    return -e;
  }
  return 0;
}

/* Rules on a cgroup dir, v1 or v2 as its filesystem says; 0, or -errno with err set. */
int devices_apply(const struct devrule *rules, size_t n, const char *dir, char *err, size_t errlen)
{
  struct statfs sf;
  if (statfs(dir, &sf) < 0) {
    snprintf(err, errlen, "%s", dir);
    return -errno;
  }
  return sf.f_type == X_CGROUP2_SUPER_MAGIC ? apply_v2(rules, n, dir, err, errlen) : apply_v1(rules, n, dir, err, errlen);
}

/* The spec's device policy on the container's cgroup; 0, or -errno with err set. */
int apply_device_rules(const struct plan *p, char *err, size_t errlen)
{
  if (p->devices_all)
    return 0; /* --privileged: every device, as docker */
  if (!p->devices_dir) {
    snprintf(err, errlen, "the spec lacks its device policy");
    return -EINVAL;
  }
  return devices_apply(p->devrules, p->ndevrules, p->devices_dir, err, errlen);
}
