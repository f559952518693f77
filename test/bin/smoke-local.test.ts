// `npm run smoke -- --local` against a real local stack on free ports in a temp dir: the steps pass, and each
// failure (no stack, a trigger pointed elsewhere, the database stopped) is named by its step.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cognitoConfigFile } from '../../bin/cli/smoke-local';
import { PROBE_PATTERN } from '../../bin/cli/smoke-steps';
import { main } from '../../bin/smoke';
import { freePort } from '../../local/ports';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { captureOutput } from '../support/output';

let dir: string;
let stack: LocalStack;
let db: Client;
/** The last test ends it before it stops the database. */
let dbEnded = false;

/** The function's JSON log lines, swallowed: the stack's handlers run in this process. */
function quietFunctions(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

async function smoke(probe?: string) {
  const captured = captureOutput();
  const code = await main(['--local', '--data-dir', dir], { output: captured.output, ...(probe ? { probe } : {}) });
  return { code, ...captured };
}

async function probeState(sub: string): Promise<{ rows: number; tombstones: number }> {
  const { rows } = await db.query<{ rows: number; tombstones: number }>(
    `SELECT (SELECT count(*)::int FROM public.users WHERE cognito_user_id = $1) AS rows,
            (SELECT count(*)::int FROM sync.erased_users WHERE cognito_user_id = $1) AS tombstones`,
    [sub],
  );
  return rows[0] as { rows: number; tombstones: number };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cruddur-smoke-'));
  stack = await startLocalStack({
    dir,
    pgPort: await freePort(),
    lambdaPort: await freePort(),
    cognitoPort: await freePort(),
  });
  db = new Client({ connectionString: stack.info.connectionUrl });
  db.on('error', () => undefined);
  await db.connect();
});

afterAll(async () => {
  if (!dbEnded) await db?.end();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run smoke -- --local', () => {
  it('passes every step, writes the probe through the function and leaves only its tombstone', async () => {
    const logs = quietFunctions();
    const { code, out, err } = await smoke();
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const probe = /probe (\S+)/.exec(out[0] ?? '')?.[1] ?? '';
    expect(probe).toMatch(PROBE_PATTERN);
    expect(out.slice(1, 6).map((line) => line.trim().split(/\s+/).slice(0, 2))).toEqual([
      ['stack', 'ok'],
      ['trigger', 'ok'],
      ['write', 'ok'],
      ['fallback', 'skipped'],
      ['erase', 'ok'],
    ]);
    for (const line of out.slice(1, 6)) expect(line).toMatch(/\d+ ms/);
    expect(out.find((line) => line.includes('fallback'))).toMatch(/no queue locally/);
    expect(out.at(-1)).toMatch(/^smoke local: passed in \d+\.\d s$/);
    // The function itself wrote it (its own log line), and the erase left nothing but the tombstone.
    expect(logs.some((line) => line.includes(probe) && line.includes('"outcome":"inserted"'))).toBe(true);
    expect(await probeState(probe)).toEqual({ rows: 0, tombstones: 1 });
  });

  it('fails the stack step when no local stack is running in the directory', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cruddur-smoke-none-'));
    try {
      const captured = captureOutput();
      const code = await main(['--local', '--data-dir', empty], { output: captured.output });
      expect(code).toBe(78);
      expect(captured.err).toEqual([
        expect.stringMatching(/^smoke local: step stack failed: no local stack: .*stack\.json .*npm start$/),
      ]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('fails the trigger step when cognito-local calls another function, and writes no probe', async () => {
    const file = cognitoConfigFile(dir);
    const original = await readFile(file, 'utf8');
    const config = JSON.parse(original) as { TriggerFunctions: Record<string, string> };
    config.TriggerFunctions.PostConfirmation = 'SomethingElse';
    await writeFile(file, JSON.stringify(config));
    try {
      const probe = 'smoke-probe-00000000-0000-4000-8000-000000000001';
      const { code, err } = await smoke(probe);
      expect(code).toBe(1);
      expect(err).toEqual([
        "smoke local: step trigger failed: trigger not wired: cognito-local's PostConfirmation trigger is SomethingElse, not PostConfirmationFunction",
      ]);
      expect(await probeState(probe)).toEqual({ rows: 0, tombstones: 0 });
    } finally {
      await writeFile(file, original);
    }
  });

  // Last: the stack's database stays down for the rest of the file.
  it('fails the write step, naming the database, when the local PostgreSQL is stopped', async () => {
    await db.end();
    dbEnded = true;
    await stack.stopDatabase();
    quietFunctions();
    const { code, out, err } = await smoke();
    expect(out.slice(1).map((line) => line.trim().split(/\s+/).slice(0, 2))).toEqual([
      ['stack', 'ok'],
      ['trigger', 'ok'],
      ['write', 'FAILED'],
    ]);
    expect(err).toEqual([
      'smoke local: step write failed: function cannot reach the database: is the local PostgreSQL running?',
    ]);
    expect(code).toBe(69);
  });
});
