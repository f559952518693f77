// The CloudTrail fixtures in events/cloudtrail, as EventBridge delivers them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudTrailEvent } from '../../../lambdas/cognito/cloudtrail-event';

const DIR = join(__dirname, '..', '..', '..', 'events', 'cloudtrail');

export const FIXTURE_SUB = '5f0c9a3e-8d1b-4f3a-9c2e-7b6d5a4c3b21';
export const FIXTURE_POOL_ID = 'us-east-1_EXAMPLE1';

export function loadCloudTrailEvent(name: string): CloudTrailEvent {
  return JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as CloudTrailEvent;
}

export function cloudTrailFixtureNames(): string[] {
  return readdirSync(DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}
