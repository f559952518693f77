import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CognitoIdentityProviderClient,
  CognitoIdentityProviderServiceException,
  ListUsersCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/common';
import { main, type UsersDeps } from '../../bin/users';
import { captureOutput, type CapturedOutput } from '../support/output';
import { freePort, startMigratedServer, type TestServer } from '../support/postgres';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } };
const cognito = new CognitoIdentityProviderClient(config);
const cloudFormation = new CloudFormationClient(config);
const cognitoMock = mockClient(cognito);
const cfnMock = mockClient(cloudFormation);

const POOL = 'us-east-1_TestPool1';

let server: TestServer;
let url: string;
let db: Client;
let captured: CapturedOutput[];

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
  captured = [];
  await db.query('TRUNCATE public.users CASCADE');
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

/** Serves the users as ListUsers pages of the given size, chained by PaginationToken; records each request. */
function pool(users: UserType[], pageSize = 3): Record<string, unknown>[] {
  const requests: Record<string, unknown>[] = [];
  cognitoMock.on(ListUsersCommand).callsFake((input: { PaginationToken?: string }) => {
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
  const code = await main(argv, env, { output: output.output, cognito, cloudFormation, connectTimeoutMs: 2000, ...deps });
  return { code, ...output };
}

async function rows() {
  const result = await db.query('SELECT cognito_user_id, email, display_name, handle FROM public.users ORDER BY cognito_user_id');
  return result.rows as { cognito_user_id: string; email: string | null; display_name: string | null; handle: string | null }[];
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

describe('users reconcile', () => {
  it('reads every page and inserts the confirmed users with the trigger mapping, skipping the rest by reason', async () => {
    const requests = pool(mixed(), 3);
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.OK);
    expect(requests).toEqual([
      { UserPoolId: POOL, Limit: 60 },
      { UserPoolId: POOL, Limit: 60, PaginationToken: 'token-1' },
      { UserPoolId: POOL, Limit: 60, PaginationToken: 'token-2' },
    ]);
    expect(await rows()).toEqual(
      [1, 3, 4, 6, 8].map((n) => ({ cognito_user_id: sub(n), email: `person${n}@example.com`, display_name: `Person ${n}`, handle: `person${n}` })),
    );
    expect(result.out).toEqual([
      'scanned         8',
      'inserted        5',
      'updated         0',
      'already present 0',
      'skipped         3',
      '  invalid Attributes.email: 1',
      '  invalid Attributes.sub: 1',
      '  not confirmed (UNCONFIRMED): 1',
    ]);
  });

  it('inserts nothing the second time', async () => {
    pool(mixed());
    await run(['reconcile', '--user-pool-id', POOL]);
    const before = await rows();
    pool(mixed());
    const second = await run(['reconcile', '--user-pool-id', POOL]);
    expect(second.code).toBe(EXIT.OK);
    expect(second.out.slice(0, 4)).toEqual(['scanned         8', 'inserted        0', 'updated         0', 'already present 5']);
    expect(await rows()).toEqual(before);
  });

  it('refreshes email and name of a present user, as the trigger would, and keeps the handle', async () => {
    await db.query("INSERT INTO public.users (cognito_user_id, email, display_name, handle) VALUES ($1, 'old@example.com', 'Old Name', 'keptHandle')", [sub(1)]);
    pool([cognitoUser(1)]);
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.out.slice(1, 3)).toEqual(['inserted        0', 'updated         1']);
    expect(await rows()).toEqual([{ cognito_user_id: sub(1), email: 'person1@example.com', display_name: 'Person 1', handle: 'keptHandle' }]);
  });

  it('gives a user whose handle is taken the same suffixed handle as the trigger', async () => {
    await db.query("INSERT INTO public.users (cognito_user_id, handle) VALUES ('someone-else', 'Person1')");
    pool([cognitoUser(1)]);
    await run(['reconcile', '--user-pool-id', POOL]);
    const mine = (await rows()).find((row) => row.cognito_user_id === sub(1));
    expect(mine?.handle).toBe('person1_00000000');
  });

  it('writes nothing with --dry-run and counts who would be inserted', async () => {
    await db.query('INSERT INTO public.users (cognito_user_id, email) VALUES ($1, $2)', [sub(6), 'changed@example.com']);
    const before = await rows();
    pool(mixed());
    const result = await run(['reconcile', '--user-pool-id', POOL, '--dry-run']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.out.slice(0, 4)).toEqual(['scanned         8', 'would insert    4', 'already present 1', 'skipped         3']);
    expect(result.err.join('\n')).toMatch(/dry run: nothing is written/);
    expect(await rows()).toEqual(before);
  });

  it('shows progress on stderr every N users', async () => {
    pool(Array.from({ length: 7 }, (_, i) => cognitoUser(i + 1)), 2);
    const result = await run(['reconcile', '--user-pool-id', POOL, '--progress-every', '3']);
    expect(result.err.filter((line) => line.includes('scanned'))).toEqual([
      'users: 3 scanned (page 2), 2 new so far',
      'users: 6 scanned (page 3), 5 new so far',
    ]);
  });

  it('takes the user pool id from the Auth stack of the stage', async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'Cruddur-dev-Auth' }).resolves({
      Stacks: [{ StackName: 'Cruddur-dev-Auth', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'UserPoolId', OutputValue: POOL }] }],
    });
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

  it('stops with a clear line and the counts so far when ListUsers stays throttled', async () => {
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
    expect(result.err.at(-1)).toBe('users: AWS throttled the request (3 attempts) (TooManyRequestsException); wait a minute and run it again, or raise AWS_MAX_ATTEMPTS');
    expect(result.err).toContain('  inserted        2');
    expect(await rows()).toHaveLength(2);
  });

  it('names a user pool that does not exist', async () => {
    cognitoMock
      .on(ListUsersCommand)
      .rejects(new CognitoIdentityProviderServiceException({ name: 'ResourceNotFoundException', $fault: 'client', $metadata: {}, message: 'User pool does not exist.' }));
    const result = await run(['reconcile', '--user-pool-id', POOL]);
    expect(result.code).toBe(EXIT.CONFIG);
    expect(result.err.at(-1)).toMatch(/user pool does not exist/);
  });

  it('checks its configuration before calling AWS', async () => {
    const missing = await run(['reconcile', '--user-pool-id', POOL], {});
    expect(missing.code).toBe(EXIT.CONFIG);
    expect(missing.err).toEqual(['users: Configuration error: CONNECTION_URL is not set']);
    const badPool = await run(['reconcile', '--user-pool-id', 'pool; rm']);
    expect(badPool.code).toBe(EXIT.USAGE);
    const badCommand = await run(['sync']);
    expect(badCommand.code).toBe(EXIT.USAGE);
    expect(cognitoMock.calls()).toHaveLength(0);
  });

  it('reports an unreachable database before reading the pool', async () => {
    const port = await freePort();
    const result = await run(['reconcile', '--user-pool-id', POOL], { CONNECTION_URL: `postgres://ops:s3cret-pw@127.0.0.1:${port}/cruddur` });
    expect(result.code).toBe(EXIT.UNAVAILABLE);
    expect(result.err.at(-1)).toContain(`postgres://ops:***@127.0.0.1:${port}/cruddur`);
    expect(result.all()).not.toContain('s3cret-pw');
    expect(cognitoMock.calls()).toHaveLength(0);
  });
});
