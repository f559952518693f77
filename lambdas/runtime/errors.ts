// Typed errors. Messages name what is wrong but never carry a user's values.
import { errorCode, type Classification, type ErrorClass, type FailureClass } from '../postgres/error-codes';

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

const COGNITO_IDENTIFIER = /^[A-Za-z]{1,40}_[A-Za-z]{1,40}$/;

/** The event is well-formed but its triggerSource is not one this function serves. */
export class UnsupportedTriggerError extends Error {
  override readonly name = 'UnsupportedTriggerError';
  constructor(readonly triggerSource: string) {
    // Cognito's trigger sources are identifiers (PreSignUp_SignUp); anything else is hostile input, not quoted.
    super(
      `Unsupported triggerSource: ${COGNITO_IDENTIFIER.test(triggerSource) ? JSON.stringify(triggerSource) : '(not a Cognito trigger source)'}`,
    );
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

/**
 * The database could not be reached, or did not answer, within the time budget, or refused us for a reason
 * no retry fixes (`failureClass: 'permanent'`: an untrusted certificate, a refused login, a missing grant).
 * Either way the write can wait in a queue; a permanent one is also an alarm (logLevelFor).
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  readonly failureClass: FailureClass;
  readonly errorClass: ErrorClass;
  constructor(
    message: string,
    readonly code?: string,
    classification: Classification = { failureClass: 'transient', errorClass: 'network' },
  ) {
    super(message);
    this.failureClass = classification.failureClass;
    this.errorClass = classification.errorClass;
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

const TYPED_ERRORS = [
  InvalidEventError,
  UnsupportedTriggerError,
  ConfigurationError,
  DatabaseUnavailableError,
  HandleRefusedError,
];

/** The facts about a failure that are safe to log. */
export type ErrorFields = {
  errorName: string;
  errorCode?: string;
  errorMessage?: string;
  /** The constraint a refused write broke (pg's `constraint`), when there is one. */
  constraint?: string;
  /** Only for DatabaseUnavailableError: the metric filter alarms on `$.failureClass = "permanent"`. */
  failureClass?: FailureClass;
  errorClass?: ErrorClass;
};

/** Narrows an unknown thrown value to the few facts that are safe to log: never its message for foreign errors. */
export function describeError(error: unknown): ErrorFields {
  if (error instanceof DatabaseUnavailableError) {
    return {
      errorName: error.name,
      errorMessage: error.message,
      ...(error.code ? { errorCode: error.code } : {}),
      failureClass: error.failureClass,
      errorClass: error.errorClass,
    };
  }
  if (TYPED_ERRORS.some((type) => error instanceof type)) {
    const typed = error as Error & { code?: string };
    return { errorName: typed.name, errorMessage: typed.message, ...(typed.code ? { errorCode: typed.code } : {}) };
  }
  if (error instanceof Error) {
    // pg errors carry a SQLSTATE in `code`; system errors an errno name. Their messages may quote values.
    const code = errorCode(error);
    // pg's DatabaseError names the constraint a write broke (never its DETAIL, which quotes the value).
    const constraint = (error as { constraint?: unknown }).constraint;
    return {
      errorName: error.name,
      ...(code !== undefined ? { errorCode: code } : {}),
      ...(typeof constraint === 'string' ? { constraint } : {}),
    };
  }
  return { errorName: typeof error };
}

/**
 * The level a failure is logged at where the write was saved anyway (queued): WARN for a passing outage,
 * ERROR for a permanent misconfiguration, which someone must fix before the queue's retries run out.
 */
export function logLevelFor(error: unknown): 'warn' | 'error' {
  return error instanceof DatabaseUnavailableError && error.failureClass === 'permanent' ? 'error' : 'warn';
}

/**
 * What goes back to Cognito (and from there to the signing-up client): our typed errors as they are, since
 * their messages name fields, never values; anything else as a generic error that points at the log line.
 */
export function toCallerError(error: unknown, requestId: string | undefined): Error {
  if (TYPED_ERRORS.some((type) => error instanceof type)) return error as Error;
  return new Error(`Internal error while saving the user (request ${requestId ?? 'unknown'})`);
}
