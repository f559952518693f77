// Port checks for the local stack: a taken port is reported by name and flag before anything starts.
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A port the local stack needs is already taken; the message says which flag moves it. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly port: number,
    readonly service: string,
    readonly flag: string,
    readonly envVariable: string,
  ) {
    super(`port ${port} (${service}) is already in use: choose another with ${flag} <port> or ${envVariable}=<port>`);
  }
}

export interface PortClaim {
  readonly port: number;
  readonly service: string;
  readonly flag: string;
  readonly envVariable: string;
}

/** Resolves true when nothing listens on loopback at `port` (checked by binding it for a moment). */
export function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Throws PortInUseError for the first claimed port that is taken (or claimed twice). */
export async function assertPortsFree(claims: readonly PortClaim[]): Promise<void> {
  const seen = new Map<number, PortClaim>();
  for (const claim of claims) {
    const earlier = seen.get(claim.port);
    if (earlier)
      throw new PortInUseError(
        claim.port,
        `${claim.service}, also given to ${earlier.service}`,
        claim.flag,
        claim.envVariable,
      );
    seen.set(claim.port, claim);
    if (!(await isPortFree(claim.port))) {
      throw new PortInUseError(claim.port, claim.service, claim.flag, claim.envVariable);
    }
  }
}

/** A port the OS reports free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read a free port'));
      });
    });
  });
}
