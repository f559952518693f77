import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../../lambdas/runtime/errors';
import { settingsFromEnv } from '../../../lambdas/user-events/settings';

const ENV = {
  USER_POOL_ID: 'us-east-1_EXAMPLE1',
  SYNC_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/user-sync',
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('settingsFromEnv', () => {
  it('reads the pool and the queue', () => {
    expect(settingsFromEnv(ENV)).toEqual({ userPoolId: ENV.USER_POOL_ID, syncQueueUrl: ENV.SYNC_QUEUE_URL });
  });

  it('accepts a local http queue URL', () => {
    expect(settingsFromEnv({ ...ENV, SYNC_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/user-sync' })).toMatchObject({
      syncQueueUrl: 'http://127.0.0.1:9324/000000000000/user-sync',
    });
  });

  it.each([
    ['no USER_POOL_ID', { ...ENV, USER_POOL_ID: undefined }, 'USER_POOL_ID'],
    ['a blank USER_POOL_ID', { ...ENV, USER_POOL_ID: ' ' }, 'USER_POOL_ID'],
    ['a USER_POOL_ID that is not a pool id', { ...ENV, USER_POOL_ID: 'us-east-1' }, 'USER_POOL_ID'],
    ['a USER_POOL_ID with a newline', { ...ENV, USER_POOL_ID: 'us-east-1_A\nB' }, 'USER_POOL_ID'],
    ['no SYNC_QUEUE_URL', { ...ENV, SYNC_QUEUE_URL: undefined }, 'SYNC_QUEUE_URL'],
    ['a SYNC_QUEUE_URL that is not a URL', { ...ENV, SYNC_QUEUE_URL: 'user-sync' }, 'SYNC_QUEUE_URL'],
    ['a SYNC_QUEUE_URL of another scheme', { ...ENV, SYNC_QUEUE_URL: 'file:///tmp/queue' }, 'SYNC_QUEUE_URL'],
  ])('refuses %s with a ConfigurationError naming the variable', (_name, env, variable) => {
    const error = thrown(() => settingsFromEnv(env));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable });
  });
});

describe('index', () => {
  it('exports a handler built from a valid environment, without calling AWS yet', async () => {
    vi.stubEnv('USER_POOL_ID', ENV.USER_POOL_ID);
    vi.stubEnv('SYNC_QUEUE_URL', ENV.SYNC_QUEUE_URL);
    const { handler } = await import('../../../lambdas/user-events/index');
    expect(handler).toBeTypeOf('function');
    vi.unstubAllEnvs();
  });
});
