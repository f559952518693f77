import {
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  GetGroupCommand,
  ResourceNotFoundException,
  ListUsersCommand,
  TooManyRequestsException,
  UserNotFoundException,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ATTRIBUTE_EVENT_NAMES, MEMBERSHIP_EVENT_NAMES } from '../../../lambdas/cognito/cloudtrail-event';
import { createLogger } from '../../../lambdas/runtime/logger';
import { sqsSyncQueue } from '../../../lambdas/sync/sqs/sqs-sync-queue';
import { parseSyncMessage } from '../../../lambdas/sync/sync-message';
import { UserEventNotSyncedError } from '../../../lambdas/user-events/core';
import { createHandler } from '../../../lambdas/user-events/handler';
import { fakeContext } from '../../support/lambda';
import { FIXTURE_POOL_ID, FIXTURE_SUB, loadCloudTrailEvent } from './fixtures';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/user-sync';
const SETTINGS = { userPoolId: FIXTURE_POOL_ID, syncQueueUrl: QUEUE_URL };
const CLIENT_CONFIG = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

const EMAIL = 'jane.doe@example.com';
const NAME = 'Jane Doe';
const HANDLE = 'janedoe';
const PERSONAL = [EMAIL, NAME, HANDLE, 'jane.doe'];

const STARTED = Date.parse('2026-12-01T10:00:00.000Z');
const ANSWERED = STARTED + 40;
const LAST_MODIFIED = new Date('2026-11-30T09:00:00.000Z');

function poolUser(overrides: Partial<UserType> = {}, attributes: Record<string, string> = {}): UserType {
  const all = {
    sub: FIXTURE_SUB,
    email: EMAIL,
    email_verified: 'true',
    name: NAME,
    preferred_username: HANDLE,
    ...attributes,
  };
  return {
    Username: FIXTURE_SUB,
    Attributes: Object.entries(all).map(([Name, Value]) => ({ Name, Value })),
    Enabled: true,
    UserStatus: 'CONFIRMED',
    UserCreateDate: new Date('2026-11-01T00:00:00.000Z'),
    UserLastModifiedDate: LAST_MODIFIED,
    ...overrides,
  };
}

const fixtureOf = (names: readonly string[]) =>
  names.map((name) => [name, name.replace(/(?<!^)([A-Z])/g, '-$1').toLowerCase()] as const);
const ONE_PER_EVENT_NAME = fixtureOf(ATTRIBUTE_EVENT_NAMES);

describe('user-events handler (Cognito and SQS mocked)', () => {
  let cognito: AwsClientStub<CognitoIdentityProviderClient>;
  let sqs: AwsClientStub<SQSClient>;
  let lines: string[];
  let now: number;
  let handler: ReturnType<typeof createHandler>;

  beforeEach(() => {
    cognito = mockClient(CognitoIdentityProviderClient);
    sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    lines = [];
    now = STARTED;
    handler = createHandler(SETTINGS, {
      logger: createLogger({ service: 'user-events' }, (line) => void lines.push(line)),
      cognito: new CognitoIdentityProviderClient(CLIENT_CONFIG),
      queue: sqsSyncQueue({ queueUrl: QUEUE_URL, createClient: (sdk) => new sdk.SQSClient(CLIENT_CONFIG) }),
      clock: () => now,
    });
  });
  afterEach(() => {
    cognito.restore();
    sqs.restore();
  });

  /**
   * The pool as real Cognito answers: ListUsers filtered by `sub = "…"` finds the user (`answer`, or throws it)
   * at ANSWERED, whatever their user name; AdminGetUser takes only the user name, so asked for the sub of a
   * user whose name is something else it says UserNotFoundException.
   */
  function poolAnswers(answer: UserType | Error | undefined): void {
    cognito.on(ListUsersCommand).callsFake((input: { Filter?: string }) => {
      now = ANSWERED;
      if (answer instanceof Error) throw answer;
      const sub = answer?.Attributes?.find((a) => a.Name === 'sub')?.Value;
      return { Users: answer !== undefined && input.Filter === `sub = "${sub}"` ? [answer] : [] };
    });
    cognito.on(AdminGetUserCommand).callsFake((input: { Username?: string }) => {
      now = ANSWERED;
      if (answer instanceof Error) throw answer;
      if (answer === undefined || input.Username !== answer.Username) throw notFound();
      return { ...answer, UserAttributes: answer.Attributes };
    });
  }

  function listCalls(): unknown[] {
    return cognito.commandCalls(ListUsersCommand).map((call) => call.args[0].input);
  }

  function sentBodies(): Record<string, unknown>[] {
    return sqs
      .commandCalls(SendMessageCommand)
      .map((call) => JSON.parse(call.args[0].input.MessageBody ?? '') as Record<string, unknown>);
  }

  function logLines(): Record<string, unknown>[] {
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  function expectNoPersonalData(): void {
    for (const line of lines) for (const value of PERSONAL) expect(line).not.toContain(value);
  }

  const notFound = () => new UserNotFoundException({ message: 'User does not exist.', $metadata: {} });

  it.each(ONE_PER_EVENT_NAME)(
    're-reads the user of a %s event and queues one upsert of the state the pool holds',
    async (eventName, fixture) => {
      poolAnswers(poolUser());
      const result = await handler(loadCloudTrailEvent(fixture), fakeContext());
      expect(result).toEqual({ outcome: 'queued_upsert', sub: FIXTURE_SUB });
      expect(listCalls()).toEqual([{ UserPoolId: FIXTURE_POOL_ID, Filter: `sub = "${FIXTURE_SUB}"` }]);
      const sent = sqs.commandCalls(SendMessageCommand);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
      expect(sentBodies()).toEqual([
        {
          version: 2,
          kind: 'upsert',
          sub: FIXTURE_SUB,
          readAt: new Date(STARTED).toISOString(),
          source: eventName,
          user: {
            email: EMAIL,
            name: NAME,
            preferred_username: HANDLE,
            enabled: true,
            status: 'CONFIRMED',
            lastModified: LAST_MODIFIED.toISOString(),
          },
        },
      ]);
    },
  );

  it.each(ONE_PER_EVENT_NAME)(
    'queues one erase when the user of a %s event is no longer in the pool',
    async (eventName, fixture) => {
      poolAnswers(undefined);
      const result = await handler(loadCloudTrailEvent(fixture));
      expect(result).toEqual({ outcome: 'queued_erase', sub: FIXTURE_SUB });
      expect(sentBodies()).toEqual([
        { version: 2, kind: 'erase', sub: FIXTURE_SUB, readAt: new Date(STARTED).toISOString(), source: eventName },
      ]);
    },
  );

  it('queues an erase for an update event whose user was deleted before the event arrived', async () => {
    poolAnswers(undefined);
    await expect(handler(loadCloudTrailEvent('admin-update-user-attributes'))).resolves.toMatchObject({
      outcome: 'queued_erase',
    });
    expect(sentBodies()).toMatchObject([{ kind: 'erase', sub: FIXTURE_SUB, source: 'AdminUpdateUserAttributes' }]);
  });

  it('queues messages the writer parses back into the same user', async () => {
    poolAnswers(poolUser({ Enabled: false, UserStatus: 'FORCE_CHANGE_PASSWORD' }));
    await handler(loadCloudTrailEvent('admin-disable-user'));
    const change = parseSyncMessage(sentBodies()[0] ?? {});
    expect(change).toEqual({
      kind: 'upsert',
      readAt: new Date(STARTED),
      source: 'AdminDisableUser',
      user: {
        cognitoUserId: FIXTURE_SUB,
        email: EMAIL,
        displayName: NAME,
        handle: HANDLE,
        enabled: false,
        status: 'FORCE_CHANGE_PASSWORD',
        lastModified: LAST_MODIFIED.toISOString(),
      },
    });
  });

  it('takes the values from the pool, never from the event', async () => {
    poolAnswers(poolUser({}, { email: 'new@example.com' }));
    await handler(loadCloudTrailEvent('verify-user-attribute'));
    expect(sentBodies()[0]).toMatchObject({ user: { email: 'new@example.com' } });
  });

  it('finds a federated user, whose user name is not the sub, and queues their state instead of an erase', async () => {
    // Google_… is the user name Cognito gives a user who signed in with Google; AdminGetUser(Username=sub) says
    // UserNotFoundException for them (as the mock does), though they are in the pool.
    poolAnswers(
      poolUser({ Username: 'Google_123456789012345678901', UserStatus: 'EXTERNAL_PROVIDER', Enabled: false }),
    );
    await expect(handler(loadCloudTrailEvent('admin-disable-user'))).resolves.toEqual({
      outcome: 'queued_upsert',
      sub: FIXTURE_SUB,
    });
    expect(sentBodies()).toMatchObject([
      { kind: 'upsert', sub: FIXTURE_SUB, user: { enabled: false, status: 'EXTERNAL_PROVIDER' } },
    ]);
  });

  it('finds a user of a pool with chosen user names by sub, and never logs the name', async () => {
    poolAnswers(poolUser({ Username: 'jane.doe' }));
    await expect(handler(loadCloudTrailEvent('admin-update-user-attributes'))).resolves.toMatchObject({
      outcome: 'queued_upsert',
    });
    expectNoPersonalData();
  });

  it.each([
    ['admin-update-user-attributes-failed', 'ignored_failed_call'],
    ['admin-disable-user-other-pool', 'ignored_other_pool'],
    ['admin-enable-user-hidden-username-no-sub', 'ignored_no_sub'],
    ['update-user-attributes-forged-sub', 'ignored_no_sub'],
    ['admin-update-user-attributes-username-not-a-sub', 'ignored_no_sub'],
    ['initiate-auth', 'ignored_not_user_event'],
  ])('ignores %s without calling Cognito or SQS', async (fixture, outcome) => {
    poolAnswers(poolUser());
    await expect(handler(loadCloudTrailEvent(fixture))).resolves.toEqual({ outcome });
    expect(cognito.calls()).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(logLines()).toEqual([expect.objectContaining({ outcome }) as unknown]);
  });

  it.each([
    ['admin-disable-user-sub-only-in-username', 'requestParameters.username'],
    ['admin-create-user-sub-only-in-response', 'responseElements.user.attributes.sub'],
  ])('syncs %s from the sub found in %s', async (fixture, subSource) => {
    poolAnswers(poolUser());
    await expect(handler(loadCloudTrailEvent(fixture))).resolves.toEqual({
      outcome: 'queued_upsert',
      sub: FIXTURE_SUB,
    });
    expect(logLines()[0]).toMatchObject({ subSource });
  });

  it.each([
    ['a NUL in the name', { name: 'Jane\u0000Doe' }, 'user.Attributes.name'],
    ['a lone surrogate in the email', { email: 'jane\uD800@example.com' }, 'user.Attributes.email'],
  ])('logs a user with %s by sub and field, sends nothing and does not throw', async (_name, attributes, field) => {
    poolAnswers(poolUser({}, attributes));
    await expect(handler(loadCloudTrailEvent('admin-update-user-attributes'))).resolves.toEqual({
      outcome: 'ignored_invalid_user',
      sub: FIXTURE_SUB,
    });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(logLines()).toEqual([
      expect.objectContaining({ level: 'WARN', sub: FIXTURE_SUB, field, outcome: 'ignored_invalid_user' }) as unknown,
    ]);
    expect(lines.join('\n')).not.toContain('Jane');
  });

  it.each([
    [
      'Cognito throttles',
      () => poolAnswers(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} })),
      'TooManyRequestsException',
    ],
    [
      'Cognito denies access',
      () =>
        poolAnswers(
          Object.assign(new Error(`User: arn:aws:sts::123456789012:assumed-role/x is not authorized for ${EMAIL}`), {
            name: 'AccessDeniedException',
          }),
        ),
      'AccessDeniedException',
    ],
    [
      'SQS refuses the message',
      () => {
        poolAnswers(poolUser());
        sqs
          .on(SendMessageCommand)
          .rejects(Object.assign(new Error(`KMS key disabled for ${NAME}`), { name: 'KmsDisabled' }));
      },
      'KmsDisabled',
    ],
  ])(
    'throws when %s, so that Lambda retries, naming the error but quoting no message',
    async (_name, arrange, errorName) => {
      arrange();
      const error = await handler(loadCloudTrailEvent('admin-update-user-attributes')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserEventNotSyncedError);
      expect((error as Error).message).toBe(`AdminUpdateUserAttributes event not synced: ${errorName}`);
      expect(logLines()).toEqual([
        expect.objectContaining({ level: 'ERROR', sub: FIXTURE_SUB, outcome: 'retry', errorName }) as unknown,
      ]);
      expectNoPersonalData();
    },
  );

  it('sends nothing when Cognito throttles', async () => {
    poolAnswers(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(handler(loadCloudTrailEvent('delete-user'))).rejects.toBeInstanceOf(UserEventNotSyncedError);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('writes one log line an event, with its identifiers and duration and no personal data', async () => {
    poolAnswers(poolUser());
    await handler(loadCloudTrailEvent('admin-update-user-attributes'), fakeContext());
    const event = loadCloudTrailEvent('admin-update-user-attributes');
    expect(logLines()).toEqual([
      {
        level: 'INFO',
        message: 'user event',
        timestamp: expect.any(String) as unknown,
        service: 'user-events',
        requestId: fakeContext().awsRequestId,
        eventName: 'AdminUpdateUserAttributes',
        eventID: event.detail.eventID,
        sub: FIXTURE_SUB,
        outcome: 'queued_upsert',
        subSource: 'additionalEventData.sub',
        durationMs: ANSWERED - STARTED,
      },
    ]);
    expectNoPersonalData();
  });

  it('never writes the forged sub of an event into a log line', async () => {
    await handler(loadCloudTrailEvent('update-user-attributes-forged-sub'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('forged');
    expect(lines[0]).not.toContain(FIXTURE_SUB);
    expect(logLines()[0]).toMatchObject({
      level: 'WARN',
      outcome: 'ignored_no_sub',
      eventName: 'UpdateUserAttributes',
    });
  });

  it('never writes a user name that is not a sub into a log line', async () => {
    await handler(loadCloudTrailEvent('admin-update-user-attributes-username-not-a-sub'));
    expectNoPersonalData();
  });

  it('makes its own Cognito client once and reuses it for every event', async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    try {
      poolAnswers(poolUser());
      const own = createHandler(SETTINGS, {
        logger: createLogger({}, () => undefined),
        queue: sqsSyncQueue({ queueUrl: QUEUE_URL, createClient: (sdk) => new sdk.SQSClient(CLIENT_CONFIG) }),
      });
      for (let i = 0; i < 3; i += 1) await own(loadCloudTrailEvent('admin-enable-user'));
      const clients = new Set(cognito.commandCalls(ListUsersCommand).map((call) => call.thisValue as unknown));
      expect(clients.size).toBe(1);
      const [client] = [...clients];
      expect(client).toBeInstanceOf(CognitoIdentityProviderClient);
      expect(await (client as CognitoIdentityProviderClient).config.maxAttempts()).toBe(3);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(3);
    } finally {
      vi.unstubAllEnvs();
    }
  });
  describe('group events', () => {
    /** The user's groups, over pages of `pageSize`, for the user name the lookup by sub answered with. */
    function groupsAnswer(userName: string, groups: string[], pageSize = 60): void {
      cognito.on(AdminListGroupsForUserCommand).callsFake((input: { Username?: string; NextToken?: string }) => {
        if (input.Username !== userName) throw notFound();
        const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
        const end = start + pageSize;
        return {
          Groups: groups.slice(start, end).map((GroupName) => ({ GroupName })),
          ...(end < groups.length ? { NextToken: String(end) } : {}),
        };
      });
    }

    it.each(fixtureOf(MEMBERSHIP_EVENT_NAMES))(
      're-reads the user of a %s event and every group they are in, by the user name the pool answered with',
      async (eventName, fixture) => {
        // A federated user: the user name is not the sub, so the lookup by sub gives the name to list by.
        poolAnswers(poolUser({ Username: 'Google_109876543210987654321' }));
        groupsAnswer('Google_109876543210987654321', ['editors', 'admins', 'g3'], 2);
        const result = await handler(loadCloudTrailEvent(fixture), fakeContext());
        expect(result).toEqual({ outcome: 'queued_groups', sub: FIXTURE_SUB });
        expect(cognito.commandCalls(AdminListGroupsForUserCommand).map((call) => call.args[0].input)).toEqual([
          { UserPoolId: FIXTURE_POOL_ID, Username: 'Google_109876543210987654321', Limit: 60 },
          { UserPoolId: FIXTURE_POOL_ID, Username: 'Google_109876543210987654321', Limit: 60, NextToken: '2' },
        ]);
        expect(sentBodies()).toEqual([
          {
            version: 2,
            kind: 'groups',
            sub: FIXTURE_SUB,
            readAt: new Date(STARTED).toISOString(),
            source: eventName,
            user: {
              email: EMAIL,
              name: NAME,
              preferred_username: HANDLE,
              enabled: true,
              status: 'CONFIRMED',
              lastModified: LAST_MODIFIED.toISOString(),
            },
            groups: ['admins', 'editors', 'g3'],
          },
        ]);
        expect(parseSyncMessage(sentBodies()[0] ?? {})).toMatchObject({
          kind: 'groups',
          groups: ['admins', 'editors', 'g3'],
        });
        expectNoPersonalData();
      },
    );

    it('queues an erase for a membership event whose user is gone', async () => {
      poolAnswers(undefined);
      expect(await handler(loadCloudTrailEvent('admin-remove-user-from-group'))).toEqual({
        outcome: 'queued_erase',
        sub: FIXTURE_SUB,
      });
      expect(cognito.commandCalls(AdminListGroupsForUserCommand)).toHaveLength(0);
    });

    it('fails for a retry when the group list cannot be read, queueing nothing', async () => {
      poolAnswers(poolUser());
      cognito
        .on(AdminListGroupsForUserCommand)
        .rejects(new TooManyRequestsException({ message: 'slow down', $metadata: {} }));
      await expect(handler(loadCloudTrailEvent('admin-add-user-to-group'))).rejects.toBeInstanceOf(
        UserEventNotSyncedError,
      );
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('queues a delete-group once the pool says the group is gone, stamped before it asked', async () => {
      cognito.on(GetGroupCommand).callsFake(() => {
        now = ANSWERED;
        throw new ResourceNotFoundException({ message: 'Group not found.', $metadata: {} });
      });
      expect(await handler(loadCloudTrailEvent('delete-group'))).toEqual({
        outcome: 'queued_delete_group',
        group: 'admins',
      });
      expect(cognito.commandCalls(GetGroupCommand).map((call) => call.args[0].input)).toEqual([
        { UserPoolId: FIXTURE_POOL_ID, GroupName: 'admins' },
      ]);
      expect(sentBodies()).toEqual([
        {
          version: 2,
          kind: 'delete-group',
          group: 'admins',
          readAt: new Date(STARTED).toISOString(),
          source: 'DeleteGroup',
        },
      ]);
      expect(logLines()).toEqual([
        expect.objectContaining({ eventName: 'DeleteGroup', group: 'admins', outcome: 'queued_delete_group' }),
      ]);
    });

    it('queues nothing for a DeleteGroup whose group the pool has again', async () => {
      cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'admins' } });
      expect(await handler(loadCloudTrailEvent('delete-group'))).toEqual({
        outcome: 'ignored_group_exists',
        group: 'admins',
      });
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('fails for a retry when GetGroup fails for another reason', async () => {
      cognito.on(GetGroupCommand).rejects(new TooManyRequestsException({ message: 'slow down', $metadata: {} }));
      await expect(handler(loadCloudTrailEvent('delete-group'))).rejects.toBeInstanceOf(UserEventNotSyncedError);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });
  });
});
