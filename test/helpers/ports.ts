/**
 * TCP ports for servers a test starts on 127.0.0.1 (registries, sshd, published ports).
 *
 * A port the kernel hands out for `listen(0)` lies in the ephemeral range (32768-60999 here), which
 * every outgoing connection on the machine draws its source port from as well: between the probe's
 * close and the server's bind, any connection of a parallel test may take it. So the port is picked
 * at random below that range, where the kernel never allocates, and probed with a bind. Two tests
 * picking the same port at the same moment is still possible (rarely): servers started by a helper
 * retry on a new port when theirs fails with "address already in use".
 */
import fs from 'node:fs';
import net from 'node:net';

/** The low end of the kernel's ephemeral range (ports at or above it are the kernel's to give). */
function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that nothing listens on now, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = 10000;
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await bindable(port)) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}
