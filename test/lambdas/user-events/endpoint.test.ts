// The default clients, built with no endpoint, against a loopback HTTP server that speaks Cognito's and SQS's
// JSON protocols: proves that AWS_ENDPOINT_URL (and its per-service form) is honoured the way the SDK does it.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../lambdas/runtime/logger';
import { createHandler } from '../../../lambdas/user-events/handler';
import { FIXTURE_POOL_ID, FIXTURE_SUB, loadCloudTrailEvent } from './fixtures';

interface Seen {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Answers ListUsers (filtered by sub) with one user and SendMessage with a message id; records what it was asked. */
async function fakeAws(seen: Seen[]): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void readBody(request).then((text) => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      seen.push({ target, body });
      if (target === 'AWSCognitoIdentityProviderService.ListUsers') {
        response.setHeader('content-type', 'application/x-amz-json-1.1');
        response.end(
          JSON.stringify({
            Users: [
              {
                Username: FIXTURE_SUB,
                Attributes: [
                  { Name: 'sub', Value: FIXTURE_SUB },
                  { Name: 'email', Value: 'jane.doe@example.com' },
                ],
                Enabled: true,
                UserStatus: 'CONFIRMED',
                UserLastModifiedDate: 1764493200,
              },
            ],
          }),
        );
      } else if (target === 'AmazonSQS.SendMessage') {
        const md5 = createHash('md5').update(String(body.MessageBody)).digest('hex');
        response.setHeader('content-type', 'application/x-amz-json-1.0');
        response.end(JSON.stringify({ MessageId: 'm-1', MD5OfMessageBody: md5 }));
      } else {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'UnknownOperationException' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

describe('user-events handler with the default clients', () => {
  let server: Server | undefined;
  let url = '';
  const seen: Seen[] = [];

  beforeEach(async () => {
    ({ server, url } = await fakeAws(seen));
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    seen.splice(0);
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const settings = () => ({ userPoolId: FIXTURE_POOL_ID, syncQueueUrl: `${url}/000000000000/user-sync` });
  const quiet = createLogger({}, () => undefined);

  it('reads the user from the Cognito at AWS_ENDPOINT_URL and queues the upsert at the queue URL', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', url);
    const handler = createHandler(settings(), { logger: quiet });
    await expect(handler(loadCloudTrailEvent('admin-update-user-attributes'))).resolves.toEqual({
      outcome: 'queued_upsert',
      sub: FIXTURE_SUB,
    });
    expect(seen.map((s) => s.target)).toEqual(['AWSCognitoIdentityProviderService.ListUsers', 'AmazonSQS.SendMessage']);
    expect(seen[0]?.body).toEqual({ UserPoolId: FIXTURE_POOL_ID, Filter: `sub = "${FIXTURE_SUB}"` });
    expect(seen[1]?.body).toMatchObject({ QueueUrl: settings().syncQueueUrl });
    expect(JSON.parse(String(seen[1]?.body.MessageBody))).toMatchObject({
      version: 2,
      kind: 'upsert',
      sub: FIXTURE_SUB,
      user: {
        email: 'jane.doe@example.com',
        enabled: true,
        status: 'CONFIRMED',
        lastModified: new Date(1764493200 * 1000).toISOString(),
      },
    });
  });

  it('prefers AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER to AWS_ENDPOINT_URL for Cognito', async () => {
    // Port 9 (discard) on loopback refuses connections: anything sent there fails.
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:9');
    vi.stubEnv('AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER', url);
    // The queue lives on the same server: SQS is pointed there too, so its client does not warn that the queue
    // URL's host differs from the endpoint it resolved.
    vi.stubEnv('AWS_ENDPOINT_URL_SQS', url);
    const handler = createHandler(settings(), { logger: quiet });
    await expect(handler(loadCloudTrailEvent('admin-enable-user'))).resolves.toMatchObject({
      outcome: 'queued_upsert',
    });
    expect(seen.map((s) => s.target)).toContain('AWSCognitoIdentityProviderService.ListUsers');
  });

  it('fails, to be retried, when AWS_ENDPOINT_URL names a Cognito that is not there', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:9');
    const handler = createHandler(settings(), { logger: quiet });
    await expect(handler(loadCloudTrailEvent('admin-enable-user'))).rejects.toMatchObject({
      name: 'UserEventNotSyncedError',
    });
    expect(seen).toHaveLength(0);
  });
});
