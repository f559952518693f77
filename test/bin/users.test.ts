import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  CognitoIdentityProviderServiceException,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  UserNotFoundException,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/common';
import { main, type UsersDeps } from '../../bin/users';
import { FakeClock } from '../lambdas/reconcile/fake-pool';
import { captureOutput, type CapturedOutput } from '../support/output';
import { freePort, startMigratedServer, type TestServer } from '../support/postgres';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } };
const cognito = new CognitoIdentityProviderClient(config);
const cloudFormation = new CloudFormationClient(config);
const lambda = new LambdaClient(config);
const cognitoMock = mockClient(cognito);
const cfnMock = mockClient(cloudFormation);
const lambdaMock = mockClient(lambda);

const POOL = 'us-east-1_TestPool1';

let server: TestServer;
let url: string;
let db: Client;
let captured: CapturedOutput[];
let clock: FakeClock;

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  db = new Client({ connectionString: url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await server?.destroy();
});

beforeEach(async () => {
  cognitoMock.reset();
  cfnMock.reset();
  lambdaMock.reset();
  // AdminGetUser takes a user name, never a sub: the code must not ask it (these users' names are not subs).
  cognitoMock
    .on(AdminGetUserCommand)
    .rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
  // A pool without groups unless a test gives it some.
  cognitoMock.on(ListGroupsCommand).resolves({ Groups: [] });
  captured = [];
  clock = new FakeClock();
  await db.query(
    'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs, sync.pool_binding RESTART IDENTITY CASCADE',
  );
});

afterEach(() => {
  // Whatever happened, no output line may carry a user's personal data (emails, names, handles, usernames).
  for (const output of captured) expect(output.all()).not.toMatch(/@example\.com|Person \d|person\d|user-name-/i);
});

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

function cognitoUser(n: number, status = 'CONFIRMED', extra: Record<string, string> = {}): UserType {
  const attributes: Record<string, string> = {
    sub: sub(n),
    email: `person${n}@example.com`,
    name: `Person ${n}`,
    preferred_username: `person${n}`,
    ...extra,
  };
  return {
    Username: `user-name-${n}`,
    UserStatus: status as UserType['UserStatus'],
    Enabled: true,
    Attributes: Object.entries(attributes).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** The sub of a lookup by sub (ListUsers' Filter `sub = "…"`), or undefined for a listing. */
function filteredSub(input: { Filter?: string }): string | undefined {
  return input.Filter === undefined ? undefined : /^sub = "(.*)"$/.exec(input.Filter)?.[1];
}

/**
 * Serves the users as ListUsers pages of the given size, chained by PaginationToken, and a lookup by sub from
 * the same users (and `alsoFindable`: users a listing missed); records each listing request.
 */
function pool(users: UserType[], pageSize = 3, alsoFindable: UserType[] = []): Record<string, unknown>[] {
  const requests: Record<string, unknown>[] = [];
  cognitoMock.on(ListUsersCommand).callsFake((input: { PaginationToken?: string; Filter?: string }) => {
    const wanted = filteredSub(input);
    if (wanted !== undefined) {
      const subOf = (user: UserType) => user.Attributes?.find((a) => a.Name === 'sub')?.Value;
      return { Users: [...users, ...alsoFindable].filter((user) => subOf(user) === wanted) };
    }
    // A copy: the SDK paginator reuses and mutates one input object between pages.
    requests.push({ ...input });
    const page = input.PaginationToken === undefined ? 0 : Number(input.PaginationToken.replace('token-', ''));
    const start = page * pageSize;
    const last = start + pageSize >= users.length;
    return { Users: users.slice(start, start + pageSize), PaginationToken: last ? undefined : `token-${page + 1}` };
  });
  return requests;
}

async function run(argv: string[], env: NodeJS.ProcessEnv = { CONNECTION_URL: url }, deps: Partial<UsersDeps> = {}) {
  const output = captureOutput();
  captured.push(output);
  const code = await main(argv, env, {
    output: output.output,
    cognito,
    cloudFormation,
    lambda,
    clock,
    connectTimeoutMs: 2000,
    ...deps,
  });
  return { code, ...output };
}

async function rows() {
  const result = await db.query(
    'SELECT cognito_user_id, email, display_name, handle FROM public.users ORDER BY cognito_user_id',
  );
  return result.rows as {
    cognito_user_id: string;
    email: string | null;
    display_name: string | null;
    handle: string | null;
  }[];
}

const mixed = () => [
  cognitoUser(1),
  cognitoUser(2, 'UNCONFIRMED'),
  cognitoUser(3, 'EXTERNAL_PROVIDER'),
  cognitoUser(4, 'FORCE_CHANGE_PASSWORD'),
  cognitoUser(5, 'CONFIRMED', { email: 'bad\u0000@example.com' }),
  cognitoUser(6),
  cognitoUser(7, 'CONFIRMED', { sub: 'not a sub!' }),
  cognitoUser(8),
];

/** A report as the deployed function returns it. */
function functionReport(fields: Record<string, unknown> = {}) {
  return {
    status: 'complete',
    dryRun: false,
    runId: '7',
    resumed: true,
    rewound: 0,
    pages: 3,
    scanned: 150,
    inserted: 2,
    updated: 1,
    handleConflicts: 0,
    unchanged: 147,
    stale: 0,
    seen: 0,
    erasedTombstoned: 0,
    tombstonedInPool: 0,
    drift: 4,
    handlesRefused: 0,
    refused: {},
    skipped: {},
    runPages: 3,
    runScanned: 150,
    prune: { available: true, candidates: 1, erased: 1, keptInPool: 0, alreadyErased: 0, complete: true, subs: [] },
    ...fields,
  };
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

describe('users reconcile', () => {
  it('reads every page and inserts the confirmed users with the trigger mapping, skipping the rest by reason', async () => {
    const requests = pool(mixed(), 3);
    cognitoMock.on(ListGroupsCommand).resolves({ Groups: [{ GroupName: 'admins' }] });
    cognitoMock
      .on(ListUsersInGroupCommand, { UserPoolId: POOL, GroupName: 'admins' })
      .resolves({ Users: [cognitoUser(1), cognitoUser(3)] });
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.OK);
    const { rows: members } = await db.query(
      'SELECT u.cognito_user_id, g.group_name FROM public.user_groups AS g JOIN public.users AS u ON u.uuid = g.user_uuid ORDER BY 1',
    );
    expect(members).toEqual([
      { cognito_user_id: sub(1), group_name: 'admins' },
      { cognito_user_id: sub(3), group_name: 'admins' },
    ]);
    expect(requests).toEqual([
      { UserPoolId: POOL, Limit: 60 },
      { UserPoolId: POOL, Limit: 60, PaginationToken: 'token-1' },
      { UserPoolId: POOL, Limit: 60, PaginationToken: 'token-2' },
    ]);
    expect(await rows()).toEqual(
      [1, 3, 4, 6, 8].map((n) => ({
        cognito_user_id: sub(n),
        email: `person${n}@example.com`,
        display_name: `Person ${n}`,
        handle: `person${n}`,
      })),
    );
    expect(result.out).toEqual([
      'run                 1 (started)',
      'status              complete',
      'scanned             8',
      'insert              5',
      'update              0',
      'unchanged           0',
      'stale               0',
      'tombstoned in pool  0',
      'refused             0',
      'drift               7',
      'skipped             3',
      '  invalid Attributes.email: 1',
      '  invalid Attributes.sub: 1',
      '  not confirmed (UNCONFIRMED): 1',
      'groups              1',
      'members added       2',
      'members removed     0',
      'groups deleted      0 (0 memberships)',
      'prune candidates    0',
      'erase               0',
      'kept (in pool)      0',
    ]);
  });

  it('reads ListUsers at the given rate: N requests take at least (N-1)/rate seconds', async () => {
    pool(
      Array.from({ length: 10 }, (_, i) => cognitoUser(i + 1)),
      2,
    );
    const started = clock.now();
    const result = await run(['reconcile', '--user-pool-id', POOL, '--rate', '2']);
    expect(result.code).toBe(EXIT.OK);
    expect(cognitoMock.commandCalls(ListUsersCommand)).toHaveLength(5);
    expect(clock.now() - started).toBeGreaterThanOrEqual(((5 - 1) / 2) * 1000);
    expect(result.err[0]).toContain('at 2 ListUsers requests/s');
  });

  it('inserts nothing the second time', async () => {
    pool(mixed());
    await run(['reconcile', '--user-pool-id', POOL]);
    const before = await rows();
    pool(mixed());
    const second = await run(['reconcile', '--user-pool-id', POOL]);
    expect(second.code).toBe(EXIT.OK);
    expect(second.out.slice(0, 6)).toEqual([
      'run                 2 (started)',
      'status              complete',
      'scanned             8',
      'insert              0',
      'update              0',
      'unchanged           5',
    ]);
    expect(await rows()).toEqual(before);
  });

  it("refreshes email, name and handle of a present user to the pool's", async () => {
    // The lifecycle sync: the handle follows preferred_username when no other user holds it (it used to stay).
    await db.query(
      "INSERT INTO public.users (cognito_user_id, email, display_name, handle) VALUES ($1, 'old@example.com', 'Old Name', 'keptHandle')",
      [sub(1)],
    );
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.out.slice(3, 5)).toEqual(['insert              0', 'update              1']);
    expect(await rows()).toEqual([
      { cognito_user_id: sub(1), email: 'person1@example.com', display_name: 'Person 1', handle: 'person1' },
    ]);
  });

  it('gives a user whose handle is taken the same suffixed handle as the trigger', async () => {
    await db.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('someone-else', 'Person1')");
    pool([cognitoUser(1)]);
    await run(['reconcile', '--user-pool-id', POOL]);
    const mine = (await rows()).find((row) => row.cognito_user_id === sub(1));
    expect(mine?.handle).toBe('person1_00000000');
  });

  it('erases with --prune a row whose user the pool no longer has, after asking the pool', async () => {
    await db.query('INSERT INTO public.users (cognito_user_id, email) VALUES ($1, $2), ($3, $4)', [
      sub(1),
      'person1@example.com',
      sub(9),
      'person9@example.com',
    ]);
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune'], {
      CONNECTION_URL: url,
      ERASURE_POLICY: 'anonymize',
    });
    expect(result.code).toBe(EXIT.OK);
    expect(result.out.slice(-3)).toEqual(['prune candidates    1', 'erase               1', 'kept (in pool)      0']);
    expect(result.err[0]).toContain('(prune: anonymize)');
    expect(cognitoMock.commandCalls(ListUsersCommand).map((call) => call.args[0].input.Filter)).toContain(
      `sub = "${sub(9)}"`,
    );
    expect(cognitoMock.commandCalls(AdminGetUserCommand)).toHaveLength(0);
    // Anonymized: the row stays as a ghost with a fresh opaque id and no personal value.
    expect((await rows()).find((row) => row.cognito_user_id !== sub(1))).toEqual({
      cognito_user_id: expect.stringMatching(/^erased-/) as unknown,
      email: null,
      display_name: null,
      handle: null,
    });
  });

  it('lists without --prune the subs of rows the pool no longer has, and erases nothing', async () => {
    await db.query('INSERT INTO public.users (cognito_user_id, email) VALUES ($1, $2)', [
      sub(9),
      'person9@example.com',
    ]);
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.out.slice(-2)).toEqual(['prune candidates    1', `  not in the pool: ${sub(9)}`]);
    expect(cognitoMock.commandCalls(ListUsersCommand).filter((call) => filteredSub(call.args[0].input))).toEqual([]);
    expect(await rows()).toHaveLength(2);
  });

  it('writes nothing with --dry-run and says what it would insert, update and erase', async () => {
    await db.query('INSERT INTO public.users (cognito_user_id, email) VALUES ($1, $2), ($3, $4)', [
      sub(6),
      'changed@example.com',
      sub(9),
      'gone@example.com',
    ]);
    const before = await rows();
    pool(mixed());
    const result = await run(['reconcile', '--user-pool-id', POOL, '--dry-run', '--prune']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toEqual([
      'status              complete',
      'scanned             8',
      'would insert        4',
      'would update        1',
      'unchanged           0',
      'stale               0',
      'tombstoned in pool  0',
      'refused             0',
      'would drift         6',
      'skipped             3',
      '  invalid Attributes.email: 1',
      '  invalid Attributes.sub: 1',
      '  not confirmed (UNCONFIRMED): 1',
      'groups              0',
      'group members       0 (listed; a dry run does not compare them with the table)',
      'prune candidates    1',
      'would erase         1',
      'kept (in pool)      0',
    ]);
    expect(result.err.join('\n')).toMatch(/dry run: nothing is written/);
    expect(await rows()).toEqual(before);
    expect((await db.query('SELECT count(*)::int AS n FROM sync.reconcile_runs')).rows).toEqual([{ n: 0 }]);
    expect((await db.query('SELECT count(*)::int AS n FROM sync.erased_users')).rows).toEqual([{ n: 0 }]);
  });

  it('shows progress on stderr every N users', async () => {
    pool(
      Array.from({ length: 7 }, (_, i) => cognitoUser(i + 1)),
      2,
    );
    const result = await run(['reconcile', '--user-pool-id', POOL, '--progress-every', '3']);
    expect(result.err.filter((line) => line.includes('scanned'))).toEqual([
      'users: 4 scanned (page 2), 4 new so far',
      'users: 6 scanned (page 3), 6 new so far',
    ]);
  });

  it('takes the user pool id from the Auth stack of the stage', async () => {
    stackWith('Cruddur-dev-Auth', { UserPoolId: POOL });
    pool([cognitoUser(1)]);
    const result = await run(['reconcile']);
    expect(result.code).toBe(EXIT.OK);
    expect(cognitoMock.commandCalls(ListUsersCommand)[0]?.args[0].input.UserPoolId).toBe(POOL);
    expect(await rows()).toHaveLength(1);
  });

  it('writes to PROD_CONNECTION_URL with --prod', async () => {
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prod'], { PROD_CONNECTION_URL: url });
    expect(result.code).toBe(EXIT.OK);
    expect(await rows()).toHaveLength(1);
    expect(result.all()).not.toContain(':postgres@');
  });

  it('stops with a clear line and the counts so far when ListUsers stays throttled, and a rerun resumes the run', async () => {
    cognitoMock
      .on(ListUsersCommand)
      .resolvesOnce({ Users: [cognitoUser(1), cognitoUser(2)], PaginationToken: 'token-1' })
      .rejectsOnce(
        new CognitoIdentityProviderServiceException({
          name: 'TooManyRequestsException',
          $fault: 'client',
          $metadata: { httpStatusCode: 429, attempts: 3 },
          message: 'Rate exceeded',
        }),
      );
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.TEMPFAIL);
    expect(result.err.at(-1)).toBe(
      'users: AWS throttled the request (3 attempts) (TooManyRequestsException); wait a minute and run it again, or raise AWS_MAX_ATTEMPTS',
    );
    expect(result.err).toContain('  insert              2');
    expect(await rows()).toHaveLength(2);
    const requests = pool([cognitoUser(1), cognitoUser(2), cognitoUser(3)], 2);
    const rerun = await run(['reconcile', '--user-pool-id', POOL]);
    expect(rerun.code).toBe(EXIT.OK);
    expect(requests).toEqual([{ UserPoolId: POOL, Limit: 60, PaginationToken: 'token-1' }]);
    expect(rerun.out[0]).toBe('run                 1 (resumed)');
    expect(await rows()).toHaveLength(3);
  });

  it('names a user pool that does not exist', async () => {
    cognitoMock.on(ListUsersCommand).rejects(
      new CognitoIdentityProviderServiceException({
        name: 'ResourceNotFoundException',
        $fault: 'client',
        $metadata: {},
        message: 'User pool does not exist.',
      }),
    );
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.at(-1)).toMatch(/user pool does not exist/);
  });

  it('checks its configuration before calling AWS', async () => {
    const missing = await run(['reconcile', '--user-pool-id', POOL], {});
    expect(missing.code).toBe(EXIT.CONFIG);
    expect(missing.err.at(-1)).toMatch(/^users: CONNECTION_URL is not set/);
    const badPool = await run(['reconcile', '--user-pool-id', 'pool; rm']);
    expect(badPool.code).toBe(EXIT.USAGE);
    const badCommand = await run(['sync']);
    expect(badCommand.code).toBe(EXIT.USAGE);
    const badRate = await run(['reconcile', '--user-pool-id', POOL, '--rate', '40']);
    expect(badRate.code).toBe(EXIT.USAGE);
    expect(badRate.err.at(-1)).toMatch(/^users: --rate must be .* at most 30$/);
    const badPolicy = await run(['reconcile', '--user-pool-id', POOL, '--prune'], {
      CONNECTION_URL: url,
      ERASURE_POLICY: 'shred',
    });
    expect(badPolicy.code).toBe(EXIT.CONFIG);
    expect(cognitoMock.calls()).toHaveLength(0);
  });

  it('reports an unreachable database before reading the pool', async () => {
    const port = await freePort();
    const result = await run(['reconcile', '--user-pool-id', POOL], {
      CONNECTION_URL: `postgres://ops:s3cret-pw@127.0.0.1:${port}/cruddur`,
    });
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err.at(-1)).toContain(`postgres://ops:***@127.0.0.1:${port}/cruddur`);
    expect(result.all()).not.toContain('s3cret-pw');
    expect(cognitoMock.calls()).toHaveLength(0);
  });
});

describe('users reconcile --stage prod', () => {
  it("invokes the stage's reconcile function and prints its counts", async () => {
    stackWith('Cruddur-prod-Auth', { UserPoolId: POOL, ReconcileFunctionName: 'Cruddur-prod-Reconcile' });
    lambdaMock
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(functionReport())) as never });
    const result = await run(['reconcile', '--stage', 'prod', '--prune'], {});
    expect(result.code).toBe(EXIT.OK);
    expect(lambdaMock.commandCalls(InvokeCommand).map((call) => call.args[0].input)).toEqual([
      {
        FunctionName: 'Cruddur-prod-Reconcile',
        InvocationType: 'RequestResponse',
        Payload: '{"mode":"start","prune":true,"dryRun":false}',
      },
    ]);
    expect(result.out.slice(0, 4)).toEqual([
      'run                 7 (resumed)',
      'status              complete',
      'scanned             150',
      'insert              2',
    ]);
    expect(result.out.slice(-3)).toEqual(['prune candidates    1', 'erase               1', 'kept (in pool)      0']);
    expect(cognitoMock.calls()).toHaveLength(0);
  });

  it('says when the function stopped at its time budget, and for dev only with --remote', async () => {
    stackWith('Cruddur-dev-Auth', { ReconcileFunctionName: 'Cruddur-dev-Reconcile' });
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(functionReport({ status: 'incomplete', prune: null }))) as never,
    });
    const result = await run(['reconcile', '--stage', 'dev', '--remote', '--dry-run'], {});
    expect(result.code).toBe(EXIT.OK);
    expect(lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload).toBe(
      '{"mode":"start","prune":false,"dryRun":true}',
    );
    expect(result.err.at(-1)).toMatch(/its schedule \(mode "continue"\) resumes the run/);
  });

  it("passes on the function's own error message and fails", async () => {
    stackWith('Cruddur-prod-Auth', { ReconcileFunctionName: 'Cruddur-prod-Reconcile' });
    const error = {
      errorType: 'ReconcileFailedError',
      errorMessage: 'reconcile failed: DatabaseUnavailableError (28P01); see the log of request r-1',
    };
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(JSON.stringify(error)) as never,
    });
    const result = await run(['reconcile', '--stage', 'prod'], {});
    expect(result.code).toBe(EXIT.FAILURE);
    expect(result.err.at(-1)).toBe(`users: the reconcile function failed: ${error.errorMessage}`);
  });

  it('exits 4 (refused), as a local run does, when the deployed function finds the database bound to another pool', async () => {
    stackWith('Cruddur-prod-Auth', { ReconcileFunctionName: 'Cruddur-prod-Reconcile' });
    const error = {
      errorType: 'PoolMismatchError',
      errorMessage:
        'the database is kept in step with user pool us-east-1_Old000000, not us-east-1_New000000: nothing read or written; ' +
        'if us-east-1_New000000 replaces it, adopt it first (npm run db -- adopt-pool us-east-1_New000000)',
    };
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(JSON.stringify(error)) as never,
    });
    const result = await run(['reconcile', '--stage', 'prod', '--prune'], {});
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.at(-1)).toBe(`users: the reconcile function failed: ${error.errorMessage}`);
  });

  it('refuses flags that only make sense here', async () => {
    expect((await run(['reconcile', '--stage', 'prod', '--remote', '--prod'], {})).code).toBe(EXIT.USAGE);
    expect((await run(['reconcile', '--stage', 'prod', '--user-pool-id', POOL], {})).code).toBe(EXIT.USAGE);
    const maxPrune = await run(['reconcile', '--stage', 'prod', '--prune', '--max-prune', '50'], {});
    expect(maxPrune.code).toBe(EXIT.USAGE);
    expect(maxPrune.err.at(-1)).toMatch(/RECONCILE_MAX_PRUNE/);
    expect(lambdaMock.calls()).toHaveLength(0);
  });

  it('exits non-zero naming count and limit when the function refused its prune', async () => {
    stackWith('Cruddur-prod-Auth', { ReconcileFunctionName: 'Cruddur-prod-Reconcile' });
    const prune = {
      available: true,
      candidates: 40,
      erased: 0,
      keptInPool: 0,
      alreadyErased: 0,
      complete: false,
      subs: [],
      refused: { candidates: 40, limit: 10, reason: 'over_limit' },
    };
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(functionReport({ prune }))) as never,
    });
    const result = await run(['reconcile', '--stage', 'prod', '--prune'], {});
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.out.slice(-2)).toEqual([
      'prune candidates    40',
      'prune refused       40 rows would be erased, more than the limit of 10; nothing erased',
    ]);
    expect(result.err.at(-1)).toMatch(/40 rows would be erased, more than the limit of 10/);
  });
});

describe('users reconcile: the pool and the database come from one stage', () => {
  it("reconciles --prod against the prod stage's pool, never dev's", async () => {
    // The dev pool is empty; prod's holds the table's user. Taking dev's pool for the prod database once pruned
    // every prod row.
    stackWith('Cruddur-dev-Auth', { UserPoolId: 'us-east-1_DevPool1' });
    stackWith('Cruddur-prod-Auth', { UserPoolId: 'us-east-1_ProdPool1' });
    await db.query('INSERT INTO public.users (cognito_user_id) VALUES ($1)', [sub(1)]);
    const requests = pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--prod', '--prune'], { PROD_CONNECTION_URL: url });
    expect(result.code).toBe(EXIT.OK);
    expect(requests.map((request) => request.UserPoolId)).toEqual(['us-east-1_ProdPool1']);
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(1)]);
    expect(await db.query('SELECT count(*)::int AS n FROM sync.erased_users')).toMatchObject({ rows: [{ n: 0 }] });
  });

  it.each([['dev'], ['staging']])('refuses --prod with --stage %s before anything is read', async (stage) => {
    const result = await run(['reconcile', '--prod', '--stage', stage, '--prune'], { PROD_CONNECTION_URL: url });
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.at(-1)).toMatch(/--prod is the prod stage's database/);
    expect(cognitoMock.calls()).toHaveLength(0);
    expect(cfnMock.calls()).toHaveLength(0);
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(await db.query('SELECT count(*)::int AS n FROM sync.reconcile_runs')).toMatchObject({ rows: [{ n: 0 }] });
  });

  it('runs --prod --stage prod here, as --prod alone does', async () => {
    stackWith('Cruddur-prod-Auth', { UserPoolId: 'us-east-1_ProdPool1' });
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--prod', '--stage', 'prod'], { PROD_CONNECTION_URL: url });
    expect(result.code).toBe(EXIT.OK);
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(await rows()).toHaveLength(1);
  });
});

describe('users reconcile brakes', () => {
  async function oldRows(count: number): Promise<void> {
    await db.query(
      `INSERT INTO public.users (cognito_user_id, created_at)
       SELECT '00000000-0000-4000-8000-' || lpad(n::text, 12, '0'), '2026-01-01' FROM generate_series(101, $1::int + 100) AS n`,
      [count],
    );
  }

  it('refuses a prune over the limit, exits non-zero naming count and limit, and erases nothing', async () => {
    await oldRows(12);
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune']);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.out.slice(-2)).toEqual([
      'prune candidates    12',
      'prune refused       12 rows would be erased, more than the limit of 10; nothing erased',
    ]);
    expect(result.err.at(-1)).toBe(
      'users: prune refused: 12 rows would be erased, more than the limit of 10; nothing erased. If they have really left the pool, rerun with --max-prune 12',
    );
    expect(await rows()).toHaveLength(13);
  });

  it('erases them with --max-prune N for that run', async () => {
    await oldRows(12);
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune', '--max-prune', '12']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toContain('drift               13');
    expect(await rows()).toHaveLength(1);
  });

  it('never prunes after a run that saw no user', async () => {
    await oldRows(2);
    pool([]);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune']);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.at(-1)).toMatch(/the run saw no user in us-east-1_TestPool1, so it erases nobody \(2 rows/);
    expect(await rows()).toHaveLength(2);
  });

  it.each(['lots', '0'])('refuses --max-prune %s, which is not a number of rows of 1 or more', async (value) => {
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune', '--max-prune', value]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.err.join('\n')).toContain('--max-prune must be a whole number of rows, 1 or more');
    expect(cognitoMock.calls()).toHaveLength(0);
  });

  it('stops with one line naming both pools when the database is kept in step with another', async () => {
    pool([cognitoUser(1)]);
    await run(['reconcile', '--user-pool-id', 'us-east-1_OldPool1']);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--prune']);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.at(-1)).toBe(
      `users: the database is kept in step with user pool us-east-1_OldPool1, not ${POOL}: nothing read or written; if ${POOL} replaces it, adopt it first (npm run db -- adopt-pool ${POOL})`,
    );
  });

  it('prints tombstoned users alive in the pool, each by sub on stderr', async () => {
    await db.query("SELECT sync.erase_user($1, 'delete')", [sub(1)]);
    pool([cognitoUser(1), cognitoUser(2)]);
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toContain('tombstoned in pool  1');
    expect(result.err.filter((line) => line.includes('tombstoned_in_pool'))).toEqual([
      expect.stringContaining(`"sub":"${sub(1)}"`),
    ]);
  });
});

describe('users restore', () => {
  const federated = (n: number): UserType => ({ ...cognitoUser(n, 'EXTERNAL_PROVIDER'), Username: `Google_${n}` });

  it('removes the tombstone of a user the pool has, found by sub, and the next reconcile writes them back', async () => {
    await db.query("SELECT sync.erase_user($1, 'delete')", [sub(3)]);
    pool([federated(3)]);
    const result = await run(['restore', sub(3), '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toEqual([
      `restored ${sub(3)}: tombstone removed; the next reconcile writes the user back from ${POOL}`,
    ]);
    expect(await db.query('SELECT count(*)::int AS n FROM sync.erased_users')).toMatchObject({ rows: [{ n: 0 }] });
    await run(['reconcile', '--user-pool-id', POOL]);
    expect((await rows()).map((row) => row.cognito_user_id)).toEqual([sub(3)]);
  });

  it('refuses, non-zero, and keeps the tombstone when the pool has no user with that sub', async () => {
    await db.query("SELECT sync.erase_user($1, 'delete')", [sub(3)]);
    pool([cognitoUser(1)]);
    const result = await run(['restore', sub(3), '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(result.err.at(-1)).toBe(
      `users: the pool ${POOL} has no user with sub ${sub(3)}: not restored, the tombstone stays`,
    );
    expect(await db.query('SELECT count(*)::int AS n FROM sync.erased_users')).toMatchObject({ rows: [{ n: 1 }] });
  });

  it('refuses when the database is kept in step with another pool', async () => {
    pool([cognitoUser(1)]);
    await run(['reconcile', '--user-pool-id', 'us-east-1_OldPool1']);
    await db.query("SELECT sync.erase_user($1, 'delete')", [sub(3)]);
    pool([cognitoUser(3)]);
    const result = await run(['restore', sub(3), '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.REFUSED);
    expect(await db.query('SELECT count(*)::int AS n FROM sync.erased_users')).toMatchObject({ rows: [{ n: 1 }] });
  });

  it('says so for a sub with no tombstone', async () => {
    pool([cognitoUser(3)]);
    const result = await run(['restore', sub(3), '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out).toEqual([`${sub(3)} has no tombstone: nothing to restore`]);
  });

  it('refuses a malformed sub, and --prod with another stage, before anything is read', async () => {
    expect((await run(['restore', 'x" or "', '--user-pool-id', POOL])).code).toBe(EXIT.USAGE);
    expect((await run(['restore', sub(3), '--prod', '--stage', 'dev'], { PROD_CONNECTION_URL: url })).code).toBe(
      EXIT.USAGE,
    );
    expect((await run(['restore', sub(3), '--stage', 'prod'], {})).code).toBe(EXIT.USAGE);
    expect(cognitoMock.calls()).toHaveLength(0);
    expect(cfnMock.calls()).toHaveLength(0);
  });
});

describe('users reconcile with the local stack', () => {
  it("reconciles cognito-local's pool into the local database from stack.json, with no variable set", async () => {
    // A stand-in for cognito-local: one ListUsers page; it records what the SDK sent.
    const seen: { target: string | undefined; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
    const cognitoLocal = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const target = request.headers['x-amz-target'];
        seen.push({
          target: Array.isArray(target) ? target[0] : target,
          headers: request.headers,
          body: JSON.parse(body) as Record<string, unknown>,
        });
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({
            Users: [{ ...cognitoUser(1), UserCreateDate: 1700000000, UserLastModifiedDate: 1700000000 }],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => cognitoLocal.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(join(tmpdir(), 'cruddur-users-local-'));
    try {
      const endpoint = `http://127.0.0.1:${(cognitoLocal.address() as AddressInfo).port}`;
      await writeFile(
        join(dir, 'stack.json'),
        JSON.stringify({
          connectionUrl: url,
          cognitoEndpoint: endpoint,
          userPoolId: 'local_LocalPool',
          userPoolClientId: 'client1',
          lambdaEndpoint: 'http://127.0.0.1:9',
          functionName: 'PostConfirmationFunction',
          region: 'us-east-1',
          dataDir: dir,
          cognitoLogFile: join(dir, 'cognito.log'),
        }),
      );
      const result = await run(
        ['reconcile', '--dry-run'],
        { LOCAL_DATA_DIR: dir },
        { cognito: undefined, cloudFormation: undefined },
      );
      expect(result.code).toBe(EXIT.OK);
      expect(result.err[0]).toBe(`users: using the local stack from ${join(dir, 'stack.json')}`);
      expect(result.out).toContainEqual(expect.stringMatching(/^scanned\s+1$/));
      const list = seen.find((request) => request.target?.endsWith('.ListUsers'));
      expect(list?.body.UserPoolId).toBe('local_LocalPool');
      // The placeholder keys go to the local endpoint only.
      expect(String(list?.headers.authorization)).toMatch(/Credential=local\//);
      expect(cfnMock.calls()).toHaveLength(0);
      expect(await rows()).toEqual([]);
    } finally {
      await new Promise((resolve) => cognitoLocal.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
