/**
 * Mark a fresh layer directory as the top of a directory hierarchy for
 * ext4's Orlov allocator (`chattr +T`, FS_TOPDIR_FL).
 *
 * Why: ext4 without a journal (this project's VMs) refuses to reuse an inode
 * deleted in the last 30 s, and finds a free one by scanning past every such
 * inode of the block group — for each new file. After `rm -rf` of another
 * tree (a removed image, a test, podman's storage) the groups near the store
 * are full of them, and creating 10,000 files costs 5–10 s of kernel time
 * instead of 0.5 s. With the flag, the layer's top-level directories (and so
 * their files) are spread over block groups with free inodes, as for
 * directories under `/`. It is only an allocation hint: not inherited, not
 * part of any tar, and on other file systems nothing is done.
 */
import fs from 'node:fs';
import { native, FS_TOPDIR_FL } from '../native.js';

const EXT4_SUPER_MAGIC = 0xef53;

/** Best effort: any failure (not ext4, no permission) is ignored. */
export function markTopDir(dir: string): void {
  try {
    if (fs.statfsSync(dir).type !== EXT4_SUPER_MAGIC) return;
    native().addInodeFlags(dir, FS_TOPDIR_FL);
  } catch {
    /* a hint only */
  }
}
