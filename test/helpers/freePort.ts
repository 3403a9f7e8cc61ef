/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts but cannot
 * ask for port 0 (the Temporal runtime's metrics endpoint does not tell which port it got).
 * The kernel picks it from the ephemeral range and does not hand it out again at once, which
 * makes a clash with the other tests running beside this one far less likely than a random pick
 * from a fixed range. It can still be taken before the caller binds it: a server that then fails
 * to start says so with the port in its message.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
