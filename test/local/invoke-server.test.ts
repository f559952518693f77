import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInvokeServer, type InvokeServer } from '../../local/invoke-server';

let server: InvokeServer;
const seen: { event: unknown; context: Context }[] = [];

class BoomError extends Error {
  override readonly name = 'BoomError';
}

beforeAll(async () => {
  server = await startInvokeServer({
    port: 0,
    functions: {
      echo: async (event, context) => {
        seen.push({ event, context });
        return event;
      },
      fail: async () => {
        throw new BoomError('it went wrong');
      },
    },
  });
});

afterAll(async () => {
  await server?.close();
});

function invoke(name: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, { method: 'POST', body, headers });
}

describe('the local Lambda Invoke API', () => {
  it('passes the payload and a Lambda context to the function and returns its result as JSON', async () => {
    const response = await invoke('echo', '{"a":1}');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-function-error')).toBeNull();
    expect(await response.json()).toEqual({ a: 1 });
    const last = seen.at(-1);
    expect(last?.event).toEqual({ a: 1 });
    expect(last?.context.functionName).toBe('echo');
    expect(last?.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(last?.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it('accepts a function ARN and a $LATEST qualifier for the name', async () => {
    expect((await invoke('arn:aws:lambda:us-east-1:123456789012:function:echo', '{}')).status).toBe(200);
    expect((await invoke('echo:$LATEST', '{}')).status).toBe(200);
  });

  it('reports a thrown error with status 200, X-Amz-Function-Error Unhandled, errorType and errorMessage', async () => {
    const response = await invoke('fail', '{}');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await response.json()).toEqual({ errorType: 'BoomError', errorMessage: 'it went wrong' });
  });

  it('answers 404 ResourceNotFoundException for an unknown function name', async () => {
    const response = await invoke('missing', '{}');
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await response.json()).toMatchObject({ Message: expect.stringContaining('function:missing') });
  });

  it('does not treat inherited object keys as function names', async () => {
    expect((await invoke('constructor', '{}')).status).toBe(404);
  });

  it('answers 400 InvalidRequestContentException for a payload that is not JSON, without calling the function', async () => {
    const before = seen.length;
    const response = await invoke('echo', '{not json');
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(seen.length).toBe(before);
  });

  it('accepts an asynchronous (Event) invocation with 202 and a DryRun with 204', async () => {
    expect((await invoke('echo', '{"async":true}', { 'X-Amz-Invocation-Type': 'Event' })).status).toBe(202);
    expect((await invoke('echo', '{}', { 'X-Amz-Invocation-Type': 'DryRun' })).status).toBe(204);
  });

  it('answers 404 for any other path and 405 for a GET on the invoke path', async () => {
    expect((await fetch(`${server.endpoint}/2015-03-31/functions`)).status).toBe(404);
    expect((await fetch(`${server.endpoint}/2015-03-31/functions/echo/invocations`)).status).toBe(405);
  });
});
