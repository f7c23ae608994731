/**
 * `npm run bench`: tsrun and its peers side by side, in one run, with ratios.
 * Not a test: it prints numbers and never fails on them.
 * Usage: npm run bench [-- images|run|limits|commit|registry|oci|system|cp|health|attach|build ...]
 */
type Bench = { name: string; file: string; fn: string };

// run first: the others create and delete thousands of files, and an ext4 without a journal (as
// on the VMs here) skips every inode freed in the last 30 s on each new file, which would slow
// tsrun's start-up (it writes ~20 small files) for reasons that are not tsrun's
const BENCHES: Bench[] = [
  { name: 'run', file: './run.js', fn: 'benchRun' },
  { name: 'limits', file: './limits.js', fn: 'benchLimits' },
  { name: 'images', file: './images.js', fn: 'benchImages' },
  { name: 'commit', file: './commit.js', fn: 'benchCommit' },
  { name: 'registry', file: './registry.js', fn: 'benchRegistry' },
  { name: 'oci', file: './oci.js', fn: 'benchOci' },
  { name: 'system', file: './system.js', fn: 'benchSystem' },
  { name: 'cp', file: './cp.js', fn: 'benchCp' },
  { name: 'health', file: './health.js', fn: 'benchHealth' },
  { name: 'attach', file: './attach.js', fn: 'benchAttach' },
  { name: 'build', file: './build.js', fn: 'benchBuild' },
];

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench: run as root (containers need namespaces and mounts)');
    process.exit(1);
  }
  const want = process.argv.slice(2);
  for (const b of BENCHES) {
    if (want.length && !want.includes(b.name)) continue;
    console.log(`\n=== ${b.name} ===`);
    try {
      const mod = (await import(b.file)) as Record<string, () => Promise<void>>;
      await mod[b.fn]!();
    } catch (err) {
      console.log(`(${b.name} benchmark failed: ${(err as Error).message})`);
    }
  }
}

void main();
