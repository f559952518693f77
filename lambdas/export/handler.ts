// Lambda adapter for the export inside the VPC: `{"sub": "<sub>"}` in, the export's result out (the document, or
// `not_found`). Invoked by an operator's `npm run users -- export <sub> --stage <private stage>`, nothing else.
// The document goes back to the invoker only; the log has the sub and the outcome.
import type { Context } from 'aws-lambda';
import { databasePort } from '../postgres/connection';
import { describeError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { isRecord } from '../runtime/records';
import {
  exportUserData,
  ExportTooLargeError,
  InvalidSubError,
  MAX_DOCUMENT_BYTES,
  type ExportResult,
  type ExportStore,
} from './core';
import { postgresExportStore } from './postgres-store';
import type { ExportSettings } from './settings';

/** What goes back to the invoker when the export failed: the error's name and code, never its message. */
export class ExportFailedError extends Error {
  override readonly name = 'ExportFailedError';
  constructor(
    readonly causeName: string,
    readonly code: string | undefined,
    requestId: string | undefined,
  ) {
    super(
      `export failed: ${causeName}${code !== undefined ? ` (${code})` : ''}; see the log of request ${requestId ?? 'unknown'}`,
    );
  }
}

export interface ExportHandlerDeps {
  /** @default JSON lines on stdout for service `export` */
  readonly logger?: Logger;
  /** @default export.user_data over one connection to `settings.database` */
  readonly store?: ExportStore;
}

export interface ExportHandler {
  (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<ExportResult>;
  readonly close: () => Promise<void>;
}

const FIELDS = new Set(['sub']);

export function createHandler(settings: ExportSettings, deps: ExportHandlerDeps = {}): ExportHandler {
  const logger = deps.logger ?? createLogger({ service: 'export' });
  // One statement; the role's own statement_timeout is 10 s.
  const store = databasePort(
    deps.store,
    settings.database,
    {
      applicationName: 'export',
      timeouts: { connectMs: 5000, statementMs: 10_000, queryMs: 12_000 },
      budgetMs: 20_000,
    },
    postgresExportStore,
  );

  const handler = async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<ExportResult> => {
    const log = logger.child({ requestId: context?.awsRequestId });
    try {
      if (!isRecord(event)) throw new InvalidSubError('must be given as {"sub": "<sub>"}');
      const unknown = Object.keys(event).find((key) => !FIELDS.has(key));
      if (unknown !== undefined) throw new InvalidSubError('is the only field the input may have');
      return await exportUserData(event.sub, { store: store.port, logger: log, maxBytes: MAX_DOCUMENT_BYTES });
    } catch (error) {
      const described = describeError(error);
      log.error('user data export failed', described);
      if (error instanceof InvalidSubError || error instanceof ExportTooLargeError) throw error;
      // A pg message may quote a value: only the name and the code go back.
      throw new ExportFailedError(described.errorName, described.errorCode, context?.awsRequestId);
    } finally {
      // Exports are rare and by hand: no connection is kept between them.
      await store.close();
    }
  };
  return Object.assign(handler, { close: store.close });
}
