/* Small file helpers of both backends, runc's conversions, and the backend switch. */
#include "resources.h"
#include "../init/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cg_write(const char *dir, const char *file, const char *value)
{
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  /* O_TRUNC as runc opens them: cgroupfs ignores it, a plain file (the unit tests' fake tree) needs it */
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0)
    return fail(errno, "cgroup: open %s", path);
  if (write(fd, value, strlen(value)) < 0) {
    int err = errno;
    close(fd);
    return fail(err, "cgroup: write %s to %s", value, path);
  }
  close(fd);
  return 0;
}

/* the file's first line; -1 when it cannot be read */
int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  return (int)n;
}

bool cg_has(const char *dir, const char *file)
{
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return access(path, F_OK) == 0;
}

/* runc's ConvertCPUSharesToCgroupV2Value: shares 2..262144 → weight 1..10000 (0: unset) */
uint64_t cg_shares_to_weight(uint64_t shares)
{
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  return 1 + ((shares - 2) * 9999) / 262142;
}

/* runc's ConvertBlkIOToIOWeightValue: blkio weight 10..1000 → io.weight 1..10000 (0: unset) */
uint64_t cg_blkio_to_io_weight(uint64_t weight)
{
  if (weight == 0)
    return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

/* runc's ConvertMemorySwapToCgroupV2Value: the spec's swap is memory+swap, v2's memory.swap.max swap alone */
int64_t cg_swap_v2(int64_t swap, int64_t memory, bool has_memory)
{
  if (!has_memory)
    memory = 0;
  if (memory == -1 && swap == 0)
    return -1;
  if (swap == -1 || swap == 0)
    return swap;
  if (memory == 0 || memory == -1)
    return fail(0, "cgroup: unable to set a swap limit without a memory limit"), -2;
  if (memory < 0)
    return fail(0, "cgroup: invalid memory value %lld", (long long)memory), -2;
  if (swap < memory)
    return fail(0, "cgroup: memory+swap limit %lld should be >= memory limit %lld", (long long)swap, (long long)memory), -2;
  return swap - memory;
}

int cg_apply(const struct oci_resources *r, char **dirs, size_t n, bool v2)
{
  if (v2)
    return n ? cg_apply_v2(r, dirs[0]) : fail(ENOENT, "cgroup: no cgroup2 dir");
  return cg_apply_v1(r, dirs, n);
}
