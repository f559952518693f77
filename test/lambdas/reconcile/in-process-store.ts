// The reconcile's two functions wired in one process: the runner's remote store (lambda-store.ts) calls the
// store function's handler (lambdas/reconcile-store) through a JSON round trip each way, as Lambda's Invoke
// would carry them, so what crosses is exactly what survives JSON (a run's start as text, no undefined).
import { lambdaReconcileStore, type StoreInvoke } from '../../../lambdas/reconcile/lambda-store';
import type { ReconcileStore } from '../../../lambdas/reconcile/core';
import type { StoreRequest } from '../../../lambdas/reconcile/store-protocol';
import { createHandler, type ReconcileStoreHandler } from '../../../lambdas/reconcile-store/handler';
import type { Logger } from '../../../lambdas/runtime/logger';

export interface InProcessStore {
  /** The runner's store. */
  readonly store: ReconcileStore;
  /** The store function's handler behind it. */
  readonly storeHandler: ReconcileStoreHandler;
  /** Every request sent, in order (one a store call: one Invoke). */
  readonly requests: StoreRequest[];
}

export function inProcessStore(connectionUrl: string, logger: Logger, wrap?: (invoke: StoreInvoke) => StoreInvoke) {
  const storeHandler = createHandler({ database: { connectionUrl } }, { logger });
  const requests: StoreRequest[] = [];
  let n = 0;
  const invoke: StoreInvoke = async (request) => {
    requests.push(request);
    n += 1;
    const event: unknown = JSON.parse(JSON.stringify(request));
    const answer = await storeHandler(event, { awsRequestId: `store-${n}` });
    return JSON.parse(JSON.stringify(answer)) as unknown;
  };
  const store = lambdaReconcileStore(wrap === undefined ? invoke : wrap(invoke));
  return { store, storeHandler, requests } satisfies InProcessStore;
}
