import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../../lambdas/runtime/errors';
import { parseSignUpMessage, signUpMessageFor, type SignUpMessage } from '../../../lambdas/sync/sign-up-message';
import { userFromAttributes } from '../../../lambdas/users/user';
import { loadEvent } from '../../support/lambda';

const TRIGGER = 'PostConfirmation_ConfirmSignUp';

function messageFromFixture(): SignUpMessage {
  const event = loadEvent('confirm-sign-up');
  return signUpMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes));
}

describe('signUpMessageFor', () => {
  it('keeps only what a replay needs from the event', () => {
    const event = { ...loadEvent('confirm-sign-up'), callerContext: { clientId: 'abc' } };
    event.request.clientMetadata = { secret: 'not for the queue' };
    expect(signUpMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes))).toEqual({
      version: 1,
      triggerSource: TRIGGER,
      userPoolId: 'us-east-1_EXAMPLE1',
      userName: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
      userAttributes: {
        sub: '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21',
        email: 'jane.doe@example.com',
        name: 'Jane Doe',
        preferred_username: 'janedoe',
      },
    });
  });

  it('leaves out absent attributes and a malformed pool id or user name', () => {
    const event = { ...loadEvent('minimal-attributes'), userPoolId: 'not a pool id', userName: 'x'.repeat(129) };
    expect(signUpMessageFor(TRIGGER, event, userFromAttributes(event.request.userAttributes))).toEqual({
      version: 1,
      triggerSource: TRIGGER,
      userAttributes: { sub: 'c7e1a2b3-4d5e-4f60-8a9b-0c1d2e3f4a5b' },
    });
  });
});

describe('parseSignUpMessage', () => {
  it('reads back the user a message was made from', () => {
    const message = messageFromFixture();
    expect(parseSignUpMessage(JSON.stringify(message), TRIGGER)).toEqual(
      userFromAttributes(loadEvent('confirm-sign-up').request.userAttributes),
    );
  });

  const good = messageFromFixture();
  it.each([
    { name: 'a missing body', body: undefined, field: 'body' },
    { name: 'a body that is not JSON', body: '{"version":1,', field: 'body' },
    { name: 'a JSON array', body: '[]', field: 'body' },
    { name: 'JSON null', body: 'null', field: 'body' },
    { name: 'another version', body: JSON.stringify({ ...good, version: 2 }), field: 'body.version' },
    {
      name: 'another trigger source',
      body: JSON.stringify({ ...good, triggerSource: 'PostConfirmation_ConfirmForgotPassword' }),
      field: 'body.triggerSource',
    },
    {
      name: 'no attributes',
      body: JSON.stringify({ ...good, userAttributes: undefined }),
      field: 'body.userAttributes',
    },
    {
      name: 'a forged sub',
      body: JSON.stringify({ ...good, userAttributes: { sub: 'a\nb' } }),
      field: 'body.userAttributes.sub',
    },
    {
      name: 'a numeric email',
      body: JSON.stringify({ ...good, userAttributes: { ...good.userAttributes, email: 1 } }),
      field: 'body.userAttributes.email',
    },
  ])('refuses $name with an InvalidEventError naming $field', ({ body, field }) => {
    const error = (() => {
      try {
        parseSignUpMessage(body, TRIGGER);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({ field });
  });
});
