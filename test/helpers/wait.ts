/** Polling for tests that wait on something another process does. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolve once fn() is true (checked every 50 ms); fail the test with `what` after ms. */
export async function until(what: string, fn: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
