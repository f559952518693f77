import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { handlePostConfirmation } from '../../../lambdas/post-confirmation/core';
import {
  FALLBACK_METADATA,
  isProbe,
  PROBE_PREFIX,
  wantsFallbackProbe,
  withSmokeProbe,
} from '../../../lambdas/post-confirmation/smoke-probe';
import { createLogger } from '../../../lambdas/runtime/logger';
import type { QueueMessage } from '../../../lambdas/sync/sync-queue';
import { signUpEvent } from '../../support/lambda';

function probeEvent(sub: string, clientMetadata?: Record<string, string>) {
  const event = signUpEvent({ sub });
  return { ...event, request: { ...event.request, ...(clientMetadata ? { clientMetadata } : {}) } };
}

function harness(send: (message: QueueMessage) => Promise<void> = () => Promise.resolve()) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  const signUp = vi.fn(() => Promise.resolve({ outcome: 'inserted' as const, handleAdjusted: false }));
  const fallback = { send: vi.fn(send) };
  return { lines, signUp, fallback, deps: { users: { signUp }, logger, fallback } };
}

const handleWithProbe = withSmokeProbe(handlePostConfirmation);

describe('the smoke probe', () => {
  const probe = `${PROBE_PREFIX}${randomUUID()}`;

  it('recognises only a probe sub, never a Cognito sub', () => {
    expect(isProbe(probe)).toBe(true);
    expect(isProbe(randomUUID())).toBe(false);
    expect(isProbe(`${probe}x`)).toBe(false);
    expect(wantsFallbackProbe(randomUUID(), { clientMetadata: FALLBACK_METADATA })).toBe(false);
    expect(wantsFallbackProbe(probe, {})).toBe(false);
  });

  it('sends a probe that asks for it to the fallback queue and writes nothing', async () => {
    const { lines, signUp, fallback, deps } = harness();
    const event = probeEvent(probe, FALLBACK_METADATA);
    await expect(handleWithProbe(event, deps)).resolves.toBe(event);
    expect(signUp).not.toHaveBeenCalled();
    expect(fallback.send).toHaveBeenCalledTimes(1);
    expect(fallback.send.mock.calls[0]?.[0]).toMatchObject({ version: 1, userAttributes: { sub: probe } });
    expect(lines.at(-1)).toMatchObject({ sub: probe, outcome: 'queued', probe: true });
  });

  it('lives only in the wrapper: the use case alone writes a probe like any sign-up', async () => {
    const { signUp, fallback, deps } = harness();
    await handlePostConfirmation(probeEvent(probe, FALLBACK_METADATA), deps);
    expect(signUp).toHaveBeenCalledTimes(1);
    expect(fallback.send).not.toHaveBeenCalled();
  });

  it('writes a real user who sends the same client metadata, as any sign-up', async () => {
    const { signUp, fallback, deps } = harness();
    const sub = randomUUID();
    await handleWithProbe(probeEvent(sub, FALLBACK_METADATA), deps);
    expect(signUp).toHaveBeenCalledTimes(1);
    expect(fallback.send).not.toHaveBeenCalled();
  });

  it('writes a probe that does not ask for the fallback, as the write step needs', async () => {
    const { signUp, fallback, deps } = harness();
    await handleWithProbe(probeEvent(probe), deps);
    expect(signUp).toHaveBeenCalledTimes(1);
    expect(fallback.send).not.toHaveBeenCalled();
  });

  it('says so and writes nothing where there is no queue (the local stack)', async () => {
    const { lines, signUp, deps } = harness();
    await handleWithProbe(probeEvent(probe, FALLBACK_METADATA), { users: deps.users, logger: deps.logger });
    expect(signUp).not.toHaveBeenCalled();
    expect(lines.at(-1)).toMatchObject({ sub: probe, outcome: 'skipped', probe: true });
  });

  it('fails with the queue error, logged without a database failure class, when the queue refuses', async () => {
    const refusal = Object.assign(new Error('denied'), { name: 'KMS.AccessDeniedException' });
    const { lines, deps } = harness(() => Promise.reject(refusal));
    await expect(handleWithProbe(probeEvent(probe, FALLBACK_METADATA), deps)).rejects.toBe(refusal);
    expect(lines.at(-1)).toMatchObject({
      level: 'ERROR',
      sub: probe,
      outcome: 'failed',
      probe: true,
      queueErrorName: 'KMS.AccessDeniedException',
    });
    expect(lines.at(-1)).not.toHaveProperty('failureClass');
  });
});
