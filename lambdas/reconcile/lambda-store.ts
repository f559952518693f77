// The reconcile store as calls to the store function in the VPC (lambdas/reconcile-store): what the runner
// outside the VPC uses, since a pool with a domain cannot be reached from inside it (the Cognito VPC endpoint
// does not serve such a pool). One store call is one synchronous Invoke: a page is still one SQL round trip.
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ReportableError } from '../runtime/errors';
import type { ReconcileStore } from './core';
import {
  readStoreResponse,
  STORE_METHODS,
  type StoreArgs,
  type StoreMethod,
  type StoreRequest,
  type StoreResult,
} from './store-protocol';

/** Sends one request and resolves to the answer, parsed from JSON. */
export type StoreInvoke = (request: StoreRequest) => Promise<unknown>;

/** The store over `invoke`: every method of STORE_METHODS, each one request. */
export function lambdaReconcileStore(invoke: StoreInvoke): ReconcileStore {
  const call =
    <M extends StoreMethod>(method: M) =>
    async (...args: StoreArgs<M>): Promise<StoreResult<M>> =>
      readStoreResponse(method, await invoke({ method, args }));
  const store: Partial<Record<StoreMethod, unknown>> = {};
  for (const method of STORE_METHODS) store[method] = call(method);
  return store as unknown as ReconcileStore;
}

/** The store function failed as a function (timed out, ran out of memory, crashed): no answer to read. */
export class StoreFunctionError extends ReportableError {
  override readonly name = 'StoreFunctionError';
  constructor(
    readonly method: string,
    readonly functionError: string,
  ) {
    super(`The store function failed while answering ${method} (${functionError}); see its log`);
  }
}

/**
 * `invoke` over Lambda's Invoke API, RequestResponse. A function error (Lambda's `FunctionError`: the handler
 * threw, timed out or crashed) carries no answer; the store function itself answers every failure of a call
 * as a StoreResponse, so this only happens when the function could not answer at all.
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: FunctionError "Unhandled", payload the error)
 */
export function lambdaInvoke(client: LambdaClient, functionName: string): StoreInvoke {
  return async (request) => {
    const result = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(request)),
      }),
    );
    if (result.FunctionError !== undefined) throw new StoreFunctionError(request.method, result.FunctionError);
    const text = result.Payload === undefined ? '' : new TextDecoder().decode(result.Payload);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new StoreFunctionError(request.method, 'answer is not JSON');
    }
  };
}
