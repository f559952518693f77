import { request } from 'node:http';
import { connect } from 'node:net';
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
      echo: (event, context) => {
        seen.push({ event, context });
        return Promise.resolve(event);
      },
      fail: () => Promise.reject(new BoomError('it went wrong')),
    },
  });
});

afterAll(async () => {
  await server?.close();
});

function invoke(name: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** One POST with exactly these headers (fetch would add a Content-Type and keep its own Host). */
function post(
  port: number,
  headers: Record<string, string>,
  body = '{}',
): Promise<{ status: number; errorType: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/2015-03-31/functions/echo/invocations',
        headers,
        setHost: false,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype'] as string | undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Writes `head` (and `body`, when given) and never finishes the request: resolves with what the server answers
 * before closing the connection, which proves it did not wait for the rest of the body.
 */
function answerBeforeTheBodyEnds(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer while the body was unfinished; got ${JSON.stringify(answer)}`));
    }, 5000);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(head + body);
  });
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
    expect(await response.json()).toMatchObject({ Message: expect.stringContaining('function:missing') as unknown });
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

describe('what the local Lambda Invoke API lets in', () => {
  let small: InvokeServer;
  const LIMIT = 1024;

  beforeAll(async () => {
    small = await startInvokeServer({
      port: 0,
      maxPayloadBytes: LIMIT,
      functions: { echo: (event, context) => (seen.push({ event, context }), Promise.resolve(event)) },
    });
  });

  afterAll(async () => {
    await small?.close();
  });

  const host = () => ({ Host: `127.0.0.1:${server.port}` });

  it('takes the body types the SDKs and cognito-local send, and no Content-Type as the AWS CLI sends', async () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/octet-stream',
      'binary/octet-stream',
    ]) {
      expect((await post(server.port, { ...host(), 'Content-Type': type })).status).toBe(200);
    }
    expect((await post(server.port, host())).status).toBe(200);
  });

  it('answers 415 to the body types a browser may send cross-site, without calling the function', async () => {
    const before = seen.length;
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      expect(await post(server.port, { ...host(), 'Content-Type': type })).toEqual({
        status: 415,
        errorType: 'UnsupportedMediaTypeException',
      });
    }
    expect(seen.length).toBe(before);
  });

  it('names every body type it accepts in its 415 answer', async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/2015-03-31/functions/echo/invocations`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: '{}',
    });
    expect(response.status).toBe(415);
    expect(JSON.stringify(await response.json())).toContain(
      'Content-Type must be one of application/json, application/octet-stream, binary/octet-stream',
    );
  });

  it('answers 421 to a Host other than 127.0.0.1 or localhost on its own port (DNS rebinding), without calling the function', async () => {
    const before = seen.length;
    const json = { 'Content-Type': 'application/json' };
    for (const foreign of [
      'rebound.example.com',
      `rebound.example.com:${server.port}`,
      `127.0.0.1:${server.port + 1}`,
      '127.0.0.1',
    ]) {
      expect(await post(server.port, { ...json, Host: foreign })).toEqual({
        status: 421,
        errorType: 'MisdirectedRequestException',
      });
    }
    // Without any Host, Node's own HTTP/1.1 parser refuses the request first.
    expect((await post(server.port, json)).status).toBe(400);
    expect((await post(server.port, { ...json, Host: `localhost:${server.port}` })).status).toBe(200);
    expect(seen.length).toBe(before + 1);
  });

  it('answers 403 to a request from another origin, and takes one from its own', async () => {
    const before = seen.length;
    for (const origin of [
      'http://attacker.example',
      'null',
      `http://127.0.0.1:${server.port + 1}`,
      `https://127.0.0.1:${server.port}`,
    ]) {
      const response = await invoke('echo', '{}', { Origin: origin });
      expect(response.status).toBe(403);
      expect(response.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    }
    expect(seen.length).toBe(before);
    expect((await invoke('echo', '{}', { Origin: `http://127.0.0.1:${server.port}` })).status).toBe(200);
    expect((await invoke('echo', '{}', { Origin: `http://localhost:${server.port}` })).status).toBe(200);
  });

  it('answers 413 to a Content-Length over the limit before any of the body is sent', async () => {
    const answer = await answerBeforeTheBodyEnds(
      small.port,
      `POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1:${small.port}\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/x-amzn-ErrorType: RequestTooLargeException/i);
  });

  it('answers 413 to a chunked body once it passes the limit, without waiting for its end', async () => {
    const before = seen.length;
    const chunk = 'x'.repeat(LIMIT + 1);
    const answer = await answerBeforeTheBodyEnds(
      small.port,
      `POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1:${small.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(seen.length).toBe(before);
  });

  it('takes a body of exactly the limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(LIMIT - 10) });
    expect(body.length).toBe(LIMIT);
    expect(
      (await post(small.port, { Host: `127.0.0.1:${small.port}`, 'Content-Type': 'application/json' }, body)).status,
    ).toBe(200);
  });
});
