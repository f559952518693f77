// PreSignUp outside the VPC (`-c linkFederatedByEmail=true`): linking a first federated sign-in to the confirmed
// local user with the same verified email, and the handle check through the in-VPC function. Cognito and Lambda
// are mocked (aws-sdk-client-mock); the handlers are the real ones.
import {
  AdminLinkProviderForUserCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
  type UserStatusType,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HandleRefusedError } from '../../../lambdas/cognito/errors';
import { createHandler, type PreSignUpHandler } from '../../../lambdas/pre-sign-up/handler';
import { federatedIdentityOf, linkFederatedUser } from '../../../lambdas/pre-sign-up/linking';
import { createLogger } from '../../../lambdas/runtime/logger';
import { settingsFromEnv } from '../../../lambdas/pre-sign-up/settings';
import { ConfigurationError } from '../../../lambdas/runtime/errors';
import { fakeContext, loadEvent, type CognitoEvent } from '../../support/lambda';
import { captureLogLines } from '../../support/output';

const EMAIL = 'grace.federated@example.com';
const LOCAL_SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';

let cognito: AwsClientStub<CognitoIdentityProviderClient>;
let lambda: AwsClientStub<LambdaClient>;
let logLines: string[];
let handler: PreSignUpHandler;

function localUser(
  overrides: { status?: string; emailVerified?: string; email?: string; sub?: string } = {},
): UserType {
  const sub = overrides.sub ?? LOCAL_SUB;
  return {
    Username: sub,
    UserStatus: (overrides.status ?? 'CONFIRMED') as UserStatusType,
    Enabled: true,
    Attributes: [
      { Name: 'sub', Value: sub },
      { Name: 'email', Value: overrides.email ?? EMAIL },
      { Name: 'email_verified', Value: overrides.emailVerified ?? 'true' },
    ],
  };
}

function external(attributes: Record<string, unknown> = {}): CognitoEvent {
  const event = loadEvent('pre-sign-up-external-provider');
  event.request.userAttributes = { ...event.request.userAttributes, ...attributes };
  return event;
}

function entries(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeEach(() => {
  cognito = mockClient(CognitoIdentityProviderClient);
  lambda = mockClient(LambdaClient);
  logLines = captureLogLines();
  handler = createHandler({ handleCheckFunctionName: 'Cruddur-dev-Auth-HandleCheck', linkFederatedByEmail: true });
});

afterEach(() => {
  // Never the email, the name or the provider's user id: only the provider, the outcome and a local sub.
  for (const line of logLines) expect(line).not.toMatch(/@example\.com|Grace|112233445566778899001|grace/i);
  cognito.restore();
  lambda.restore();
});

describe('linking a first federated sign-in (linkFederatedByEmail)', () => {
  it('links it to the confirmed local user with the same verified email, and returns the event unchanged', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [localUser()] });
    cognito.on(AdminLinkProviderForUserCommand).resolves({});
    const event = external();
    const before = structuredClone(event);
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(event).toEqual(before);
    expect(cognito.commandCalls(ListUsersCommand)[0]!.args[0].input).toEqual({
      UserPoolId: 'us-east-1_EXAMPLE1',
      Filter: `email = "${EMAIL}"`,
      Limit: 10,
    });
    expect(cognito.commandCalls(AdminLinkProviderForUserCommand).map((call) => call.args[0].input)).toEqual([
      {
        UserPoolId: 'us-east-1_EXAMPLE1',
        DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: LOCAL_SUB },
        SourceUser: {
          ProviderName: 'Google',
          ProviderAttributeName: 'Cognito_Subject',
          ProviderAttributeValue: '112233445566778899001',
        },
      },
    ]);
    expect(entries()).toContainEqual(
      expect.objectContaining({ provider: 'Google', sub: LOCAL_SUB, outcome: 'linked' }),
    );
    // Neither a handle check nor anything else: a federated sign-in is never refused.
    expect(lambda.calls()).toHaveLength(0);
  });

  it('matches the local user’s email ignoring case, and leaves federated users with that email alone', async () => {
    cognito.on(ListUsersCommand).resolves({
      Users: [
        { ...localUser({ sub: 'fed-1' }), Username: 'Facebook_99', UserStatus: 'EXTERNAL_PROVIDER' },
        localUser({ email: EMAIL.toUpperCase() }),
      ],
    });
    cognito.on(AdminLinkProviderForUserCommand).resolves({});
    await handler(external(), fakeContext());
    expect(
      cognito.commandCalls(AdminLinkProviderForUserCommand)[0]!.args[0].input.DestinationUser?.ProviderAttributeValue,
    ).toBe(LOCAL_SUB);
  });

  it.each([
    ['the provider did not verify the email', { email_verified: 'false' }, [localUser()], 'federated_email_unverified'],
    [
      'the provider sent no email_verified (Facebook, Amazon, SAML)',
      { email_verified: undefined },
      [localUser()],
      'federated_email_unverified',
    ],
    ['the local user’s email is unverified', {}, [localUser({ emailVerified: 'false' })], 'local_email_unverified'],
    [
      'the local user never confirmed their sign-up',
      {},
      [localUser({ status: 'UNCONFIRMED' })],
      'local_user_unconfirmed',
    ],
    ['nobody has the email', {}, [], 'no_local_user'],
    ['two confirmed local users have it verified', {}, [localUser(), localUser({ sub: 'other-sub' })], 'ambiguous'],
    ['the email cannot go in a filter', { email: 'a"b@example.com' }, [localUser()], 'not_linkable'],
  ])('does not link when %s, and lets the sign-in through', async (_name, attributes, users, outcome) => {
    cognito.on(ListUsersCommand).resolves({ Users: users });
    cognito.on(AdminLinkProviderForUserCommand).resolves({});
    const event = external(attributes);
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(cognito.commandCalls(AdminLinkProviderForUserCommand)).toHaveLength(0);
    expect(entries()).toContainEqual(expect.objectContaining({ provider: 'Google', outcome }));
  });

  it('lets the sign-in through unlinked when Cognito fails, naming the error but not the person', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [localUser()] });
    cognito
      .on(AdminLinkProviderForUserCommand)
      .rejects(Object.assign(new Error(`AccessDenied for ${EMAIL}`), { name: 'AccessDeniedException' }));
    const event = external();
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(entries()).toContainEqual(
      expect.objectContaining({ level: 'ERROR', outcome: 'failed', errorName: 'AccessDeniedException' }),
    );
  });

  it('gives up at its deadline when Cognito does not answer, and lets the sign-in through', async () => {
    // The port is handed the abort signal; this one waits for it, as the SDK does when a request hangs.
    const hanging = (signal: AbortSignal) =>
      new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    const linker = {
      usersWithEmail: (_pool: string, _email: string, signal: AbortSignal) => hanging(signal),
      link: () => Promise.resolve(),
    };
    const started = Date.now();
    const outcome = await linkFederatedUser(external(), {
      linker,
      logger: createLogger({ service: 'test' }),
      deadline: started + 200,
    });
    expect(outcome).toBe('failed');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'failed', errorName: 'TimeoutError' }));
  });
});

describe('linking off (no linkFederatedByEmail)', () => {
  it('never asks Cognito: the federated sign-in becomes a user of its own', async () => {
    const inVpc = createHandler({ database: { connectionUrl: 'postgres://u:p@127.0.0.1:9/cruddur' } });
    const event = external();
    await expect(inVpc(event, fakeContext())).resolves.toBe(event);
    expect(cognito.calls()).toHaveLength(0);
    expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'skipped' }));
    await inVpc.close();
  });
});

describe('the handle check outside the VPC', () => {
  function signUp(handle: string): CognitoEvent {
    const event = external({ preferred_username: handle });
    event.triggerSource = 'PreSignUp_SignUp';
    event.userName = LOCAL_SUB;
    return event;
  }
  // The SDK types Payload as its blob adapter; the handler reads the bytes alone.
  const payload = (text: string) => new TextEncoder().encode(text) as never;
  const answer = (body: unknown) => ({ StatusCode: 200, Payload: payload(JSON.stringify(body)) });

  it('asks the handle-check function and refuses a taken handle', async () => {
    lambda.on(InvokeCommand).resolves(answer({ taken: true }));
    await expect(handler(signUp('grace'), fakeContext())).rejects.toBeInstanceOf(HandleRefusedError);
    expect(lambda.commandCalls(InvokeCommand)[0]!.args[0].input).toMatchObject({
      FunctionName: 'Cruddur-dev-Auth-HandleCheck',
    });
    expect(JSON.parse(lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as string)).toEqual({
      handle: 'grace',
    });
    expect(cognito.calls()).toHaveLength(0);
  });

  it('allows a free handle', async () => {
    lambda.on(InvokeCommand).resolves(answer({ taken: false }));
    const event = signUp('grace');
    await expect(handler(event, fakeContext())).resolves.toBe(event);
  });

  it.each([
    ['the function failed', { StatusCode: 200, FunctionError: 'Unhandled', Payload: payload('{}') }],
    ['it answered without "taken"', answer({ free: true })],
  ])('lets the sign-up through unchecked when %s', async (_name, response) => {
    lambda.on(InvokeCommand).resolves(response);
    const event = signUp('grace');
    await expect(handler(event, fakeContext())).resolves.toBe(event);
    expect(entries()).toContainEqual(expect.objectContaining({ outcome: 'allowed_unchecked' }));
  });
});

describe('federatedIdentityOf', () => {
  it('splits a federated user name at the first underscore: provider names have none', () => {
    expect(federatedIdentityOf('Google_1122')).toEqual({ providerName: 'Google', providerUserId: '1122' });
    expect(federatedIdentityOf('Corp-AD_jane_doe@corp')).toEqual({
      providerName: 'Corp-AD',
      providerUserId: 'jane_doe@corp',
    });
    expect(federatedIdentityOf('5f0c9a3e-8d1b')).toBeUndefined();
    expect(federatedIdentityOf(42)).toBeUndefined();
  });
});

describe('settingsFromEnv with linking', () => {
  it('reads the outside-the-VPC shape', () => {
    expect(settingsFromEnv({ HANDLE_CHECK_FUNCTION_NAME: 'HandleCheck', LINK_FEDERATED_BY_EMAIL: 'true' })).toEqual({
      handleCheckFunctionName: 'HandleCheck',
      linkFederatedByEmail: true,
    });
  });

  it.each([
    [{ LINK_FEDERATED_BY_EMAIL: 'true', CONNECTION_URL: 'postgres://u@h/d' }, 'HANDLE_CHECK_FUNCTION_NAME'],
    [{ HANDLE_CHECK_FUNCTION_NAME: 'HandleCheck' }, 'LINK_FEDERATED_BY_EMAIL'],
    [{ LINK_FEDERATED_BY_EMAIL: 'yes', CONNECTION_URL: 'postgres://u@h/d' }, 'LINK_FEDERATED_BY_EMAIL'],
  ])('refuses %j naming %s', (env, variable) => {
    let error: unknown;
    try {
      settingsFromEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variable });
  });
});
