import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  InvalidParameterException,
  ListUsersCommand,
  TooManyRequestsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { cognitoPoolReader, PaginationTokenRefusedError } from '../../../lambdas/cognito/user-pool';
import { FakeClock, START } from '../reconcile/fake-pool';

const cognito = new CognitoIdentityProviderClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
});
const mock = mockClient(cognito);
const POOL = 'us-east-1_TestPool1';

let clock: FakeClock;

beforeEach(() => {
  mock.reset();
  clock = new FakeClock();
});

describe('cognitoPoolReader', () => {
  it('asks for pages of 60 at the configured rate and stamps each with the time it was sent', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [{ Username: 'a' }], PaginationToken: 'next' });
    const reader = cognitoPoolReader(cognito, { userPoolId: POOL, listRate: 2, clock });
    const first = await reader.listPage(undefined);
    const second = await reader.listPage('next');
    expect(first).toEqual({ users: [{ Username: 'a' }], nextToken: 'next', readAt: START });
    expect(second.readAt).toBe(START + 500);
    expect(mock.commandCalls(ListUsersCommand).map((call) => call.args[0].input)).toEqual([
      { UserPoolId: POOL, Limit: 60 },
      { UserPoolId: POOL, Limit: 60, PaginationToken: 'next' },
    ]);
  });

  it('reads the last page as having no next token, even when Cognito sends an empty one', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [], PaginationToken: '' });
    expect(
      (await cognitoPoolReader(cognito, { userPoolId: POOL, clock }).listPage(undefined)).nextToken,
    ).toBeUndefined();
  });

  it('turns a refused token into PaginationTokenRefusedError, and other faults into themselves', async () => {
    const invalid = new InvalidParameterException({ message: 'Paging marker is invalid for request', $metadata: {} });
    mock.on(ListUsersCommand).rejects(invalid);
    const reader = cognitoPoolReader(cognito, { userPoolId: POOL, clock });
    await expect(reader.listPage('old-token')).rejects.toBeInstanceOf(PaginationTokenRefusedError);
    // Without a token the same exception is a real fault (a malformed pool id, say).
    await expect(reader.listPage(undefined)).rejects.toBe(invalid);
    const throttled = new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} });
    mock.on(ListUsersCommand).rejects(throttled);
    await expect(reader.listPage('token')).rejects.toBe(throttled);
  });

  it('checks one user by sub with ListUsers filtered on the sub, and says absent when nobody has it', async () => {
    const federated = { Username: 'Google_1234', Enabled: false, Attributes: [{ Name: 'sub', Value: 'present-sub' }] };
    mock.on(ListUsersCommand, { Filter: 'sub = "present-sub"' }).resolves({ Users: [federated] });
    mock.on(ListUsersCommand, { Filter: 'sub = "gone-sub"' }).resolves({ Users: [] });
    // Real Cognito takes only a user name here: asked for a federated user's sub, it says not found.
    mock.on(AdminGetUserCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    const reader = cognitoPoolReader(cognito, { userPoolId: POOL, listRate: 10, clock });
    expect(await reader.checkUser('present-sub')).toEqual({ user: federated, readAt: START });
    expect(await reader.checkUser('gone-sub')).toEqual({ user: 'absent', readAt: START + 100 });
    expect(mock.commandCalls(ListUsersCommand)[0]?.args[0].input).toEqual({
      UserPoolId: POOL,
      Filter: 'sub = "present-sub"',
    });
    expect(mock.commandCalls(AdminGetUserCommand)).toHaveLength(0);
  });

  it('stamps a check with the time before the request, not when the pool answered', async () => {
    mock.on(ListUsersCommand).callsFake(() => {
      clock.advance(700);
      return { Users: [] };
    });
    const reader = cognitoPoolReader(cognito, { userPoolId: POOL, clock });
    expect((await reader.checkUser('any-sub')).readAt).toBe(START);
  });

  it('shares one ListUsers rate between pages and checks', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [] });
    const reader = cognitoPoolReader(cognito, { userPoolId: POOL, listRate: 2, clock });
    await reader.listPage(undefined);
    expect((await reader.checkUser('any-sub')).readAt).toBe(START + 500);
  });

  it('lets other faults through: only "nobody has that sub" means gone', async () => {
    mock.on(ListUsersCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(cognitoPoolReader(cognito, { userPoolId: POOL, clock }).checkUser('s')).rejects.toThrow(
      TooManyRequestsException,
    );
  });
});
