// The database's typed error: what a function does when PostgreSQL cannot take a write.
import { ReportableError } from '../runtime/errors';
import type { Classification, ErrorClass, FailureClass } from './error-codes';

/**
 * The database could not be reached, or did not answer, within the time budget, or refused us for a reason
 * no retry fixes (`failureClass: 'permanent'`: an untrusted certificate, a refused login, a missing grant).
 * Either way the write can wait in a queue; a permanent one is also an alarm (logLevelFor).
 */
export class DatabaseUnavailableError extends ReportableError {
  override readonly name = 'DatabaseUnavailableError';
  readonly failureClass: FailureClass;
  readonly errorClass: ErrorClass;
  constructor(
    message: string,
    override readonly code?: string,
    classification: Classification = { failureClass: 'transient', errorClass: 'network' },
  ) {
    super(message);
    this.failureClass = classification.failureClass;
    this.errorClass = classification.errorClass;
  }

  /** The metric filter of lib/constructs/alarms.ts reads `failureClass` at the top of the log line. */
  override logFields(): Record<string, string> {
    return { failureClass: this.failureClass, errorClass: this.errorClass };
  }
}

/**
 * The level a failure is logged at where the write was saved anyway (queued): WARN for a passing outage,
 * ERROR for a permanent misconfiguration, which someone must fix before the queue's retries run out.
 */
export function logLevelFor(error: unknown): 'warn' | 'error' {
  return error instanceof DatabaseUnavailableError && error.failureClass === 'permanent' ? 'error' : 'warn';
}
