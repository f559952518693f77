// Running a stage's deployed function from an operator command: finding it by its stack output and invoking it
// synchronously, for the commands whose database only that function reaches.
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { isRecord } from '../../lambdas/runtime/records';
import { stackName, stackOutput } from './aws';
import { CliError, EXIT } from './common';

/** The name of the stage's function that the Auth stack's output `outputKey` names. */
export function stageFunctionName(
  cloudFormation: CloudFormationClient,
  stage: string,
  outputKey: string,
): Promise<string> {
  return stackOutput(cloudFormation, stackName(stage, 'Auth'), outputKey, '--stage of a deployed stage');
}

/**
 * Invokes `functionName` (RequestResponse) with `input` and returns its answer parsed as JSON, or undefined when
 * it is not JSON; the caller checks the answer's shape. A failed invocation becomes a CliError naming `what` and
 * the function's own error message, which names a field or an error class, never a value; its exit code is the
 * one `exitCodes` gives the function's error type (the Lambda runtime reports the error's name as `errorType`),
 * else EXIT.FAILURE.
 */
export async function invokeDeployed(
  lambda: LambdaClient,
  functionName: string,
  what: string,
  input: unknown,
  exitCodes: Readonly<Record<string, number>> = {},
): Promise<unknown> {
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify(input),
    }),
  );
  const text = result.Payload === undefined ? '' : Buffer.from(result.Payload).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (result.FunctionError !== undefined) {
    const message =
      isRecord(payload) && typeof payload.errorMessage === 'string'
        ? payload.errorMessage.slice(0, 300)
        : result.FunctionError;
    const errorType = isRecord(payload) && typeof payload.errorType === 'string' ? payload.errorType : undefined;
    const exitCode = errorType !== undefined && Object.hasOwn(exitCodes, errorType) ? exitCodes[errorType] : undefined;
    throw new CliError(`${what} failed: ${message}`, exitCode ?? EXIT.FAILURE);
  }
  return payload;
}
