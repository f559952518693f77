import { describe, expect, it } from 'vitest';
import { optional, optionalUrl, required, tcpPort } from '../../../lambdas/runtime/env';
import { ConfigurationError } from '../../../lambdas/runtime/errors';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('required and optional', () => {
  it('treats an unset or blank variable as missing, naming it', () => {
    expect(optional({ A: ' ' }, 'A')).toBeUndefined();
    expect(required({ A: 'x' }, 'A')).toBe('x');
    const error = thrown(() => required({ A: '' }, 'A'));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable: 'A', message: 'Configuration error: A is not set' });
  });
});

describe('tcpPort', () => {
  it('returns the fallback when unset and the port when valid', () => {
    expect(tcpPort({}, 'P', 5432)).toBe(5432);
    expect(tcpPort({ P: '6543' }, 'P', 5432)).toBe(6543);
  });

  it.each(['x', '0', '65536', '1.5', '-1'])('refuses %s naming the variable', (value) => {
    expect(thrown(() => tcpPort({ P: value }, 'P', 5432))).toMatchObject({ name: 'ConfigurationError', variable: 'P' });
  });
});

describe('optionalUrl', () => {
  const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/signup-fallback';

  it('returns nothing when the variable is unset or blank', () => {
    expect(optionalUrl({}, 'U')).toBeUndefined();
    expect(optionalUrl({ U: ' ' }, 'U')).toBeUndefined();
  });

  it('returns the URL when its protocol is allowed', () => {
    expect(optionalUrl({ U: QUEUE_URL }, 'U', ['https:', 'http:'])).toBe(QUEUE_URL);
  });

  it.each(['not a url', 'ftp://sqs.example/queue'])(
    'refuses %s with a ConfigurationError naming the variable',
    (value) => {
      const error = thrown(() => optionalUrl({ U: value }, 'U', ['https:', 'http:']));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ variable: 'U' });
      expect((error as Error).message).not.toContain(value);
    },
  );
});
