// A person's data as one JSON document (GDPR art. 15 and 20): the use case behind `npm run users -- export` and
// the deployed export function. The document is built by the database (export.user_data); this checks the sub,
// asks the store, and logs the sub and the outcome only: never a byte of the document.
import { isSub } from '../cognito/sub';
import type { Logger } from '../runtime/logger';
import { ReportableError } from '../runtime/errors';

/** The one thing the export reads: export.user_data(sub), NULL (null here) when the database knows nothing of the sub. */
export interface ExportStore {
  userData(sub: string): Promise<UserDataDocument | null>;
}

/** export.user_data's document (sql/functions/export/user_data.sql describes every key). */
export interface UserDataDocument {
  readonly format: string;
  readonly sub: string;
  readonly exported_at: string;
  readonly user: Record<string, unknown> | null;
  readonly groups: readonly Record<string, unknown>[];
  readonly activities: readonly Record<string, unknown>[];
  readonly erasure: Record<string, unknown> | null;
}

export type ExportResult =
  | { readonly outcome: 'exported'; readonly sub: string; readonly document: UserDataDocument }
  | { readonly outcome: 'not_found'; readonly sub: string };

/**
 * A synchronous Lambda response holds at most 6 MB (Lambda quotas, "Invocation payload (request and response)");
 * the function refuses a larger document with this error rather than fail in Lambda's own words. The limit is
 * kept a little under, for the JSON around the document.
 */
export const MAX_DOCUMENT_BYTES = 6_000_000 - 4_096;

/** The sub is not one a user can have; `reason` says what is wrong and never quotes it. */
export class InvalidSubError extends ReportableError {
  override readonly name = 'InvalidSubError';
  constructor(reason: string) {
    super(`Invalid export input: sub ${reason}`);
  }
}

/** The document is larger than a function's response may be; the sub is an id, not personal data. */
export class ExportTooLargeError extends ReportableError {
  override readonly name = 'ExportTooLargeError';
  constructor(
    readonly sub: string,
    readonly bytes: number,
  ) {
    super(
      `the export of ${sub} is ${bytes} bytes, more than a function response may hold (${MAX_DOCUMENT_BYTES}); run it against the database directly (npm run db -- tunnel, then CONNECTION_URL)`,
    );
  }
}

export function checkSub(sub: unknown): string {
  if (typeof sub !== 'string') throw new InvalidSubError('must be a string');
  if (!isSub(sub))
    throw new InvalidSubError('must be 1-128 characters of A-Z a-z 0-9 . _ : - (a Cognito sub is a UUID)');
  return sub;
}

export interface ExportDeps {
  readonly store: ExportStore;
  readonly logger: Logger;
  /** Refuse a document larger than this many bytes of JSON. @default no limit */
  readonly maxBytes?: number;
}

export async function exportUserData(sub: unknown, deps: ExportDeps): Promise<ExportResult> {
  const checked = checkSub(sub);
  const document = await deps.store.userData(checked);
  if (document === null) {
    deps.logger.info('user data export', { sub: checked, outcome: 'not_found' });
    return { outcome: 'not_found', sub: checked };
  }
  if (deps.maxBytes !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(document), 'utf8');
    if (bytes > deps.maxBytes) {
      deps.logger.warn('user data export', { sub: checked, outcome: 'too_large', bytes });
      throw new ExportTooLargeError(checked, bytes);
    }
  }
  deps.logger.info('user data export', { sub: checked, outcome: 'exported' });
  return { outcome: 'exported', sub: checked, document };
}
