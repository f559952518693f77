import { createServer, type Server, type Socket } from 'node:net';
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cognitoUserReader, createCognitoClient } from '../../../lambdas/user-events/cognito-user-reader';
import { FIXTURE_POOL_ID, FIXTURE_SUB } from './fixtures';

const CLIENT_CONFIG = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

describe('cognitoUserReader', () => {
  let cognito: AwsClientStub<CognitoIdentityProviderClient>;
  beforeEach(() => {
    cognito = mockClient(CognitoIdentityProviderClient);
  });
  afterEach(() => cognito.restore());

  const reader = () => cognitoUserReader(new CognitoIdentityProviderClient(CLIENT_CONFIG), FIXTURE_POOL_ID);
  const user = { Username: 'Google_1234', Enabled: true, Attributes: [{ Name: 'sub', Value: FIXTURE_SUB }] };

  it('asks ListUsers for the sub in the configured pool and returns the user, whatever their user name', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [user] });
    expect(await reader().read(FIXTURE_SUB)).toEqual(user);
    expect(cognito.commandCalls(ListUsersCommand)[0]?.args[0].input).toEqual({
      UserPoolId: FIXTURE_POOL_ID,
      Filter: `sub = "${FIXTURE_SUB}"`,
    });
    expect(cognito.commandCalls(AdminGetUserCommand)).toHaveLength(0);
  });

  it('answers undefined when the pool has nobody with that sub', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    await expect(reader().read(FIXTURE_SUB)).resolves.toBeUndefined();
  });

  it('throws every other error', async () => {
    cognito.on(ListUsersCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(reader().read(FIXTURE_SUB)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('createCognitoClient', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
    vi.unstubAllEnvs();
  });

  it('passes the attempts it is given to the SDK', async () => {
    expect(await createCognitoClient({ maxAttempts: 5 }).config.maxAttempts()).toBe(5);
  });

  it('gives up on an endpoint that accepts and never answers, after the request timeout of each attempt', async () => {
    server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // Region, credentials and endpoint come from the environment, as in Lambda; the client is given none.
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    vi.stubEnv('AWS_ENDPOINT_URL', `http://127.0.0.1:${port}`);
    const reader = cognitoUserReader(createCognitoClient({ maxAttempts: 2, requestTimeoutMs: 200 }), FIXTURE_POOL_ID);
    const started = Date.now();
    const error = await reader.read(FIXTURE_SUB).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toMatch(/Timeout/);
    // Two attempts of 200 ms plus a retry delay; without the timeout the SDK would wait for minutes.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(sockets.length).toBeGreaterThan(0);
  });
});
