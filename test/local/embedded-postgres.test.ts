import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LocalPostgresError,
  startEmbeddedPostgres,
  startMigratedPostgres,
  withClient,
  type EmbeddedPostgresServer,
} from '../../local/embedded-postgres';

let server: EmbeddedPostgresServer | undefined;

afterAll(async () => {
  await server?.destroy();
});

const count = (url: string) =>
  withClient(
    url,
    async (client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM public.users')).rows[0]?.n,
  );

describe('a throwaway embedded PostgreSQL', () => {
  it('starts migrated on a free port, keeps its data across stop and start, and destroy deletes it', async () => {
    const migrated = await startMigratedPostgres({ password: 'throwaway-test' });
    server = migrated.server;
    expect(migrated.url).toBe(`postgres://postgres:throwaway-test@127.0.0.1:${server.port}/postgres`);
    expect(server.initialised).toBe(true);
    await withClient(migrated.url, (client) =>
      client.query("INSERT INTO public.users (cognito_user_id) VALUES ('kept')"),
    );

    await server.stop();
    await server.start();
    expect(await count(migrated.url)).toBe(1);

    await server.destroy();
    expect(existsSync(server.dataDir)).toBe(false);
    server = undefined;
  });
});

describe('a failed start', () => {
  let blocker: Server;
  let port: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
  });

  it('names the port and quotes the server log when the port is taken', async () => {
    const error = await startEmbeddedPostgres({ persistent: false, password: 'x', port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalPostgresError);
    expect((error as Error).message).toMatch(
      new RegExp(`^PostgreSQL did not start on port ${port}:\\n[\\s\\S]*(could not bind|Address already in use)`),
    );
  });

  it('refuses a persistent cluster without a data directory', async () => {
    await expect(startEmbeddedPostgres({ persistent: true, password: 'x' })).rejects.toThrow(
      new LocalPostgresError('a persistent PostgreSQL needs a data directory'),
    );
  });
});
