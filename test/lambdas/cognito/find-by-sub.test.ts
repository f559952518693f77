import { CognitoIdentityProviderClient, ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { findBySub, UnexpectedUserError } from '../../../lambdas/cognito/find-by-sub';
import { NotASubError } from '../../../lambdas/cognito/sub';

const cognito = new CognitoIdentityProviderClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
});
const mock = mockClient(cognito);
const POOL = 'us-east-1_TestPool1';
const SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';
const withSub = (sub: string, Username = 'Google_1234') => ({ Username, Attributes: [{ Name: 'sub', Value: sub }] });

beforeEach(() => mock.reset());

describe('findBySub', () => {
  it('finds a federated user by sub with one filtered ListUsers', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [withSub(SUB)] });
    expect(await findBySub(cognito, POOL, SUB)).toEqual(withSub(SUB));
    expect(mock.commandCalls(ListUsersCommand).map((call) => call.args[0].input)).toEqual([
      { UserPoolId: POOL, Filter: `sub = "${SUB}"` },
    ]);
  });

  it('says undefined (gone) only when the pool lists nobody', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [] });
    expect(await findBySub(cognito, POOL, SUB)).toBeUndefined();
    mock.on(ListUsersCommand).resolves({});
    expect(await findBySub(cognito, POOL, SUB)).toBeUndefined();
  });

  it('treats an answer that is not exactly that user as a fault, never as gone', async () => {
    mock.on(ListUsersCommand).resolves({ Users: [withSub('another-sub')] });
    await expect(findBySub(cognito, POOL, SUB)).rejects.toBeInstanceOf(UnexpectedUserError);
    mock.on(ListUsersCommand).resolves({ Users: [withSub(SUB), withSub(SUB, 'Facebook_9')] });
    await expect(findBySub(cognito, POOL, SUB)).rejects.toBeInstanceOf(UnexpectedUserError);
  });

  it('refuses a value that is not a sub before calling Cognito', async () => {
    await expect(findBySub(cognito, POOL, 'x" or email ^= "')).rejects.toBeInstanceOf(NotASubError);
    expect(mock.calls()).toHaveLength(0);
  });
});
