// The smoke steps against the running `npm start` stack: cognito-local's trigger configuration, the
// post-confirmation function through the local Invoke API with the row checked in the local database, and
// the probe erased with the writer's own SQL function (there is no queue and no writer locally).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Client } from 'pg';
import { isRecord } from '../../lambdas/runtime/records';
import { eraseUser } from '../../lambdas/users/postgres/postgres-users';
import { cognitoWorkDir, DUMMY_CREDENTIALS, localCognitoClient } from '../../local/cognito';
import {
  FUNCTION_NAME,
  PRE_SIGN_UP_FUNCTION_NAME,
  readStackInfo,
  stackFilePath,
  type StackInfo,
} from '../../local/stack-info';
import { EXIT, parseConnectionUrl } from './common';
import { openClient } from './postgres';
import { databaseCause, invoke, probeConfirmation, StepFailure, type SmokePlan, type SmokeStep } from './smoke-steps';

export interface LocalSmokeOptions {
  /** The state directory `npm start` wrote stack.json in. */
  readonly dataDir: string;
  readonly probe: string;
  /** @default 3000 */
  readonly connectTimeoutMs?: number;
}

/** The local writer has no ERASURE_POLICY of its own: the deployed writer's default. */
const LOCAL_ERASURE_POLICY = 'delete';

/** Where cognito-local reads its trigger configuration (local/cognito.ts writes it on every start). */
export function cognitoConfigFile(dataDir: string): string {
  return join(cognitoWorkDir(dataDir), '.cognito', 'config.json');
}

function notRunning(what: string, endpoint: string): StepFailure {
  return new StepFailure(`${what} does not answer at ${endpoint}: is npm start running?`, EXIT.UNAVAILABLE);
}

/** A connection refused or reset: the server is not there (the SDK wraps the socket error without a code of its own). */
function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(code)) ||
    /ECONNREFUSED|ECONNRESET|socket hang up/.test(error.message) ||
    error.name === 'TimeoutError'
  );
}

export function localSmokePlan(options: LocalSmokeOptions): SmokePlan {
  const { probe, dataDir } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  let info: StackInfo | undefined;
  const stack = (): StackInfo => {
    if (info === undefined) throw new StepFailure('the stack step found no local stack');
    return info;
  };

  async function withDatabase<T>(use: (client: Client) => Promise<T>): Promise<T> {
    const client = await openClient(parseConnectionUrl('connectionUrl in stack.json', stack().connectionUrl), {
      connectTimeoutMs,
      statementTimeoutMs: 5000,
    });
    try {
      return await use(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  function lambdaClient(): LambdaClient {
    // One attempt: a stack that is not running should fail the step at once, not after the SDK's retries.
    return new LambdaClient({
      endpoint: stack().lambdaEndpoint,
      region: stack().region,
      credentials: DUMMY_CREDENTIALS,
      maxAttempts: 1,
    });
  }

  const stackStep: SmokeStep = {
    name: 'stack',
    async run() {
      info = await readStackInfo(dataDir);
      if (info === undefined)
        throw new StepFailure(
          `no local stack: ${stackFilePath(dataDir)} is missing or unreadable; start one with npm start`,
          EXIT.CONFIG,
        );
      return `${stackFilePath(dataDir)}: pool ${info.userPoolId}`;
    },
  };

  const triggerStep: SmokeStep = {
    name: 'trigger',
    async run() {
      const { dataDir: dir, lambdaEndpoint, cognitoEndpoint, userPoolId, functionName } = stack();
      const file = cognitoConfigFile(dir);
      let config: unknown;
      try {
        config = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
      } catch {
        config = undefined;
      }
      if (!isRecord(config)) throw new StepFailure(`trigger not wired: ${file} is missing or not JSON`);
      const triggers = isRecord(config.TriggerFunctions) ? config.TriggerFunctions : {};
      const wired: [string, unknown, string][] = [
        ['PostConfirmation', triggers.PostConfirmation, functionName],
        ['PreSignUp', triggers.PreSignUp, PRE_SIGN_UP_FUNCTION_NAME],
      ];
      for (const [trigger, actual, expected] of wired) {
        if (actual !== expected) {
          throw new StepFailure(
            `trigger not wired: cognito-local's ${trigger} trigger is ${typeof actual === 'string' ? actual : 'not set'}, not ${expected}`,
          );
        }
      }
      const endpoint = isRecord(config.LambdaClient) ? config.LambdaClient.endpoint : undefined;
      if (endpoint !== lambdaEndpoint) {
        throw new StepFailure(
          `trigger not wired: cognito-local calls ${typeof endpoint === 'string' ? endpoint : 'no endpoint'}, not the Invoke API at ${lambdaEndpoint}`,
        );
      }
      const cognito = localCognitoClient(cognitoEndpoint);
      try {
        await cognito.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }));
      } catch (error) {
        if (isUnreachable(error)) throw notRunning('cognito-local', cognitoEndpoint);
        if (error instanceof Error && error.name === 'ResourceNotFoundException')
          throw new StepFailure(`trigger not wired: cognito-local has no pool ${userPoolId}`);
        throw error;
      } finally {
        cognito.destroy();
      }
      // DryRun: Lambda's own "is this function there", without running it.
      const lambda = lambdaClient();
      try {
        for (const [, , name] of wired)
          await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'DryRun' }));
      } catch (error) {
        if (isUnreachable(error)) throw notRunning('the local Invoke API', lambdaEndpoint);
        if (error instanceof Error && error.name === 'ResourceNotFoundException')
          throw new StepFailure('trigger not wired: the local Invoke API does not serve the trigger functions');
        throw error;
      } finally {
        lambda.destroy();
      }
      return `PostConfirmation -> ${functionName}, PreSignUp -> ${PRE_SIGN_UP_FUNCTION_NAME} at ${lambdaEndpoint}`;
    },
  };

  const writeStep: SmokeStep = {
    name: 'write',
    async run() {
      const { userPoolId, lambdaEndpoint } = stack();
      const lambda = lambdaClient();
      let invocation;
      try {
        invocation = await invoke(lambda, FUNCTION_NAME, probeConfirmation({ sub: probe, userPoolId }));
      } catch (error) {
        if (isUnreachable(error)) throw notRunning('the local Invoke API', lambdaEndpoint);
        throw error;
      } finally {
        lambda.destroy();
      }
      if (invocation.functionError !== undefined) {
        // Locally there is no fallback queue: the database's failure reaches the caller as it would Cognito.
        if (invocation.errorType === 'DatabaseUnavailableError')
          throw new StepFailure(`${databaseCause(undefined)}: is the local PostgreSQL running?`, EXIT.UNAVAILABLE);
        throw new StepFailure(`the function failed: ${invocation.errorType ?? invocation.functionError}`);
      }
      const found = await withDatabase(async (client) => {
        const { rows } = await client.query<{ personal: boolean }>(
          'SELECT (email IS NOT NULL OR display_name IS NOT NULL OR handle IS NOT NULL) AS personal FROM public.users WHERE cognito_user_id = $1',
          [probe],
        );
        return rows[0];
      });
      if (found === undefined) throw new StepFailure('the function answered but public.users has no row for the probe');
      if (found.personal) throw new StepFailure("the probe's row holds personal data it was never given");
      return `row in public.users, written by ${FUNCTION_NAME}`;
    },
  };

  const fallbackStep: SmokeStep = {
    name: 'fallback',
    run: () =>
      Promise.resolve({
        skipped:
          'no queue locally: the local function has no FALLBACK_QUEUE_URL, so a database failure reaches the caller instead',
      }),
  };

  const eraseStep: SmokeStep = {
    name: 'erase',
    async run() {
      const { outcome, left, tombstoned } = await withDatabase(async (client) => {
        const erased = await eraseUser(client, probe, LOCAL_ERASURE_POLICY);
        const { rows } = await client.query<{ left: boolean; tombstoned: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM public.users WHERE cognito_user_id = $1) AS left,
                  EXISTS (SELECT 1 FROM sync.erased_users WHERE cognito_user_id = $1) AS tombstoned`,
          [probe],
        );
        return { outcome: erased, left: rows[0]?.left !== false, tombstoned: rows[0]?.tombstoned === true };
      });
      if (left || !tombstoned)
        throw new StepFailure(
          `erase path broken (writer): sync.erase_user answered ${outcome} but the probe's ${left ? 'row is still there' : 'tombstone is missing'}`,
        );
      return `${outcome} by sync.erase_user (policy ${LOCAL_ERASURE_POLICY}); its tombstone stays`;
    },
  };

  return { label: 'local', probe, steps: [stackStep, triggerStep, writeStep, fallbackStep, eraseStep] };
}
