import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildFunction } from '../../bench/bundle';
import { FLOOR_INSERT, FLOOR_SESSION, Instance, SIGN_UP_ALONE, WorkerExitedError } from '../../bench/instance';
import { SIGN_UP } from '../../lambdas/users/postgres/postgres-users';
import { withClient } from '../../local/embedded-postgres';
import { startMigratedServer, type TestServer } from '../support/postgres';

const ENTRY = join(__dirname, '..', '..', 'lambdas', 'post-confirmation', 'index.ts');

let server: TestServer;
let dir: string;
let bundle: string;
const instances: Instance[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  dir = await mkdtemp(join(tmpdir(), 'cruddur-bench-worker-test-'));
  bundle = (await buildFunction(ENTRY, dir)).file;
});

afterEach(async () => {
  for (const instance of instances.splice(0)) instance.kill();
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

afterAll(async () => {
  await server?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A port in front of the database that accepts the first `silent` connections and never answers them, as a
 * server too busy to get to a new connection would; later connections pass through to PostgreSQL.
 */
async function busyDatabase(silent: number): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (connections <= silent) return;
    const upstream = createConnection({ host: '127.0.0.1', port: server.port });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  const url = new URL(server.url());
  url.port = String(address.port);
  return { url: url.toString(), connections: () => connections };
}

function handlerInstance(url: string): Instance {
  const instance = new Instance({ url, launch: { node: process.execPath, env: {} }, forwardStderr: false });
  instances.push(instance);
  return instance;
}

async function rowsTagged(tag: string): Promise<number> {
  return withClient(server.url(), async (client) => {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id LIKE $1',
      [`${tag}-%`],
    );
    return rows[0]?.n ?? 0;
  });
}

describe('bench worker warm-up', () => {
  it('tries a warm-up again when its connection misses the connect timeout, then measures as usual', async () => {
    const database = await busyDatabase(2);
    const instance = handlerInstance(database.url);
    instance.send({
      type: 'setup',
      task: 'burst',
      mode: 'handler',
      bundle,
      sql: SIGN_UP,
      tag: 'b7000000',
      start: 0,
      count: 3,
      warmupTag: 'e7000000',
      warmupBackoffMs: 10,
    });
    await instance.next('loaded');
    instance.send({ type: 'warm' });
    const ready = await instance.next('ready');
    expect(ready.warmupRetries).toBe(2);
    expect(database.connections()).toBe(3);

    instance.send({ type: 'go' });
    const result = await instance.next('result');
    expect(result.latencies).toHaveLength(3);
    expect(await instance.exited).toBe(0);
    expect(await rowsTagged('e7000000')).toBe(1);
    expect(await rowsTagged('b7000000')).toBe(3);
  });

  it('gives up after the attempts it is allowed and says why it died', async () => {
    const database = await busyDatabase(Number.POSITIVE_INFINITY);
    const instance = handlerInstance(database.url);
    instance.send({
      type: 'setup',
      task: 'sequential',
      mode: 'handler',
      bundle,
      sql: SIGN_UP,
      tag: 'a7000000',
      start: 0,
      warmup: 5,
      warmupTag: 'e7100000',
      warmupAttempts: 2,
      warmupBackoffMs: 10,
    });
    const error: unknown = await instance.next('ready').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkerExitedError);
    const exited = error as WorkerExitedError;
    expect(exited.exitCode).toBe(1);
    expect(exited.failure?.name).toBe('DatabaseUnavailableError');
    expect(exited.message).toMatch(/^bench worker exited with 1 before 'ready': DatabaseUnavailableError: /);
    expect(exited.stderr).toContain('try 2 of 2');
    expect(database.connections()).toBe(2);
  });

  it('does not try again after an error another try cannot cure', async () => {
    const url = new URL(server.url());
    url.password = 'not-the-password';
    const instance = handlerInstance(url.toString());
    instance.send({
      type: 'setup',
      task: 'burst',
      mode: 'handler',
      bundle,
      sql: SIGN_UP,
      tag: 'b7200000',
      start: 0,
      count: 1,
      warmupTag: 'e7200000',
      warmupBackoffMs: 10,
    });
    await instance.next('loaded');
    instance.send({ type: 'warm' });
    const error: unknown = await instance.next('ready').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkerExitedError);
    // Refused credentials fail the same way every time: no second try.
    expect((error as WorkerExitedError).failure?.code).toBe('28P01');
    expect((error as WorkerExitedError).message).toMatch(/before 'ready': DatabaseUnavailableError \(28P01\): /);
    expect((error as WorkerExitedError).stderr).not.toMatch(/try \d+ of/);
  });
});

describe('bench worker floor', () => {
  it('writes the row the handler writes, with the raw INSERT or sync.sign_up alone (prepared), and on a new connection after a reconnect', async () => {
    // The handler's process may collect, as the warm run's do: it then reports its live heap when it finishes.
    const handler = new Instance({
      url: server.url(),
      launch: { node: process.execPath, env: {} },
      nodeOptions: '--expose-gc',
      forwardStderr: false,
    });
    const floor = new Instance({
      url: server.url(),
      launch: { node: process.execPath, env: {} },
      forwardStderr: false,
    });
    const alone = new Instance({
      url: server.url(),
      launch: { node: process.execPath, env: {} },
      forwardStderr: false,
    });
    instances.push(handler, floor, alone);
    const common = { type: 'setup', task: 'sequential', bundle, sql: SIGN_UP, start: 0, warmup: 1 } as const;
    handler.send({ ...common, mode: 'handler', tag: 'a7300000', warmupTag: 'e7300000' });
    floor.send({
      ...common,
      mode: 'floor',
      floorSql: FLOOR_INSERT,
      floorSession: FLOOR_SESSION,
      tag: 'f7300000',
      warmupTag: 'e7310000',
    });
    alone.send({
      ...common,
      mode: 'floor',
      floorSql: SIGN_UP_ALONE,
      floorPrepared: true,
      floorSession: FLOOR_SESSION,
      tag: 'f7320000',
      warmupTag: 'e7320000',
    });
    for (const instance of [handler, floor, alone]) {
      await instance.next('ready');
      instance.send({ type: 'run', start: 0, count: 2 });
      await instance.next('result');
      instance.send({ type: 'run', start: 2, count: 2, reconnect: { warmupStart: 1, warmup: 1 } });
      expect((await instance.next('result')).latencies).toHaveLength(2);
      instance.send({ type: 'finish' });
      const { liveHeapBytes } = await instance.next('finished');
      // Only a process started with --expose-gc can collect before it measures; the others say nothing.
      if (instance === handler) expect(liveHeapBytes).toBeGreaterThan(1_000_000);
      else expect(liveHeapBytes).toBeUndefined();
      expect(await instance.exited).toBe(0);
    }
    const shape = (tag: string) =>
      withClient(server.url(), async (client) => {
        const { rows } = await client.query<Record<string, unknown>>(
          `SELECT cognito_user_id, email, display_name, handle, enabled, synced_at IS NOT NULL AS synced,
                  pool_modified_at, reconcile_run, deleted_at
             FROM public.users WHERE cognito_user_id LIKE $1 ORDER BY cognito_user_id`,
          [`${tag}-%`],
        );
        // The same row but for the tag, which the sub, handle and e-mail carry.
        return rows.map((row) => JSON.parse(JSON.stringify(row).replaceAll(tag, 'TAG')) as unknown);
      });
    const written = await shape('a7300000');
    expect(written).toHaveLength(4);
    expect(await shape('f7300000')).toEqual(written);
    expect(await shape('f7320000')).toEqual(written);
    // The reconnect's warm-up event, on each side's new connection.
    expect(await rowsTagged('e7300000')).toBe(2);
    expect(await rowsTagged('e7310000')).toBe(2);
  });
});
