// Typed errors. Messages name what is wrong but never carry a user's values.
import { errorCode } from '../postgres/error-codes';

/** The event is not a well-formed Cognito event; `field` is the path of the offending field. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid Cognito event: ${field} ${reason}`);
  }
}

/** The event is well-formed but its triggerSource is not one this function serves. */
export class UnsupportedTriggerError extends Error {
  override readonly name = 'UnsupportedTriggerError';
  constructor(readonly triggerSource: string) {
    super(`Unsupported triggerSource: ${JSON.stringify(triggerSource.slice(0, 80))}`);
  }
}

/** Configuration read on cold start is missing or malformed; `variable` names it. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Configuration error: ${variable} ${reason}`);
  }
}

/** The database could not be reached, or did not answer, within the time budget. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A sign-up refused because of its requested handle. The message is what the person signing up sees
 * (Cognito shows it as "PreSignUp failed with error <message>."), so it says what to change, never the value.
 */
export class HandleRefusedError extends Error {
  override readonly name = 'HandleRefusedError';
  constructor(
    readonly reason: 'invalid' | 'taken',
    message: string,
  ) {
    super(message);
  }
}

const TYPED_ERRORS = [InvalidEventError, UnsupportedTriggerError, ConfigurationError, DatabaseUnavailableError, HandleRefusedError];

/** Narrows an unknown thrown value to the few facts that are safe to log: never its message for foreign errors. */
export function describeError(error: unknown): { errorName: string; errorCode?: string; errorMessage?: string } {
  if (TYPED_ERRORS.some((type) => error instanceof type)) {
    const typed = error as Error & { code?: string };
    return { errorName: typed.name, errorMessage: typed.message, ...(typed.code ? { errorCode: typed.code } : {}) };
  }
  if (error instanceof Error) {
    // pg errors carry a SQLSTATE in `code`; system errors an errno name. Their messages may quote values.
    const code = errorCode(error);
    return { errorName: error.name, ...(code !== undefined ? { errorCode: code } : {}) };
  }
  return { errorName: typeof error };
}

/**
 * What goes back to Cognito (and from there to the signing-up client): our typed errors as they are, since
 * their messages name fields, never values; anything else as a generic error that points at the log line.
 */
export function toCallerError(error: unknown, requestId: string | undefined): Error {
  if (TYPED_ERRORS.some((type) => error instanceof type)) return error as Error;
  return new Error(`Internal error while saving the user (request ${requestId ?? 'unknown'})`);
}
