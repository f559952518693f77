// `npm run users -- export <sub>`: against a real PostgreSQL through CONNECTION_URL, and through a deployed
// export function (CloudFormation and Lambda mocked) for a private stage.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_NO_USER, exportCommand } from '../../bin/cli/export';
import { EXIT } from '../../bin/cli/common';
import { main } from '../../bin/users';
import { captureOutput } from '../support/output';
import { startMigratedServer, type TestServer } from '../support/postgres';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } };
const cloudFormation = new CloudFormationClient(config);
const lambda = new LambdaClient(config);
const cfnMock = mockClient(cloudFormation);
const lambdaMock = mockClient(lambda);

const SUB = '00000000-0000-4000-8000-000000000001';
const UNKNOWN = '00000000-0000-4000-8000-000000000099';

let server: TestServer;
let url: string;
let db: Client;
let emptyDataDir: string;

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  db = new Client({ connectionString: url });
  await db.connect();
  // No local stack is found here: a run without CONNECTION_URL must not reach one by accident.
  emptyDataDir = await mkdtemp(join(tmpdir(), 'export-cli-'));
});

afterAll(async () => {
  await db?.end();
  await server?.destroy();
  await rm(emptyDataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  cfnMock.reset();
  lambdaMock.reset();
  await db.query('TRUNCATE public.users, sync.erased_users RESTART IDENTITY CASCADE');
  await db.query(
    `INSERT INTO public.users (cognito_user_id, email, display_name, handle) VALUES ($1, 'jane@example.com', 'Jane Doe', 'jane')`,
    [SUB],
  );
  await db.query(
    `INSERT INTO public.activities (user_uuid, message) SELECT uuid, 'hello world' FROM public.users WHERE cognito_user_id = $1`,
    [SUB],
  );
  await db.query(
    `INSERT INTO public.user_groups (user_uuid, group_name, seen_at) SELECT uuid, 'admins', now() FROM public.users WHERE cognito_user_id = $1`,
    [SUB],
  );
});

async function run(argv: string[], env: NodeJS.ProcessEnv = { CONNECTION_URL: url, LOCAL_DATA_DIR: emptyDataDir }) {
  const captured = captureOutput();
  const code = await main(argv, env, { output: captured.output, cloudFormation, lambda, connectTimeoutMs: 3000 });
  return { code, ...captured };
}

function stackWith(stack: string, outputs: Record<string, string>) {
  cfnMock.on(DescribeStacksCommand, { StackName: stack }).resolves({
    Stacks: [
      {
        StackName: stack,
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

function answers(payload: unknown, functionError?: string) {
  lambdaMock.on(InvokeCommand).resolves({
    StatusCode: 200,
    ...(functionError === undefined ? {} : { FunctionError: functionError }),
    Payload: new TextEncoder().encode(JSON.stringify(payload)) as never,
  });
}

describe('users export, here', () => {
  it('prints the JSON document, pretty-printed, on stdout and nothing else there', async () => {
    const result = await run(['export', SUB]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toHaveLength(1);
    const text = result.out[0]!;
    expect(text.split('\n').length).toBeGreaterThan(10);
    const document = JSON.parse(text) as Record<string, unknown>;
    expect(document).toMatchObject({
      format: 'cruddur-user-data/1',
      sub: SUB,
      user: { cognito_user_id: SUB, email: 'jane@example.com', display_name: 'Jane Doe', handle: 'jane' },
      groups: [{ group_name: 'admins' }],
      activities: [{ message: 'hello world' }],
      erasure: null,
    });
    expect(text).toBe(JSON.stringify(document, null, 2));
    // Personal data goes to stdout only.
    expect(result.err.join('\n')).not.toMatch(/jane|hello world/i);
  });

  it('exits non-zero with one plain line for a sub the database does not know', async () => {
    const result = await run(['export', UNKNOWN]);
    expect(result.code).toBe(EXIT_NO_USER);
    expect(result.out).toEqual([]);
    expect(result.err).toEqual([`users: no user with sub ${UNKNOWN}`]);
  });

  it('refuses a sub that is no sub, without quoting it, and a missing one', async () => {
    const bad = await run(['export', 'jane@example.com']);
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.all()).not.toContain('jane');
    expect((await run(['export'])).code).toBe(EXIT.USAGE);
  });

  it('says which variable is missing when there is no database to read', async () => {
    const result = await run(['export', SUB, '--prod'], {});
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.at(-1)).toContain('PROD_CONNECTION_URL');
  });

  it('is reached through exportCommand the same way, with its own help', async () => {
    const captured = captureOutput();
    expect(await exportCommand(['--help'], {}, { output: captured.output })).toBe(EXIT.OK);
    expect(captured.out.join('\n')).toMatch(/^usage: npm run users -- export <sub>/);
  });
});

describe('users export, through the deployed function', () => {
  it('invokes the stage export function by its stack output and prints its document', async () => {
    stackWith('Cruddur-prod-Auth', { ExportFunctionName: 'Cruddur-prod-Export' });
    const document = { format: 'cruddur-user-data/1', sub: SUB, user: { email: 'jane@example.com' }, groups: [] };
    answers({ outcome: 'exported', sub: SUB, document });
    const result = await run(['export', SUB, '--stage', 'prod'], {});
    expect(result.code).toBe(EXIT.OK);
    expect(lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input).toMatchObject({
      FunctionName: 'Cruddur-prod-Export',
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify({ sub: SUB }),
    });
    expect(JSON.parse(result.out[0]!)).toEqual(document);
    expect(result.err.join('\n')).not.toContain('jane');
  });

  it('exits non-zero with one plain line when the function finds no user', async () => {
    stackWith('Cruddur-dev-Auth', { ExportFunctionName: 'Cruddur-dev-Export' });
    answers({ outcome: 'not_found', sub: UNKNOWN });
    const result = await run(['export', UNKNOWN, '--stage', 'dev', '--remote'], {});
    expect(result.code).toBe(EXIT_NO_USER);
    expect(result.out).toEqual([]);
    expect(result.err.at(-1)).toBe(`users: no user with sub ${UNKNOWN}`);
  });

  it("passes on the function's own error and fails; an answer for another sub is refused", async () => {
    stackWith('Cruddur-prod-Auth', { ExportFunctionName: 'Cruddur-prod-Export' });
    const error = {
      errorType: 'ExportFailedError',
      errorMessage: 'export failed: error (42501); see the log of request r-1',
    };
    answers(error, 'Unhandled');
    const failed = await run(['export', SUB, '--stage', 'prod'], {});
    expect(failed.code).toBe(EXIT.FAILURE);
    expect(failed.err.at(-1)).toBe(`users: the export function failed: ${error.errorMessage}`);

    answers({ outcome: 'exported', sub: UNKNOWN, document: {} });
    const mixedUp = await run(['export', SUB, '--stage', 'prod'], {});
    expect(mixedUp.code).toBe(EXIT.FAILURE);
    expect(mixedUp.out).toEqual([]);
  });

  it('refuses --prod with a deployed stage, and names the missing output', async () => {
    expect((await run(['export', SUB, '--stage', 'prod', '--prod'], {})).code).toBe(EXIT.USAGE);
    stackWith('Cruddur-prod-Auth', { ReconcileFunctionName: 'Cruddur-prod-Reconcile' });
    const missing = await run(['export', SUB, '--stage', 'prod'], {});
    expect(missing.code).toBe(EXIT.CONFIG);
    expect(missing.err.at(-1)).toContain('has no ExportFunctionName output');
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});
