import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectionUrlFor, main } from '../../bin/invoke';
import { EXIT } from '../../bin/cli/common';
import { captureOutput } from '../support/output';
import { startMigratedServer, type TestServer } from '../support/postgres';

const EVENTS = join(__dirname, '..', '..', 'events');
let server: TestServer;
let url: string;
let db: Client;
let emptyDir: string;

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
  it('refuses to guess a database when neither CONNECTION_URL nor a local stack is there', async () => {
    await expect(connectionUrlFor({ LOCAL_DATA_DIR: emptyDir })).rejects.toThrow(
      /run npm start first or set CONNECTION_URL/,
    );
    const { err, output } = captureOutput();
    expect(await main([join(EVENTS, 'confirm-sign-up.json')], { LOCAL_DATA_DIR: emptyDir }, output)).toBe(EXIT.CONFIG);
    expect(err).toEqual([
      `invoke: no database: run npm start first or set CONNECTION_URL (looked for ${join(emptyDir, 'stack.json')})`,
    ]);
  });

  it('takes the database from the stack.json of a running local stack', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cruddur-stack-'));
    try {
      const stack = {
        connectionUrl: url,
        cognitoEndpoint: 'x',
        userPoolId: 'x',
        userPoolClientId: 'x',
        lambdaEndpoint: 'x',
        functionName: 'x',
        dataDir: dir,
      };
      await writeFile(join(dir, 'stack.json'), JSON.stringify(stack));
      expect(await connectionUrlFor({ LOCAL_DATA_DIR: dir })).toEqual({ url, source: join(dir, 'stack.json') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('invokes the handler once against CONNECTION_URL and prints the returned event, leaving process.env alone', async () => {
    vi.stubEnv('CONNECTION_URL', 'postgres://nobody@127.0.0.1:1/not-this-one');
    const { out, output } = captureOutput();
    const code = await main([join(EVENTS, 'confirm-sign-up.json')], { CONNECTION_URL: url }, output);
    expect(code).toBe(EXIT.OK);
    expect(process.env.CONNECTION_URL).toBe('postgres://nobody@127.0.0.1:1/not-this-one');
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      triggerSource: 'PostConfirmation_ConfirmSignUp',
      userName: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
    });
    const rows = await db.query('SELECT email FROM public.users WHERE cognito_user_id = $1', [
      '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
    ]);
    expect(rows.rows).toEqual([{ email: 'jane.doe@example.com' }]);
  });

  it('prints the error name and message and exits non-zero when the handler throws', async () => {
    const { out, err, output } = captureOutput();
    const file = join(emptyDir, 'bad.json');
    await writeFile(file, JSON.stringify({ triggerSource: 'PostConfirmation_ConfirmSignUp', request: {} }));
    const code = await main([file], { CONNECTION_URL: url }, output);
    expect(code).toBe(EXIT.FAILURE);
    expect(out).toEqual([]);
    expect(err).toContain('InvalidEventError: Invalid Cognito event: request.userAttributes must be an object');
  });

  it('names the file it cannot read or parse, as a usage error', async () => {
    const missing = captureOutput();
    expect(await main([join(emptyDir, 'missing.json')], { CONNECTION_URL: url }, missing.output)).toBe(EXIT.USAGE);
    expect(missing.err).toEqual([`invoke: cannot read ${join(emptyDir, 'missing.json')} (ENOENT)`]);
    const file = join(emptyDir, 'broken.json');
    await writeFile(file, '{not json');
    const broken = captureOutput();
    expect(await main([file], { CONNECTION_URL: url }, broken.output)).toBe(EXIT.USAGE);
    expect(broken.err).toEqual([`invoke: ${file} is not valid JSON`]);
  });

  it('refuses a command line without exactly one event file, or with an unknown option', async () => {
    for (const argv of [[], ['a.json', 'b.json'], ['--nope', 'a.json']]) {
      const { err, output } = captureOutput();
      expect(await main(argv, { CONNECTION_URL: url }, output)).toBe(EXIT.USAGE);
      expect(err.join('\n')).toContain('usage: npm run invoke -- events/<file>.json');
    }
  });
});
