// The HandleDirectory port over the in-VPC handle-check function (lambdas/handle-check), for a PreSignUp that
// runs outside the VPC: with `-c linkFederatedByEmail=true` it must reach Cognito, which a pool with a domain
// never answers through the VPC endpoint, and the database, which is only inside.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { HandleDirectory } from '../users/users-repository';

/** The function answered, but not with `{"taken": boolean}`: treated like an unavailable database. */
export class HandleCheckFailedError extends Error {
  override readonly name = 'HandleCheckFailedError';
  constructor(reason: string) {
    super(`the handle-check function ${reason}`);
  }
}

/**
 * One client per container, one attempt: the sign-up goes ahead unchecked rather than wait (the handle rule
 * decides at confirmation). No region, endpoint or credentials passed: the SDK reads AWS_REGION, the credential
 * chain and AWS_ENDPOINT_URL itself.
 */
export function createHandleCheckClient(): LambdaClient {
  return new LambdaClient({
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2500, throwOnRequestTimeout: true },
  });
}

/** Asks `functionName` synchronously; `timeoutMs` bounds the whole call (the trigger has 5 s in all). */
export function lambdaHandleDirectory(client: LambdaClient, functionName: string, timeoutMs = 2500): HandleDirectory {
  return {
    async isTaken(handle) {
      const result = await client.send(
        new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify({ handle }) }),
        { abortSignal: AbortSignal.timeout(timeoutMs) },
      );
      // FunctionError: the function threw (its log says why, by request id); the payload is its error document.
      if (result.FunctionError !== undefined) throw new HandleCheckFailedError(`failed (${result.FunctionError})`);
      let answer: unknown;
      try {
        answer = JSON.parse(new TextDecoder().decode(result.Payload ?? new Uint8Array()));
      } catch {
        throw new HandleCheckFailedError('answered with something that is not JSON');
      }
      const taken = (answer as { taken?: unknown } | null)?.taken;
      if (typeof taken !== 'boolean') throw new HandleCheckFailedError('answered without a boolean "taken"');
      return taken;
    },
  };
}
