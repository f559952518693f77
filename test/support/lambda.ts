// A fake Lambda Context and event fixtures shared by the tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';

export function fakeContext(overrides: Partial<Context> = {}): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'PostConfirmation',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:PostConfirmation',
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/PostConfirmation',
    logStreamName: '2026/11/23/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => 4000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    ...overrides,
  };
}

export type CognitoEvent = {
  triggerSource: string;
  userName?: string;
  request: { userAttributes: Record<string, unknown>; clientMetadata?: Record<string, string> };
  [key: string]: unknown;
};

export function loadEvent(name: string): CognitoEvent {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', `${name}.json`), 'utf8')) as CognitoEvent;
}

/** A confirm-sign-up event for a new, distinct user; attributes override the fixture's. */
export function signUpEvent(attributes: Record<string, unknown>): CognitoEvent {
  const event = loadEvent('confirm-sign-up');
  event.request.userAttributes = { ...event.request.userAttributes, ...attributes };
  return event;
}
