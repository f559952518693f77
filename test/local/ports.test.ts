import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertPortsFree, freePort, isPortFree, PortInUseError } from '../../local/ports';

let taken: Server;
let takenPort: number;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
});

const claim = (port: number, service: string) => ({
  port,
  service,
  flag: `--${service}-port`,
  envVariable: `LOCAL_${service.toUpperCase()}_PORT`,
});

describe('port checks', () => {
  it('tells a free port from a taken one', async () => {
    expect(await isPortFree(takenPort)).toBe(false);
    expect(await isPortFree(await freePort())).toBe(true);
  });

  it('names the taken port, its service and the flag that moves it', async () => {
    const free = await freePort();
    await expect(assertPortsFree([claim(free, 'pg'), claim(takenPort, 'lambda')])).rejects.toThrow(
      new PortInUseError(takenPort, 'lambda', '--lambda-port', 'LOCAL_LAMBDA_PORT'),
    );
    await expect(assertPortsFree([claim(takenPort, 'lambda')])).rejects.toThrow(
      `port ${takenPort} (lambda) is already in use: choose another with --lambda-port <port> or LOCAL_LAMBDA_PORT=<port>`,
    );
  });

  it('refuses the same port given to two services', async () => {
    const free = await freePort();
    await expect(assertPortsFree([claim(free, 'pg'), claim(free, 'cognito')])).rejects.toThrow(
      /also given to pg.*--cognito-port/,
    );
  });

  it('passes when every port is free', async () => {
    await expect(assertPortsFree([claim(await freePort(), 'pg')])).resolves.toBeUndefined();
  });
});
