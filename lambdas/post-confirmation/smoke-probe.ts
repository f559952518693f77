// The post-deploy smoke test's probe (`npm run smoke`): a synthetic sign-up whose sub no Cognito user can have
// (Cognito subs are plain UUIDs), so the function may treat it specially without anyone being able to ask for it.
import { UUID_SOURCE } from '../cognito/sub';
import { isRecord } from '../runtime/records';

export const PROBE_PREFIX = 'smoke-probe-';
export const PROBE_PATTERN = new RegExp(`^${PROBE_PREFIX}${UUID_SOURCE}$`);
/** The client metadata with which the smoke asks for the fallback path instead of the database. */
export const FALLBACK_METADATA = { smoke: 'fallback' } as const;

export function isProbe(sub: string): boolean {
  return PROBE_PATTERN.test(sub);
}

/**
 * True only for a probe that asks for the fallback path. Client metadata is set by whoever calls Cognito (a
 * person signing up can send any), so it counts only together with a probe's sub, which no person can have.
 */
export function wantsFallbackProbe(sub: string, request: Record<string, unknown>): boolean {
  if (!isProbe(sub)) return false;
  const metadata = request.clientMetadata;
  return isRecord(metadata) && metadata.smoke === FALLBACK_METADATA.smoke;
}
