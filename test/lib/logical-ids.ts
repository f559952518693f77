// The CloudFormation logical ids (and types) of every synthesized stack: what a deployed stack knows its
// resources by. A renamed construct that changes one makes CloudFormation replace the resource.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_BUNDLING, synthApp } from '../support/cdk';

/**
 * The stages and option combinations the CDK tests synthesize (those of nag.test.ts), fixed here: the
 * baseline holds exactly these, taken from the deployed templates' commit.
 */
export const CONTEXTS: readonly Record<string, string>[] = [
  { stage: 'dev' },
  { stage: 'prod' },
  { stage: 'dev', proxy: 'true' },
  { stage: 'prod', proxy: 'true' },
  { stage: 'dev', adminCidr: '203.0.113.7/32', publicAccess: 'true' },
  { stage: 'dev', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1' },
  { stage: 'prod', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1,eu-central-1' },
  { stage: 'dev', existingTrail: 'true' },
  { stage: 'prod', existingTrail: 'true' },
  { stage: 'dev', erasure: 'anonymize' },
  { stage: 'prod', erasure: 'anonymize', proxy: 'true', reconcileSchedule: 'cron(0 3 * * ? *)' },
  { stage: 'dev', operatorAccess: 'true' },
  { stage: 'prod', operatorAccess: 'true' },
  { stage: 'dev', endpointAzs: '1' },
  { stage: 'dev', operatorAccess: 'true', endpointAzs: '1', proxy: 'true' },
];

/**
 * A function version's logical id ends in a hash of the function's code and configuration, so that a new
 * bundle publishes a new version (the old one stays, immutable): that part is expected to change.
 */
const VERSION_HASH = /^(.+CurrentVersion[0-9A-F]{8})[0-9a-f]{32}$/;

/** Stack name -> logical id -> resource type. */
export type LogicalIds = Record<string, Record<string, string>>;

interface TemplateJson {
  readonly Resources?: Record<string, { readonly Type: string }>;
}

/** Synthesizes one context (without bundling: logical ids do not depend on a bundle) and lists its ids. */
export function logicalIdsOf(context: Record<string, string>): LogicalIds {
  const { assemblyDir } = synthApp({ ...context, ...NO_BUNDLING });
  if (assemblyDir === '') throw new Error(`synth of ${JSON.stringify(context)} failed validation`);
  const stacks: LogicalIds = {};
  for (const file of readdirSync(assemblyDir)
    .filter((name) => name.endsWith('.template.json'))
    .sort()) {
    const template = JSON.parse(readFileSync(join(assemblyDir, file), 'utf8')) as TemplateJson;
    const ids: Record<string, string> = {};
    for (const [id, { Type }] of Object.entries(template.Resources ?? {}))
      ids[Type === 'AWS::Lambda::Version' ? id.replace(VERSION_HASH, '$1*') : id] = Type;
    stacks[file.slice(0, -'.template.json'.length)] = Object.fromEntries(Object.entries(ids).sort());
  }
  return stacks;
}

/** The key a context's ids are stored under in the fixture. */
export function contextKey(context: Record<string, string>): string {
  return Object.entries(context)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/**
 * What a deployed stack would lose: each baseline id absent from the current synth or of another type,
 * as `stack id: was -> now`, except the ids in `retired`.
 */
export function lostIds(baseline: LogicalIds, current: LogicalIds, retired: ReadonlySet<string>): string[] {
  const lost: string[] = [];
  for (const [stack, ids] of Object.entries(baseline)) {
    for (const [id, type] of Object.entries(ids)) {
      const now = current[stack]?.[id];
      if (now !== type && !retired.has(id)) lost.push(`${stack} ${id}: ${type} -> ${now ?? 'absent'}`);
    }
  }
  return lost;
}
