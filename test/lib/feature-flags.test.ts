// Every feature flag of aws-cdk-lib that `cdk synth` would call "not configured" is set (cdk.json, or the app
// itself): an aws-cdk-lib upgrade that adds flags fails here with their names, before the CLI starts warning.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../bin/app';
import { CDK_JSON_CONTEXT, NO_BUNDLING, synthApp } from '../support/cdk';

/** One flag of the report aws-cdk-lib writes into the cloud assembly (core/lib/private/feature-flag-report.js). */
interface FlagInfo {
  readonly userValue?: unknown;
  readonly recommendedValue: unknown;
  readonly unconfiguredBehavesLike?: { readonly v2?: unknown };
}

interface Manifest {
  readonly artifacts: Record<
    string,
    { readonly type: string; readonly properties?: { flags?: Record<string, FlagInfo> } }
  >;
}

const CLI_FLAGS = join(dirname(require.resolve('aws-cdk/package.json')), 'lib', 'commands', 'flags');
// The CLI's own list (a file without dependencies); its package exports do not include it, hence the path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { OBSOLETE_FLAGS } = require(join(CLI_FLAGS, 'obsolete-flags.js')) as { OBSOLETE_FLAGS: string[] };

/** The flags of an assembly's feature flag reports, found by artifact type as the CLI's `flags()` finds them. */
function reportedFlags(assemblyDir: string): Record<string, FlagInfo> {
  const manifest = JSON.parse(readFileSync(join(assemblyDir, 'manifest.json'), 'utf8')) as Manifest;
  const reports = Object.values(manifest.artifacts).filter((artifact) => artifact.type === 'cdk:feature-flag-report');
  expect(reports, 'the assembly has no feature flag report').not.toHaveLength(0);
  return Object.assign({}, ...reports.map((report) => report.properties?.flags ?? {})) as Record<string, FlagInfo>;
}

/**
 * What `cdk synth` counts in "N feature flags are not configured": the CLI's FlagOperations.filterNeedsAttention
 * (aws-cdk lib/commands/flags/operations.js): not obsolete, no value from the context, and behaving unset
 * (`unconfiguredBehavesLike.v2`, false when absent) otherwise than the recommended value.
 */
function notConfigured(flags: Record<string, FlagInfo>): string[] {
  return Object.entries(flags)
    .filter(([name]) => !OBSOLETE_FLAGS.includes(name))
    .filter(([, flag]) => flag.userValue === undefined)
    .filter(([, flag]) => (flag.unconfiguredBehavesLike?.v2 ?? false) !== flag.recommendedValue)
    .map(([name]) => name)
    .sort();
}

describe('CDK feature flags', { timeout: 120_000 }, () => {
  for (const stage of ['dev', 'prod']) {
    it(`leaves no flag unconfigured for stage=${stage}, as cdk synth reads cdk.json`, () => {
      const { assemblyDir } = synthApp({ stage, ...NO_BUNDLING });
      expect(assemblyDir, 'synth failed validation').not.toBe('');
      expect(notConfigured(reportedFlags(assemblyDir)), 'set these in cdk.json (docs/configuration.md)').toEqual([]);
    });
  }

  it('counts every flag cdk.json sets as not configured when cdk.json is left out', () => {
    const assemblyDir = createApp(new App({ context: { stage: 'dev', ...NO_BUNDLING } })).app.synth().directory;
    const flags = reportedFlags(assemblyDir);
    // A flag in cdk.json the CLI would not count (its default became the recommended value) is one to drop.
    const set = Object.keys(CDK_JSON_CONTEXT).filter((name) => name in flags);
    expect(notConfigured(flags)).toEqual(set.sort());
  });

  it('applies the rule of the pinned CLI', () => {
    const operations = readFileSync(join(CLI_FLAGS, 'operations.js'), 'utf8');
    const rule = /static filterNeedsAttention\(flags\) \{([^}]*)\}/.exec(operations)?.[1]?.replace(/\s+/g, ' ');
    expect(rule).toBe(
      ' return flags' +
        ' .filter(flag => !obsolete_flags_1.OBSOLETE_FLAGS.includes(flag.name))' +
        ' .filter(flag => flag.userValue === undefined)' +
        ' .filter(flag => defaultValue(flag) !== flag.recommendedValue); ',
    );
    expect(operations).toContain('return flag.unconfiguredBehavesLike?.v2 ?? false;');
  });
});
