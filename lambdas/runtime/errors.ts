// Typed errors every function shares, and what of a failure may be logged or returned. Messages name what is
// wrong but never carry a user's values. Errors of one concern live beside it (lambdas/postgres/errors.ts,
// lambdas/cognito/errors.ts) and extend ReportableError, so this file depends on no other folder.

/**
 * An error whose message names what is wrong and never a value: safe to log and to return to a caller as it
 * is. `logFields` adds the facts a subclass knows (a failure class) to its log line.
 */
export class ReportableError extends Error {
  declare readonly code?: string;

  logFields(): Record<string, string> {
    return {};
  }
}

/** An untrusted input (a Cognito event, a queued message) is malformed; `field` is the path of the offending field. */
export class InvalidEventError extends ReportableError {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid Cognito event: ${field} ${reason}`);
  }
}

/** Configuration read on cold start is missing or malformed; `variable` names it. */
export class ConfigurationError extends ReportableError {
  override readonly name = 'ConfigurationError';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Configuration error: ${variable} ${reason}`);
  }
}

/** The `code` a pg, system or SDK error carries, when it is a string. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The facts about a failure that are safe to log. */
export type ErrorFields = {
  errorName: string;
  errorCode?: string;
  errorMessage?: string;
  /** The constraint a refused write broke (pg's `constraint`), when there is one. */
  constraint?: string;
  /** Only for a database failure: the metric filter alarms on `$.failureClass = "permanent"`. */
  failureClass?: string;
  errorClass?: string;
};

/** Narrows an unknown thrown value to the few facts that are safe to log: never its message for foreign errors. */
export function describeError(error: unknown): ErrorFields {
  if (error instanceof ReportableError) {
    return {
      errorName: error.name,
      errorMessage: error.message,
      ...(error.code ? { errorCode: error.code } : {}),
      ...error.logFields(),
    };
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
 * What goes back to Cognito (and from there to the signing-up client): our typed errors as they are, since
 * their messages name fields, never values; anything else as a generic error that points at the log line.
 */
export function toCallerError(error: unknown, requestId: string | undefined): Error {
  if (error instanceof ReportableError) return error;
  return new Error(`Internal error while saving the user (request ${requestId ?? 'unknown'})`);
}
