import net from 'node:net';

/**
 * Whether the unix socket at `file` accepts a connection now (the probe is closed at once).
 * A server's socket file appears at bind(), before listen(): its existence is not readiness.
 */
export function acceptsConnection(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
