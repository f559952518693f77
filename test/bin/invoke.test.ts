import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectionUrlFor, main } from '../../bin/invoke';
import { startMigratedServer, type TestServer } from '../support/postgres';

const EVENTS = join(__dirname, '..', '..', 'events');
let server: TestServer;
let url: string;
let db: Client;
let emptyDir: string;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  db = new Client({ connectionString: url });
  await db.connect();
  emptyDir = await mkdtemp(join(tmpdir(), 'cruddur-nostack-'));
});

afterAll(async () => {
  await db?.end();
  await server?.destroy();
  await rm(emptyDir, { recursive: true, force: true });
});

beforeEach(() => {
  // The handler's own JSON log lines; what the command prints goes through `io`.
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

describe('npm run invoke', () => {
  it('refuses to guess a database when neither CONNECTION_URL nor a local stack is there', () => {
    expect(() => connectionUrlFor({ LOCAL_DATA_DIR: emptyDir })).toThrow(/run npm start first or set CONNECTION_URL/);
  });

  it('invokes the handler once against CONNECTION_URL and prints the returned event', async () => {
    const { out, io } = capture();
    const code = await main([join(EVENTS, 'confirm-sign-up.json')], { CONNECTION_URL: url }, io);
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ triggerSource: 'PostConfirmation_ConfirmSignUp', userName: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21' });
    const rows = await db.query('SELECT email FROM public.users WHERE cognito_user_id = $1', ['5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21']);
    expect(rows.rows).toEqual([{ email: 'jane.doe@example.com' }]);
  });

  it('prints the error name and message and exits non-zero when the handler throws', async () => {
    const { out, err, io } = capture();
    const file = join(emptyDir, 'bad.json');
    await writeFile(file, JSON.stringify({ triggerSource: 'PostConfirmation_ConfirmSignUp', request: {} }));
    const code = await main([file], { CONNECTION_URL: url }, io);
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toContain('InvalidEventError: Invalid Cognito event: request.userAttributes must be an object');
  });

  it('names the file it cannot read or parse', async () => {
    await expect(main([join(emptyDir, 'missing.json')], { CONNECTION_URL: url }, capture().io)).rejects.toThrow(/cannot read .*missing\.json \(ENOENT\)/);
  });
});
