import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectionSourceFor } from '../../../lambdas/postgres/connection-source';
import { authTokenGenerator, TOKEN_TTL_SECONDS } from '../../../lambdas/postgres/rds-token';

// AWS's documented example key pair: not a credential.
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLE//session+token/with=chars',
};
const target = {
  hostname: 'db.abc123.eu-west-1.rds.amazonaws.com',
  port: 5432,
  username: 'post_confirmation',
  region: 'eu-west-1',
};

afterEach(() => {
  vi.useRealTimers();
});

describe('authTokenGenerator', () => {
  it('produces the same token as @aws-sdk/rds-signer for the same credentials and clock', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:34:56Z'), toFake: ['Date'] });
    const ours = await authTokenGenerator({ ...target, credentials })();
    const theirs = await new Signer({ ...target, credentials }).getAuthToken();
    expect(ours).toBe(theirs);
  });

  it('produces the same token as @aws-sdk/rds-signer without a session token and on another port', async () => {
    vi.useFakeTimers({ now: new Date('2027-02-28T23:59:59Z'), toFake: ['Date'] });
    const plain = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
    const other = { ...target, port: 6543, username: 'svc.user-1', region: 'us-east-1', credentials: plain };
    expect(await authTokenGenerator(other)()).toBe(await new Signer(other).getAuthToken());
  });

  it('signs a connect request for the user on host:port without a scheme, valid for 15 minutes', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:34:56Z'), toFake: ['Date'] });
    const token = await authTokenGenerator({ ...target, credentials })();
    expect(token.startsWith(`${target.hostname}:5432/?`)).toBe(true);
    const query = new URL(`https://${token}`).searchParams;
    expect(query.get('Action')).toBe('connect');
    expect(query.get('DBUser')).toBe('post_confirmation');
    expect(query.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(query.get('X-Amz-Credential')).toBe('AKIAIOSFODNN7EXAMPLE/20261123/eu-west-1/rds-db/aws4_request');
    expect(query.get('X-Amz-Date')).toBe('20261123T123456Z');
    expect(query.get('X-Amz-Expires')).toBe(String(TOKEN_TTL_SECONDS));
    expect(query.get('X-Amz-Security-Token')).toBe(credentials.sessionToken);
    expect(query.get('X-Amz-SignedHeaders')).toBe('host');
    expect(query.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('signs with the role credentials Lambda puts in the environment, read at each signing', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:34:56Z'), toFake: ['Date'] });
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAENVFIRSTEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'first-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'first-session');
    const token = authTokenGenerator(target);
    const first = new URL(`https://${await token()}`).searchParams;
    expect(first.get('X-Amz-Credential')).toMatch(/^AKIAENVFIRSTEXAMPLE\//);
    expect(first.get('X-Amz-Security-Token')).toBe('first-session');

    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAENVSECONDEXAMPLE');
    vi.stubEnv('AWS_SESSION_TOKEN', 'second-session');
    const second = new URL(`https://${await token()}`).searchParams;
    expect(second.get('X-Amz-Credential')).toMatch(/^AKIAENVSECONDEXAMPLE\//);
    expect(second.get('X-Amz-Security-Token')).toBe('second-session');
  });

  it('fails with an error when the environment holds no credentials', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
    await expect(authTokenGenerator(target)()).rejects.toThrow(/environment variable credentials/);
  });

  it('is what connectionSourceFor uses as the password for IAM authentication', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:34:56Z'), toFake: ['Date'] });
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', credentials.sessionToken);
    const config = connectionSourceFor({
      iam: { host: target.hostname, port: 5432, database: 'cruddur', user: target.username, region: target.region },
    })();
    expect(typeof config.password).toBe('function');
    const password = await (config.password as () => Promise<string>)();
    expect(password).toBe(await new Signer({ ...target, credentials }).getAuthToken());
  });
});
