// `npm run smoke -- --stage`: every step and every failure against a deployed stage made of aws-sdk-client-mock
// fakes. The functions behind the fake Invoke are the real use cases (post-confirmation, user-events, the
// writer) where the contract is theirs, so the command reads the log lines they really write.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  ResourceNotFoundException as LogsNotFound,
  type FilteredLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { CognitoIdentityProviderClient, DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import {
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  type InvokeCommandInput,
  type InvokeCommandOutput,
} from '@aws-sdk/client-lambda';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/common';
import { SMOKE_OUTPUTS } from '../../bin/cli/smoke-aws';
import { PROBE_PATTERN } from '../../bin/cli/smoke-steps';
import { main } from '../../bin/smoke';
import { userEventFrom } from '../../lambdas/cognito/cloudtrail-event';
import { handlePostConfirmation } from '../../lambdas/post-confirmation/core';
import { withSmokeProbe } from '../../lambdas/post-confirmation/smoke-probe';
import { writeBatch } from '../../lambdas/replay/core';
import { DatabaseUnavailableError } from '../../lambdas/postgres/errors';
import { createLogger } from '../../lambdas/runtime/logger';
import type { QueueMessage } from '../../lambdas/sync/sync-queue';
import { handleUserEvent } from '../../lambdas/user-events/core';
import { userFromAttributes } from '../../lambdas/users/user';
import type { SyncWriter } from '../../lambdas/users/users-repository';
import { captureOutput, type CapturedOutput } from '../support/output';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } };
const cloudFormation = new CloudFormationClient(config);
const cognito = new CognitoIdentityProviderClient(config);
const lambda = new LambdaClient(config);
const logs = new CloudWatchLogsClient(config);
const cfnMock = mockClient(cloudFormation);
const cognitoMock = mockClient(cognito);
const lambdaMock = mockClient(lambda);
const logsMock = mockClient(logs);

const POOL = 'us-east-1_SmokePool1';
const PROBE = 'smoke-probe-3b0c8f3e-5a71-4d2b-9c1e-6f4a2d8b7e90';
const FN = {
  postConfirmation: 'Cruddur-dev-Auth-PostConfirmation',
  preSignUp: 'Cruddur-dev-Auth-PreSignUp',
  userEvents: 'Cruddur-dev-Auth-UserEvents',
  replay: 'Cruddur-dev-Auth-Replay',
};
const arnOf = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
const REPLAY_LOG_GROUP = 'Cruddur-dev-Auth-SignupFallbackReplayFunctionLogGroup-abc';

type Lines = string[];
/** One fake function: the event in, its result (or thrown error) and the log lines it wrote out. */
type FakeFunction = (event: Record<string, unknown>, log: (line: string) => void) => Promise<unknown>;

let functions: Record<string, FakeFunction>;
/** What the fake sync queue holds: the messages the user-events core sent, for the fake writer. */
let queue: QueueMessage[];
/** The writer's log lines, as CloudWatch Logs holds them; filled by the fake writer when the queue is read. */
let writerLines: Lines;
let writer: SyncWriter;
let now: number;
let sleeps: number[];
let captured: CapturedOutput;

const logger = (log: (line: string) => void, service: string) => createLogger({ service }, log);

/** A tail as Lambda returns it: the platform's lines around the function's own, base64. */
function tailOf(lines: Lines): string {
  return Buffer.from(
    [
      'START RequestId: r1 Version: $LATEST',
      ...lines,
      'END RequestId: r1',
      'REPORT RequestId: r1\tDuration: 12.3 ms',
    ].join('\n'),
  ).toString('base64');
}

function invocationFake(input: InvokeCommandInput): Promise<InvokeCommandOutput> {
  const name = String(input.FunctionName);
  const fn = functions[name];
  if (!fn) throw new Error(`no fake for ${name}`);
  const event = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as Record<string, unknown>;
  const lines: Lines = [];
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value ?? null)) as never;
  return fn(event, (line) => lines.push(line)).then(
    (result) => ({ StatusCode: 200, Payload: encode(result), LogResult: tailOf(lines), $metadata: {} }),
    (error: Error) => ({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: error.name, errorMessage: error.message }),
      LogResult: tailOf(lines),
      $metadata: {},
    }),
  );
}

/** The real post-confirmation use case (its smoke hook included) over a writer that answers `outcome`. */
function postConfirmation(
  signUp: SyncWriter['signUp'] = () => Promise.resolve({ outcome: 'inserted', handleAdjusted: false }),
): FakeFunction {
  return async (event, log) => {
    return withSmokeProbe(handlePostConfirmation)(event, {
      users: { signUp },
      logger: logger(log, 'post-confirmation'),
      fallback: { send: () => Promise.resolve() },
    });
  };
}

/** The real user-events use case: the pool no longer has the user (or `read` says otherwise), the queue takes the message. */
function userEvents(read: () => Promise<undefined> = () => Promise.resolve(undefined)): FakeFunction {
  return (event, log) =>
    handleUserEvent(event, POOL, {
      reader: { read },
      groups: { groupsOf: () => Promise.resolve([]), groupExists: () => Promise.resolve(true) },
      queue: { send: (message) => Promise.resolve(void queue.push(message)) },
      logger: logger(log, 'user-events'),
    });
}

/** The real writer over the fake queue, run when its log group is read: its lines land in the log group. */
async function drainQueue(): Promise<void> {
  const records = queue.splice(0).map((message, index) => ({
    messageId: `m${index}`,
    body: JSON.stringify(message),
    attributes: { SentTimestamp: String(now), ApproximateReceiveCount: '1' },
  }));
  if (records.length === 0) return;
  await writeBatch({ Records: records } as unknown as SQSEvent, {
    users: writer,
    erasurePolicy: 'delete',
    logger: logger((line) => writerLines.push(line), 'replay'),
  });
}

function stackOutputs(keys: readonly string[] = Object.values(SMOKE_OUTPUTS)) {
  const values: Record<string, string> = {
    UserPoolId: POOL,
    PostConfirmationFunctionName: FN.postConfirmation,
    PreSignUpFunctionName: FN.preSignUp,
    UserEventsFunctionName: FN.userEvents,
    ReplayFunctionName: FN.replay,
  };
  return {
    Stacks: [
      {
        StackName: 'Cruddur-dev-Auth',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE' as const,
        Outputs: keys.map((key) => ({ OutputKey: key, OutputValue: values[key] })),
      },
    ],
  };
}

async function smoke(argv: string[] = ['--stage', 'dev']): Promise<number> {
  return main(argv, {
    output: captured.output,
    clients: { cloudFormation, cognito, lambda, logs },
    probe: PROBE,
    clock: () => now,
    pollMs: 3000,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  });
}

const invocations = () => lambdaMock.commandCalls(InvokeCommand).map((call) => call.args[0].input);
const eventOf = (input: InvokeCommandInput) =>
  JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as Record<string, unknown>;
const statusLines = () =>
  captured.out
    .slice(1)
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim().split(/\s+/).slice(0, 2));

beforeEach(() => {
  for (const mock of [cfnMock, cognitoMock, lambdaMock, logsMock]) mock.reset();
  captured = captureOutput();
  now = Date.parse('2026-12-01T10:00:00Z');
  sleeps = [];
  queue = [];
  writerLines = [];
  writer = {
    signUp: () => Promise.resolve({ outcome: 'inserted', handleAdjusted: false }),
    apply: () => Promise.resolve({ outcome: 'inserted' }),
    erase: () => Promise.resolve('erased'),
    setGroups: () => Promise.resolve('updated'),
    deleteGroup: () => Promise.resolve(0),
  };
  functions = { [FN.postConfirmation]: postConfirmation(), [FN.userEvents]: userEvents() };
  cfnMock.on(DescribeStacksCommand).resolves(stackOutputs());
  for (const name of Object.values(FN)) {
    lambdaMock.on(GetFunctionConfigurationCommand, { FunctionName: name }).resolves({
      FunctionName: name,
      FunctionArn: arnOf(name),
      LoggingConfig: name === FN.replay ? { LogGroup: REPLAY_LOG_GROUP, LogFormat: 'JSON' } : { LogFormat: 'JSON' },
    });
  }
  cognitoMock.on(DescribeUserPoolCommand).resolves({
    UserPool: {
      Id: POOL,
      LambdaConfig: { PostConfirmation: arnOf(FN.postConfirmation), PreSignUp: arnOf(FN.preSignUp) },
    },
  });
  lambdaMock.on(InvokeCommand).callsFake(invocationFake);
  logsMock.on(FilterLogEventsCommand).callsFake(async (input: { filterPattern?: string }) => {
    await drainQueue();
    const term = (input.filterPattern ?? '').replace(/^"|"$/g, '');
    const events: FilteredLogEvent[] = writerLines
      .filter((line) => line.includes(term))
      .map((message) => ({ message, timestamp: now }));
    return { events };
  });
});

describe('npm run smoke -- --stage', () => {
  it('passes every step in order, with the probe erased last through user-events and the writer', async () => {
    expect(await smoke()).toBe(EXIT.OK);
    expect(captured.out[0]).toBe(`smoke dev: probe ${PROBE}`);
    expect(statusLines()).toEqual([
      ['stack', 'ok'],
      ['trigger', 'ok'],
      ['write', 'ok'],
      ['fallback', 'ok'],
      ['erase', 'ok'],
    ]);
    for (const line of captured.out.slice(1, 6)) expect(line).toMatch(/ \d+ ms /);
    expect(captured.out.find((line) => line.includes('erase'))).toMatch(
      `queued by ${FN.userEvents}, erased by ${FN.replay}`,
    );
    expect(captured.out.at(-1)).toMatch(/^smoke dev: passed in \d+\.\d s$/);
    expect(captured.err).toEqual([expect.stringMatching(/erase: queued by .* waiting up to 90 s/)]);

    const calls = invocations();
    expect(calls.map((call) => [call.FunctionName, call.InvocationType, call.LogType])).toEqual([
      [FN.postConfirmation, 'RequestResponse', 'Tail'],
      [FN.postConfirmation, 'RequestResponse', 'Tail'],
      [FN.userEvents, 'RequestResponse', 'Tail'],
    ]);
    expect(logsMock.commandCalls(FilterLogEventsCommand)[0]?.args[0].input).toMatchObject({
      logGroupName: REPLAY_LOG_GROUP,
      filterPattern: `"${PROBE}"`,
    });
  });

  it('sends a probe with no personal data, which the functions take for a user and an AdminDeleteUser of this pool', async () => {
    await smoke();
    const [write, fallback, erase] = invocations().map(eventOf);
    expect(PROBE).toMatch(PROBE_PATTERN);
    expect(write).toMatchObject({
      triggerSource: 'PostConfirmation_ConfirmSignUp',
      userPoolId: POOL,
      userName: PROBE,
      region: 'us-east-1',
    });
    expect(userFromAttributes((write?.request as { userAttributes: unknown }).userAttributes)).toEqual({
      cognitoUserId: PROBE,
      email: null,
      displayName: null,
      handle: null,
    });
    expect(write?.request).not.toHaveProperty('clientMetadata');
    expect(fallback?.request).toMatchObject({ clientMetadata: { smoke: 'fallback' } });
    expect(userEventFrom(erase, POOL)).toMatchObject({
      kind: 'user',
      eventName: 'AdminDeleteUser',
      sub: PROBE,
      subSource: 'additionalEventData.sub',
    });
    expect(JSON.stringify([write, fallback, erase])).not.toMatch(/email|"name"|preferred_username/);
  });

  it('reads the function lines when the runtime wraps them in its own JSON records', async () => {
    functions[FN.postConfirmation] = (event, log) =>
      postConfirmation()(event, (line) =>
        log(
          JSON.stringify({
            timestamp: '2026-12-01T10:00:00Z',
            level: 'INFO',
            requestId: 'r1',
            message: JSON.parse(line) as unknown,
          }),
        ),
      );
    expect(await smoke()).toBe(EXIT.OK);
  });

  it('waits for the writer, reading its log group again until the erase shows', async () => {
    let reads = 0;
    logsMock.on(FilterLogEventsCommand).callsFake(async () => {
      reads += 1;
      if (reads < 3) return { events: [] };
      await drainQueue();
      // Two pages: the erase is on the second.
      return reads === 3 ? { events: [], nextToken: 'page2' } : { events: writerLines.map((message) => ({ message })) };
    });
    expect(await smoke()).toBe(EXIT.OK);
    expect(sleeps).toEqual([3000, 3000]);
    expect(logsMock.commandCalls(FilterLogEventsCommand)[3]?.args[0].input).toMatchObject({ nextToken: 'page2' });
  });

  describe('the stack step', () => {
    it('fails naming the stack when the stage is not deployed', async () => {
      cfnMock
        .on(DescribeStacksCommand)
        .rejects(
          Object.assign(new Error('Stack with id Cruddur-dev-Auth does not exist'), { name: 'ValidationError' }),
        );
      expect(await smoke()).toBe(EXIT.CONFIG);
      expect(captured.err).toEqual([
        expect.stringMatching(
          /^smoke dev: step stack failed: stack Cruddur-dev-Auth does not exist in this account and region/,
        ),
      ]);
      expect(invocations()).toEqual([]);
    });

    it('fails naming the output a stack of an older version lacks', async () => {
      cfnMock.on(DescribeStacksCommand).resolves(stackOutputs(['UserPoolId', 'PostConfirmationFunctionName']));
      expect(await smoke()).toBe(EXIT.CONFIG);
      expect(captured.err).toEqual([
        expect.stringMatching(
          /^smoke dev: step stack failed: stack Cruddur-dev-Auth has no PreSignUpFunctionName output/,
        ),
      ]);
    });

    it('fails naming a function the stack names but Lambda does not have', async () => {
      lambdaMock
        .on(GetFunctionConfigurationCommand, { FunctionName: FN.replay })
        .rejects(new ResourceNotFoundException({ message: 'Function not found', $metadata: {} }));
      expect(await smoke()).toBe(EXIT.CONFIG);
      expect(captured.err).toEqual([
        `smoke dev: step stack failed: function ${FN.replay} (output ReplayFunctionName of Cruddur-dev-Auth) does not exist: redeploy the stage`,
      ]);
    });
  });

  describe('the trigger step', () => {
    it.each([
      [
        'PostConfirmation',
        { PostConfirmation: arnOf('SomethingElse'), PreSignUp: arnOf(FN.preSignUp) },
        `is ${arnOf('SomethingElse')}, not the stack's function ${FN.postConfirmation}`,
      ],
      [
        'PreSignUp',
        { PostConfirmation: arnOf(FN.postConfirmation) },
        `is not set, not the stack's function ${FN.preSignUp}`,
      ],
    ])(
      'fails with "trigger not wired" when the pool\'s %s trigger is not the stack\'s function, and invokes nothing',
      async (trigger, lambdaConfig, detail) => {
        cognitoMock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL, LambdaConfig: lambdaConfig } });
        expect(await smoke()).toBe(EXIT.FAILURE);
        expect(captured.err).toEqual([
          `smoke dev: step trigger failed: trigger not wired: the pool's ${trigger} trigger ${detail}`,
        ]);
        expect(invocations()).toEqual([]);
      },
    );

    it('takes a trigger that names $LATEST for the same function', async () => {
      cognitoMock.on(DescribeUserPoolCommand).resolves({
        UserPool: {
          Id: POOL,
          LambdaConfig: { PostConfirmation: `${arnOf(FN.postConfirmation)}:$LATEST`, PreSignUp: arnOf(FN.preSignUp) },
        },
      });
      expect(await smoke()).toBe(EXIT.OK);
    });

    it('names an AWS refusal as it is', async () => {
      cognitoMock.on(DescribeUserPoolCommand).rejects(
        Object.assign(new Error('not authorized to perform cognito-idp:DescribeUserPool'), {
          name: 'AccessDeniedException',
        }),
      );
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err).toEqual([
        'smoke dev: step trigger failed: AccessDeniedException: not authorized to perform cognito-idp:DescribeUserPool',
      ]);
    });
  });

  describe('the write step', () => {
    const queuedLine =
      (fields: Record<string, string>): FakeFunction =>
      (event, log) => {
        const sub = (event.request as { userAttributes: { sub: string } }).userAttributes.sub;
        logger(log, 'post-confirmation').warn('database unavailable; sign-up queued for the writer', {
          sub,
          outcome: 'queued',
          errorName: 'DatabaseUnavailableError',
          ...fields,
        });
        return Promise.resolve(event);
      };

    it.each([
      ['login-refused', 'login refused (IAM authentication)'],
      ['role-missing', 'login refused (the database role does not exist: migrations?)'],
      ['privilege-missing', 'grant missing (privilege-missing)'],
      ['tls-untrusted', 'TLS verification failed (certificate not trusted)'],
      ['timeout', 'function cannot reach the database (timeout)'],
      ['a-class-added-later', 'function cannot reach the database (a-class-added-later)'],
    ])('fails when the function queued the probe with errorClass %s: %s', async (errorClass, cause) => {
      functions[FN.postConfirmation] = queuedLine({ failureClass: 'permanent', errorClass });
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(`smoke dev: step write failed: ${cause}; the probe went to the fallback queue`);
    });

    it('fails with "function cannot reach the database" when the real function queues the probe', async () => {
      functions[FN.postConfirmation] = postConfirmation(() =>
        Promise.reject(new DatabaseUnavailableError('Database connect timed out', 'ETIMEDOUT')),
      );
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toMatch(
        /^smoke dev: step write failed: function cannot reach the database.*; the probe went to the fallback queue$/,
      );
    });

    it("sends the probe's erase asynchronously when the write failed, since the queued copy is replayed later", async () => {
      functions[FN.postConfirmation] = queuedLine({ errorClass: 'refused' });
      await smoke();
      expect(captured.err).toEqual([
        `smoke dev: cleanup: the probe's erase was sent to ${FN.userEvents} (asynchronously); it holds no personal data either way`,
        'smoke dev: step write failed: function cannot reach the database (connection refused); the probe went to the fallback queue',
      ]);
      const cleanup = invocations().at(-1);
      expect(cleanup).toMatchObject({ FunctionName: FN.userEvents, InvocationType: 'Event' });
      expect(cleanup?.LogType).toBeUndefined();
      expect(userEventFrom(eventOf(cleanup as InvokeCommandInput), POOL)).toMatchObject({
        kind: 'user',
        sub: PROBE,
        eventName: 'AdminDeleteUser',
      });
    });

    it('fails naming the database when neither the database nor the queue took the probe', async () => {
      functions[FN.postConfirmation] = (event, log) => {
        logger(log, 'post-confirmation').error('post-confirmation failed', {
          sub: PROBE,
          errorName: 'DatabaseUnavailableError',
          errorClass: 'login-refused',
        });
        return Promise.reject(new DatabaseUnavailableError('login refused'));
      };
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(
        'smoke dev: step write failed: login refused (IAM authentication), and the fallback queue did not take the sign-up either',
      );
    });

    it('names any other function error by its type', async () => {
      functions[FN.postConfirmation] = () =>
        Promise.reject(Object.assign(new Error('Task timed out after 5.00 seconds'), { name: 'Sandbox.Timedout' }));
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(
        'smoke dev: step write failed: the function failed: Sandbox.Timedout (see its log group /aws/lambda/Cruddur-dev-Auth-PostConfirmation)',
      );
    });

    it('fails when the function logs no outcome for the probe', async () => {
      functions[FN.postConfirmation] = (event) => Promise.resolve(event);
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toMatch(
        /^smoke dev: step write failed: the function logged no outcome for the probe: is the deployed code older than this command\?/,
      );
    });
  });

  describe('the fallback step', () => {
    const fallbackAnswer =
      (answer: FakeFunction): FakeFunction =>
      (event, log) => {
        const metadata = (event.request as { clientMetadata?: Record<string, string> }).clientMetadata;
        return metadata?.smoke === 'fallback' ? answer(event, log) : postConfirmation()(event, log);
      };

    it('fails with "queue unreachable" naming the queue error when the send failed', async () => {
      functions[FN.postConfirmation] = fallbackAnswer((event, log) => {
        logger(log, 'post-confirmation').error('smoke probe not queued', {
          sub: PROBE,
          outcome: 'failed',
          probe: true,
          queueErrorName: 'KMS.AccessDeniedException',
        });
        return Promise.resolve(event);
      });
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(statusLines().at(-1)).toEqual(['fallback', 'FAILED']);
      expect(captured.err.at(-1)).toBe(
        'smoke dev: step fallback failed: queue unreachable (KMS.AccessDeniedException)',
      );
      // The probe was written by the step before: its erase is sent.
      expect(invocations().at(-1)).toMatchObject({ FunctionName: FN.userEvents, InvocationType: 'Event' });
    });

    it('fails naming the function error when the function threw', async () => {
      functions[FN.postConfirmation] = fallbackAnswer(() =>
        Promise.reject(Object.assign(new Error('queue said no'), { name: 'DatabaseUnavailableError' })),
      );
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(
        'smoke dev: step fallback failed: queue unreachable: the function failed (DatabaseUnavailableError)',
      );
    });

    it('says the deployed function predates the hook when it wrote the probe to the database instead', async () => {
      // A function from before the hook reads no client metadata: it writes the probe like any sign-up.
      const withoutMetadata = (event: Record<string, unknown>) => ({
        ...event,
        request: { ...(event.request as object), clientMetadata: undefined },
      });
      functions[FN.postConfirmation] = fallbackAnswer((event, log) =>
        handlePostConfirmation(withoutMetadata(event), {
          users: { signUp: () => Promise.resolve({ outcome: 'exists', handleAdjusted: false }) },
          logger: logger(log, 'post-confirmation'),
        }),
      );
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toMatch(
        /^smoke dev: step fallback failed: queue unreachable: not tried, the function wrote the probe to the database \(it predates the smoke fallback hook/,
      );
    });
  });

  describe('the erase step', () => {
    it('fails at user-events when it cannot read the pool or reach the queue', async () => {
      functions[FN.userEvents] = userEvents(() =>
        Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })),
      );
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(statusLines().at(-1)).toEqual(['erase', 'FAILED']);
      expect(captured.err).toEqual([
        'smoke dev: step erase failed: erase path broken (user-events): it could not read the pool or send to the queue (AccessDeniedException)',
      ]);
    });

    it('fails at user-events when it ignores the deletion (another pool in its configuration)', async () => {
      functions[FN.userEvents] = (event, log) =>
        handleUserEvent(event, 'us-east-1_OtherPool9', {
          reader: { read: () => Promise.resolve(undefined) },
          groups: { groupsOf: () => Promise.resolve([]), groupExists: () => Promise.resolve(true) },
          queue: { send: () => Promise.resolve() },
          logger: logger(log, 'user-events'),
        });
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(
        "smoke dev: step erase failed: erase path broken (user-events): outcome ignored_other_pool for the probe's deletion, not queued_erase",
      );
    });

    it('fails at the queue or the writer when nothing reaches the writer within the wait', async () => {
      logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
      expect(await smoke(['--stage', 'dev', '--wait-seconds', '9'])).toBe(EXIT.FAILURE);
      expect(sleeps).toEqual([3000, 3000, 3000]);
      expect(captured.err.at(-1)).toBe(
        `smoke dev: step erase failed: erase path broken (queue or writer): no erase of the probe in ${REPLAY_LOG_GROUP} within 9 s; see the sync queue's backlog and dead-letter queue`,
      );
    });

    it("fails at the writer when it replayed the probe's sign-up but logged no erase", async () => {
      writer.erase = () => Promise.reject(new DatabaseUnavailableError('down'));
      queue.push({ version: 1 } as unknown as QueueMessage);
      logsMock.on(FilterLogEventsCommand).callsFake(async () => {
        await drainQueue();
        const replayed = JSON.stringify({
          level: 'INFO',
          message: 'queued sign-up written',
          service: 'replay',
          sub: PROBE,
          kind: 'sign-up',
          outcome: 'inserted',
        });
        return {
          events: [...writerLines, replayed].filter((line) => line.includes(PROBE)).map((message) => ({ message })),
        };
      });
      expect(await smoke(['--stage', 'dev', '--wait-seconds', '3'])).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toMatch(
        /^smoke dev: step erase failed: erase path broken \(writer\): no erase of the probe/,
      );
    });

    it('fails at the writer when its log group does not exist', async () => {
      logsMock
        .on(FilterLogEventsCommand)
        .rejects(new LogsNotFound({ message: 'The specified log group does not exist.', $metadata: {} }));
      expect(await smoke()).toBe(EXIT.FAILURE);
      expect(captured.err.at(-1)).toBe(
        `smoke dev: step erase failed: erase path broken (writer): its log group ${REPLAY_LOG_GROUP} does not exist`,
      );
    });
  });

  describe('the command line', () => {
    it.each([
      [[], /give either --stage or --local/],
      [['--stage', 'dev', '--local'], /give either --stage or --local/],
      [['--stage', 'Prod!'], /--stage must be a stage name/],
      [['--stage', 'dev', '--wait-seconds', 'soon'], /--wait-seconds must be a whole number/],
      [['--stage', 'dev', '--data-dir', '/tmp'], /--data-dir goes with --local/],
      [['--stage', 'dev', 'extra'], /unexpected argument "extra"/],
    ])('refuses %j as a usage error before calling AWS', async (argv, message) => {
      expect(await smoke(argv)).toBe(EXIT.USAGE);
      expect(captured.err.join('\n')).toMatch(message);
      expect(cfnMock.calls()).toEqual([]);
    });
  });
});
