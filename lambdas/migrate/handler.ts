// Lambda adapter for the migration function, run on every deploy that changes it (aws-cdk-lib/triggers).
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MigrationRefusedError } from '../postgres/migrate';
import { describeError } from '../runtime/errors';
import { createLogger } from '../runtime/logger';
import { InvalidSecretError, runMigrations, type MigrateDependencies, type MigrateResult } from './core';
import type { MigrateSettings } from './settings';

/** Everything runMigrations takes but the settings, each with its default. */
export type MigrateHandlerDeps = Partial<Omit<MigrateDependencies, 'settings'>>;

export interface MigrateHandler {
  (): Promise<MigrateResult>;
  /** Releases the Secrets Manager client it created, if any. Each run closes its own database connection. */
  readonly close: () => Promise<void>;
}

export function createHandler(settings: MigrateSettings, deps: MigrateHandlerDeps = {}): MigrateHandler {
  const logger = deps.logger ?? createLogger({ service: 'migrate' });
  let created: SecretsManagerClient | undefined;
  const secrets = () => deps.secrets ?? (created ??= new SecretsManagerClient({}));

  /** A failure fails the deployment, which is what a failed migration must do. */
  const handler = async (): Promise<MigrateResult> => {
    try {
      return await runMigrations({ ...deps, secrets: secrets(), settings, logger });
    } catch (error) {
      // These messages name a file or a field, never a value: safe to log whole.
      const safeMessage =
        error instanceof MigrationRefusedError || error instanceof InvalidSecretError ? error.message : undefined;
      logger.error('migrations failed', { ...describeError(error), errorMessage: safeMessage });
      throw error;
    }
  };
  const close = () => {
    created?.destroy();
    created = undefined;
    return Promise.resolve();
  };
  return Object.assign(handler, { close });
}
