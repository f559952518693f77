// How an erased user's row goes: the writer (erase messages) and the reconcile (prune) read the same setting,
// so a user erased by either path is erased alike.
import { optional, type Env } from '../runtime/env';
import { ConfigurationError } from '../runtime/errors';

/** `delete`: the row and everything that references it (activities) go; `anonymize`: the row stays without personal data. */
export type ErasurePolicy = 'delete' | 'anonymize';
export const ERASURE_POLICIES: readonly ErasurePolicy[] = ['delete', 'anonymize'];

/** `ERASURE_POLICY`, `delete` when unset; a ConfigurationError naming the variable otherwise. */
export function erasurePolicyFromEnv(env: Env): ErasurePolicy {
  const value = optional(env, 'ERASURE_POLICY') ?? 'delete';
  const policy = ERASURE_POLICIES.find((known) => known === value);
  if (policy === undefined) throw new ConfigurationError('ERASURE_POLICY', `must be ${ERASURE_POLICIES.join(' or ')}`);
  return policy;
}
