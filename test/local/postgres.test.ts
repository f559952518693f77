import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/ports';
import { LocalPostgresError } from '../../local/embedded-postgres';
import { describeSeed, startLocalPostgres, type LocalPostgres } from '../../local/postgres';

let dir: string;
let port: number;
let pg: LocalPostgres | undefined;

async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cruddur-localpg-'));
  await chmod(dir, 0o755);
  port = await freePort();
});

afterAll(async () => {
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the local PostgreSQL', () => {
  it('initialises a new data directory, migrates and seeds the cruddur database', async () => {
    pg = await startLocalPostgres({ dir, port });
    expect(pg.initialised).toBe(true);
    expect(pg.migrations).toContain('0001_create_users_and_activities.sql');
    expect(pg.url).toMatch(new RegExp(`^postgres://postgres:[0-9a-f]{36}@127\\.0\\.0\\.1:${port}/cruddur$`));
    expect(
      await query(pg.url, "SELECT cognito_user_id FROM public.users WHERE cognito_user_id LIKE 'MOCK-%' ORDER BY 1"),
    ).toEqual([{ cognito_user_id: 'MOCK-andrewbrown' }, { cognito_user_id: 'MOCK-bayko' }]);
    expect(pg.seed).toEqual({ inserted: 2, present: 0, erased: 0 });
    expect(describeSeed(pg.seed)).toBe('2 mock users seeded');
    // The password file is the owner's alone.
    expect((await stat(join(dir, 'postgres-password'))).mode & 0o777).toBe(0o600);
  });

  it('keeps the data and the password on the next start, and neither re-initialises nor re-seeds', async () => {
    const first = pg as LocalPostgres;
    await query(first.url, "INSERT INTO public.users (cognito_user_id, email) VALUES ('kept-sub', 'kept@example.com')");
    await first.stop();

    pg = await startLocalPostgres({ dir, port });
    expect(pg.initialised).toBe(false);
    expect(pg.migrations).toEqual([]);
    expect(pg.url).toBe(first.url);
    expect(
      await query(
        pg.url,
        "SELECT count(*)::int AS n FROM public.users WHERE cognito_user_id IN ('kept-sub', 'MOCK-andrewbrown', 'MOCK-bayko')",
      ),
    ).toEqual([{ n: 3 }]);
    expect(await query(pg.url, 'SELECT count(*)::int AS n FROM public.activities')).toEqual([{ n: 1 }]);
    expect(pg.seed).toEqual({ inserted: 0, present: 2, erased: 0 });
  });

  it('says how many mock users it skipped because they were erased, instead of "seeded"', async () => {
    const running = pg as LocalPostgres;
    await query(running.url, "DELETE FROM public.users WHERE cognito_user_id = 'MOCK-bayko'");
    await query(running.url, "INSERT INTO sync.erased_users (cognito_user_id, erased_at) VALUES ('MOCK-bayko', now())");
    await running.stop();

    pg = await startLocalPostgres({ dir, port });
    expect(pg.seed).toEqual({ inserted: 0, present: 1, erased: 1 });
    expect(describeSeed(pg.seed)).toBe(
      '0 mock users seeded, 1 already there, 1 erased earlier and not re-inserted (sync.erased_users)',
    );
    expect(await query(pg.url, "SELECT 1 FROM public.users WHERE cognito_user_id = 'MOCK-bayko'")).toEqual([]);
  });

  it('refuses, with the reset command, a data directory whose password file is gone', async () => {
    await pg?.stop();
    pg = undefined;
    await rm(join(dir, 'postgres-password'));
    await expect(startLocalPostgres({ dir, port })).rejects.toThrow(
      new LocalPostgresError(
        `${join(dir, 'postgres')} exists but ${join(dir, 'postgres-password')} is missing; reset the local data with rm -rf ${dir}`,
      ),
    );
  });
});

describe('the local PostgreSQL stopped under the running stack', () => {
  it('says so in the window and starts it again, with its data', async () => {
    const own = await mkdtemp(join(tmpdir(), 'cruddur-localpg-restart-'));
    await chmod(own, 0o755);
    const lines: string[] = [];
    let isBack: () => void = () => undefined;
    const back = new Promise<void>((resolve) => (isBack = resolve));
    const server = await startLocalPostgres({
      dir: own,
      port: await freePort(),
      onStatus: (line) => {
        lines.push(line);
        if (line.startsWith('PostgreSQL is back')) isBack();
      },
      restartDelayMs: 50,
    });
    try {
      await query(server.url, "INSERT INTO public.users (cognito_user_id) VALUES ('survives-a-kill')");
      const pid = Number((await readFile(join(own, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      process.kill(pid, 'SIGKILL');
      await back;
      expect(lines[0]).toMatch(/^PostgreSQL stopped on its own \(signal SIGKILL\); starting it again on port \d+$/);
      expect(
        await query(server.url, "SELECT cognito_user_id FROM public.users WHERE cognito_user_id = 'survives-a-kill'"),
      ).toEqual([{ cognito_user_id: 'survives-a-kill' }]);
    } finally {
      await server.stop();
      await rm(own, { recursive: true, force: true });
    }
    // A stop asked for is no news.
    expect(lines.filter((line) => line.includes('stopped on its own'))).toHaveLength(1);
  });
});
