// The smoke steps against a deployed stage: the pool's triggers, the post-confirmation function invoked with a
// probe, its fallback queue, and the probe's erasure through the same path a deleted user takes.
import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeUserPoolCommand, type CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { stackName, stackOutput } from './aws';
import { EXIT } from './common';
import {
  databaseCause,
  FALLBACK_METADATA,
  identifier,
  invoke,
  probeConfirmation,
  probeDeletion,
  recordsFor,
  StepFailure,
  type Invocation,
  type LogRecord,
  type SmokePlan,
  type SmokeStep,
} from './smoke-steps';

/** The Auth stack's outputs the smoke command reads; the last three name the functions the probe passes through. */
export const SMOKE_OUTPUTS = {
  userPoolId: 'UserPoolId',
  postConfirmation: 'PostConfirmationFunctionName',
  preSignUp: 'PreSignUpFunctionName',
  userEvents: 'UserEventsFunctionName',
  replay: 'ReplayFunctionName',
} as const;

export interface AwsSmokeClients {
  readonly cloudFormation: CloudFormationClient;
  readonly cognito: CognitoIdentityProviderClient;
  readonly lambda: LambdaClient;
  readonly logs: CloudWatchLogsClient;
}

export interface AwsSmokeOptions {
  readonly stage: string;
  readonly probe: string;
  /** How long the erase step waits for the writer's log line. @default 90 000 */
  readonly eraseWaitMs?: number;
  /** Between two reads of the writer's log group. @default 3000 */
  readonly pollMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Progress while the erase step waits (stderr). */
  readonly progress?: (line: string) => void;
}

interface DeployedFunction {
  readonly name: string;
  readonly arn: string;
  readonly logGroup: string;
}

interface Stage {
  readonly userPoolId: string;
  readonly postConfirmation: DeployedFunction;
  readonly preSignUp: DeployedFunction;
  readonly userEvents: DeployedFunction;
  readonly replay: DeployedFunction;
}

const SIGNED_UP = new Set(['inserted', 'exists']);
const ERASED = new Set(['erased', 'already_erased', 'absent_tombstoned']);

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A function's unqualified ARN: a trigger names `$LATEST` implicitly or explicitly, the same function. */
function unqualified(arn: string | undefined): string | undefined {
  return arn?.replace(/:\$LATEST$/, '');
}

/** The last of the function's lines for the probe that carries an outcome. */
function outcomeLine(invocation: Invocation, sub: string): LogRecord | undefined {
  return recordsFor(invocation.tail, sub)
    .filter((record) => typeof record.outcome === 'string')
    .at(-1);
}

async function deployedFunction(
  lambda: LambdaClient,
  name: string,
  output: string,
  stack: string,
): Promise<DeployedFunction> {
  try {
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (!config.FunctionArn) throw new StepFailure(`function ${name} (output ${output} of ${stack}) has no ARN`);
    return { name, arn: config.FunctionArn, logGroup: config.LoggingConfig?.LogGroup ?? `/aws/lambda/${name}` };
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') {
      throw new StepFailure(
        `function ${name} (output ${output} of ${stack}) does not exist: redeploy the stage`,
        EXIT.CONFIG,
      );
    }
    throw error;
  }
}

async function resolveStage(clients: AwsSmokeClients, stage: string): Promise<Stage> {
  const stack = stackName(stage, 'Auth');
  const output = (key: string) =>
    stackOutput(clients.cloudFormation, stack, key, '--stage with a stage deployed from this version (npx cdk deploy)');
  const fn = async (key: string) => deployedFunction(clients.lambda, await output(key), key, stack);
  return {
    userPoolId: await output(SMOKE_OUTPUTS.userPoolId),
    postConfirmation: await fn(SMOKE_OUTPUTS.postConfirmation),
    preSignUp: await fn(SMOKE_OUTPUTS.preSignUp),
    userEvents: await fn(SMOKE_OUTPUTS.userEvents),
    replay: await fn(SMOKE_OUTPUTS.replay),
  };
}

/** The steps for one stage, in order: the probe is erased last, so a late replay of its queued copy meets the tombstone. */
export function awsSmokePlan(clients: AwsSmokeClients, options: AwsSmokeOptions): SmokePlan {
  const { probe } = options;
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? sleeper;
  const progress = options.progress ?? (() => undefined);
  const started = clock();
  let resolved: Stage | undefined;
  const stage = (): Stage => {
    if (resolved === undefined) throw new StepFailure('the stack step did not resolve the stage');
    return resolved;
  };

  const stackStep: SmokeStep = {
    name: 'stack',
    async run() {
      resolved = await resolveStage(clients, options.stage);
      return `${stackName(options.stage, 'Auth')}: pool ${resolved.userPoolId}, functions found`;
    },
  };

  const triggerStep: SmokeStep = {
    name: 'trigger',
    async run() {
      const { userPoolId, postConfirmation, preSignUp } = stage();
      const { UserPool } = await clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }));
      const config = UserPool?.LambdaConfig ?? {};
      const wired: [string, string | undefined, DeployedFunction][] = [
        ['PostConfirmation', config.PostConfirmation, postConfirmation],
        ['PreSignUp', config.PreSignUp, preSignUp],
      ];
      for (const [trigger, actual, expected] of wired) {
        if (unqualified(actual) !== unqualified(expected.arn)) {
          throw new StepFailure(
            `trigger not wired: the pool's ${trigger} trigger is ${actual ?? 'not set'}, not the stack's function ${expected.name}`,
          );
        }
      }
      return `PostConfirmation -> ${postConfirmation.name}, PreSignUp -> ${preSignUp.name}`;
    },
  };

  const writeStep: SmokeStep = {
    name: 'write',
    async run() {
      const { userPoolId, postConfirmation } = stage();
      const invocation = await invoke(
        clients.lambda,
        postConfirmation.name,
        probeConfirmation({ sub: probe, userPoolId }),
      );
      const line = outcomeLine(invocation, probe);
      if (invocation.functionError !== undefined) {
        if (invocation.errorType === 'DatabaseUnavailableError') {
          // The handler's error line (no outcome) or the core's 'failed' one: whichever says the class.
          const classified = recordsFor(invocation.tail, probe)
            .filter((record) => identifier(record, 'errorClass') !== undefined)
            .at(-1);
          throw new StepFailure(
            `${databaseCause(identifier(classified, 'errorClass'))}, and the fallback queue did not take the sign-up either`,
          );
        }
        throw new StepFailure(
          `the function failed: ${invocation.errorType ?? invocation.functionError} (see its log group ${postConfirmation.logGroup})`,
        );
      }
      const outcome = identifier(line, 'outcome');
      if (outcome === 'queued')
        throw new StepFailure(`${databaseCause(identifier(line, 'errorClass'))}; the probe went to the fallback queue`);
      if (outcome === undefined) {
        throw new StepFailure(
          `the function logged no outcome for the probe: is the deployed code older than this command? (log group ${postConfirmation.logGroup})`,
        );
      }
      if (!SIGNED_UP.has(outcome)) throw new StepFailure(`the function did not write the probe (outcome ${outcome})`);
      return `row ${outcome} by ${postConfirmation.name}`;
    },
  };

  const fallbackStep: SmokeStep = {
    name: 'fallback',
    async run() {
      const { userPoolId, postConfirmation } = stage();
      const event = probeConfirmation({ sub: probe, userPoolId, clientMetadata: FALLBACK_METADATA });
      const invocation = await invoke(clients.lambda, postConfirmation.name, event);
      const line = outcomeLine(invocation, probe);
      if (invocation.functionError !== undefined) {
        throw new StepFailure(
          `queue unreachable: the function failed (${identifier(line, 'queueErrorName') ?? invocation.errorType ?? invocation.functionError})`,
        );
      }
      const outcome = identifier(line, 'outcome');
      if (outcome === 'queued')
        return line?.probe === true
          ? 'the fallback queue took the probe'
          : 'the fallback queue took the probe (not marked as a probe)';
      if (outcome === 'failed')
        throw new StepFailure(`queue unreachable (${identifier(line, 'queueErrorName') ?? 'the send failed'})`);
      if (outcome !== undefined && SIGNED_UP.has(outcome)) {
        throw new StepFailure(
          'queue unreachable: not tried, the function wrote the probe to the database (it predates the smoke fallback hook: deploy the current code)',
        );
      }
      throw new StepFailure(
        `queue unreachable: the function logged ${outcome === undefined ? 'no outcome' : `outcome ${outcome}`} for the probe`,
      );
    },
  };

  const eraseEvent = () => probeDeletion(probe, stage().userPoolId, new Date(clock()));

  /** The writer's lines about the probe since the run started, across pages. */
  async function writerLines(logGroupName: string): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    let nextToken: string | undefined;
    do {
      const page = await clients.logs.send(
        // A quoted term matches the sub whichever log format wraps the line; the records are parsed here.
        new FilterLogEventsCommand({
          logGroupName,
          startTime: started - 60_000,
          filterPattern: `"${probe}"`,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const event of page.events ?? []) records.push(...recordsFor(event.message ?? '', probe));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return records;
  }

  const eraseStep: SmokeStep = {
    name: 'erase',
    async run() {
      const { userEvents, replay } = stage();
      const invocation = await invoke(clients.lambda, userEvents.name, eraseEvent());
      const line = outcomeLine(invocation, probe);
      if (invocation.functionError !== undefined) {
        const cause = identifier(line, 'errorName') ?? invocation.errorType ?? invocation.functionError;
        throw new StepFailure(
          `erase path broken (user-events): it could not read the pool or send to the queue (${cause})`,
        );
      }
      const payload =
        typeof invocation.payload === 'object' && invocation.payload !== null
          ? (invocation.payload as LogRecord)
          : undefined;
      const outcome = identifier(payload, 'outcome') ?? identifier(line, 'outcome');
      if (outcome !== 'queued_erase') {
        throw new StepFailure(
          `erase path broken (user-events): outcome ${outcome ?? 'none'} for the probe's deletion, not queued_erase`,
        );
      }
      const waitMs = options.eraseWaitMs ?? 90_000;
      const pollMs = options.pollMs ?? 3000;
      const deadline = clock() + waitMs;
      progress(
        `  erase: queued by ${userEvents.name}; waiting up to ${Math.round(waitMs / 1000)} s for ${replay.name}`,
      );
      let seen: LogRecord[] = [];
      for (;;) {
        try {
          seen = await writerLines(replay.logGroup);
        } catch (error) {
          if (error instanceof Error && error.name === 'ResourceNotFoundException') {
            throw new StepFailure(`erase path broken (writer): its log group ${replay.logGroup} does not exist`);
          }
          throw error;
        }
        const erased = seen.find((record) => record.kind === 'erase' && ERASED.has(String(record.outcome)));
        if (erased !== undefined) return `queued by ${userEvents.name}, ${String(erased.outcome)} by ${replay.name}`;
        if (clock() >= deadline) break;
        await sleep(Math.min(pollMs, Math.max(0, deadline - clock())));
      }
      // The writer's line for the probe's queued sign-up shows the queue reaches it: then the erase itself failed.
      const where = seen.length > 0 ? 'writer' : 'queue or writer';
      throw new StepFailure(
        `erase path broken (${where}): no erase of the probe in ${replay.logGroup} within ${Math.round(waitMs / 1000)} s; see the sync queue's backlog and dead-letter queue`,
      );
    },
  };

  return {
    label: options.stage,
    probe,
    steps: [stackStep, triggerStep, writeStep, fallbackStep, eraseStep],
    // Asynchronous, so the function's retries and its dead-letter queue apply: nothing here waits for it.
    cleanup: async () => {
      await invoke(clients.lambda, stage().userEvents.name, eraseEvent(), 'Event');
      return `the probe's erase was sent to ${stage().userEvents.name} (asynchronously); it holds no personal data either way`;
    },
  };
}
