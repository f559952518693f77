// The runner's side of the wire: Lambda's Invoke API (mocked), and an answer read back into the core's types.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCode } from '../../../lambdas/postgres/error-codes';
import { lambdaInvoke, lambdaReconcileStore, StoreFunctionError } from '../../../lambdas/reconcile/lambda-store';
import { InvalidStoreResponseError, RemoteStoreError } from '../../../lambdas/reconcile/store-protocol';

const client = new LambdaClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
});
const lambda = mockClient(client);
// The SDK types a response payload as its blob adapter; the handler reads it as the Uint8Array it is.
const bytes = (text: string) => new TextEncoder().encode(text) as never;
const encode = (value: unknown) => bytes(JSON.stringify(value));

afterEach(() => lambda.reset());

describe('the store over Lambda', () => {
  it('invokes the store function synchronously with {method, args} and revives a run’s start as a Date', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        ok: true,
        result: {
          runId: '3',
          startedAt: '2026-12-01T10:00:00.000Z',
          paginationToken: 'tok',
          pages: 2,
          scanned: 120,
          resumed: true,
        },
      }),
    });
    const store = lambdaReconcileStore(lambdaInvoke(client, 'Cruddur-dev-Auth-ReconcileFunction'));
    const run = await store.resume();
    expect(run).toEqual({
      runId: '3',
      startedAt: new Date('2026-12-01T10:00:00Z'),
      paginationToken: 'tok',
      pages: 2,
      scanned: 120,
      resumed: true,
    });
    const sent = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(sent).toMatchObject({
      FunctionName: 'Cruddur-dev-Auth-ReconcileFunction',
      InvocationType: 'RequestResponse',
    });
    expect(JSON.parse(new TextDecoder().decode(sent.Payload as Uint8Array))).toEqual({ method: 'resume', args: [] });
  });

  it('re-throws a failure with its SQLSTATE where the core looks for it (55000: superseded)', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        ok: false,
        error: { name: 'DatabaseError', code: '55000', message: 'store call applyPage failed: DatabaseError (55000)' },
      }),
    });
    const store = lambdaReconcileStore(lambdaInvoke(client, 'f'));
    const error: unknown = await store.applyPage('1', null, [], null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteStoreError);
    expect(errorCode(error)).toBe('55000');
  });

  it('names a store function that failed as a function (timed out, crashed): no answer to read', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 60.00 seconds' }),
    });
    const store = lambdaReconcileStore(lambdaInvoke(client, 'f'));
    await expect(store.rewind('1')).rejects.toThrow(new StoreFunctionError('rewind', 'Unhandled'));
  });

  it('refuses an answer that does not fit the method', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ ok: true, result: 'erased-maybe' }) });
    const store = lambdaReconcileStore(lambdaInvoke(client, 'f'));
    await expect(store.erase('00000000-0000-4000-8000-000000000001', 'delete')).rejects.toBeInstanceOf(
      InvalidStoreResponseError,
    );
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: bytes('not json') });
    await expect(store.begin()).rejects.toThrow(/answer is not JSON/);
  });
});
