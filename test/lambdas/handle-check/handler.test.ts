import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHandler, type HandleCheckHandler } from '../../../lambdas/handle-check/handler';
import { settingsFromEnv } from '../../../lambdas/handle-check/settings';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { fakeContext } from '../../support/lambda';
import { startMigratedServer, type TestServer } from '../../support/postgres';
import { captureLogLines } from '../../support/output';

let server: TestServer;
let db: Client;
let handler: HandleCheckHandler;
let logLines: string[];

beforeAll(async () => {
  const started = await startMigratedServer();
  server = started.server;
  db = new Client({ connectionString: started.url });
  await db.connect();
  handler = createHandler(settingsFromEnv({ CONNECTION_URL: started.url }));
});

afterAll(async () => {
  await handler?.close();
  await db?.end();
  await server?.destroy();
});

beforeEach(async () => {
  await db.query('TRUNCATE public.users CASCADE');
  await db.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('existing-1', 'TakenHandle')");
  logLines = captureLogLines();
});

afterEach(() => {
  for (const line of logLines) expect(line).not.toMatch(/takenhandle|free_handle/i);
});

describe('handle-check handler', () => {
  it('answers taken for a handle someone holds, ignoring case, and free otherwise', async () => {
    await expect(handler({ handle: 'takenHANDLE' }, fakeContext())).resolves.toEqual({ taken: true });
    await expect(handler({ handle: 'free_handle' }, fakeContext())).resolves.toEqual({ taken: false });
    expect(logLines.map((line) => (JSON.parse(line) as { outcome: string }).outcome)).toEqual(['taken', 'free']);
  });

  it.each([
    ['no handle', {}],
    ['a handle outside the rule', { handle: 'bad handle' }],
    ['a number', { handle: 42 }],
    ['no object', 'free_handle'],
  ])('refuses %s without quoting it', async (_name, event) => {
    await expect(handler(event, fakeContext())).rejects.toBeInstanceOf(InvalidEventError);
  });

  it('leaves no connection open after an answer', async () => {
    await handler({ handle: 'free_handle' }, fakeContext());
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'handle-check'",
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

describe('index', () => {
  it('exports a handler built from a valid environment, without connecting yet', async () => {
    vi.stubEnv('CONNECTION_URL', 'postgres://u:p@127.0.0.1:9/cruddur');
    const { handler: exported } = await import('../../../lambdas/handle-check/index');
    expect(exported).toBeTypeOf('function');
    await exported.close();
  });
});
