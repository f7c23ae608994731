/**
 * All of a buffer to a file descriptor, synchronously. A non-blocking one
 * (tsrun's stdout may be a pipe whose description libuv made O_NONBLOCK) is
 * waited on in 5 ms sleeps when full; other errors (EPIPE …) are the caller's.
 */
import fs from 'node:fs';

export function writeFully(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, data.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
