// The errors of Cognito's triggers: what a trigger answers when the event is not one it serves, or when it
// refuses the sign-up. Cognito shows their messages to the person signing up, so they never carry a value.
import { ReportableError } from '../runtime/errors';

const COGNITO_IDENTIFIER = /^[A-Za-z]{1,40}_[A-Za-z]{1,40}$/;

/** The event is well-formed but its triggerSource is not one this function serves. */
export class UnsupportedTriggerError extends ReportableError {
  override readonly name = 'UnsupportedTriggerError';
  constructor(readonly triggerSource: string) {
    // Cognito's trigger sources are identifiers (PreSignUp_SignUp); anything else is hostile input, not quoted.
    super(
      `Unsupported triggerSource: ${COGNITO_IDENTIFIER.test(triggerSource) ? JSON.stringify(triggerSource) : '(not a Cognito trigger source)'}`,
    );
  }
}

/**
 * A sign-up refused because of its requested handle. The message is what the person signing up sees
 * (Cognito shows it as "PreSignUp failed with error <message>."), so it says what to change, never the value.
 */
export class HandleRefusedError extends ReportableError {
  override readonly name = 'HandleRefusedError';
  constructor(
    readonly reason: 'invalid' | 'taken',
    message: string,
  ) {
    super(message);
  }
}
