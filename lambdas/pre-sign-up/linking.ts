// Linking a first federated sign-in to the confirmed local user with the same verified email, free of AWS: the
// decision, and the port it asks Cognito through. It never blocks the sign-in: every outcome but `linked` lets
// Cognito create the federated user as a user of its own.
import { isRecord } from '../runtime/records';
import type { Logger } from '../runtime/logger';
import { describeError } from '../runtime/errors';

/** A user of the pool as the linking decision needs it (from ListUsers). */
export interface LinkCandidate {
  /** Cognito's user name: the sub for a local user of this pool (email sign-in). */
  readonly username: string;
  readonly sub: string | undefined;
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  /** Cognito's UserStatus: CONFIRMED, UNCONFIRMED, EXTERNAL_PROVIDER, ... */
  readonly status: string;
}

/** The federated identity to link: `<providerName>_<providerUserId>` is its user name. */
export interface FederatedIdentity {
  readonly providerName: string;
  readonly providerUserId: string;
}

/** What linking needs of Cognito (cognito-linker.ts is the adapter). */
export interface IdentityLinker {
  /** The pool's users whose email attribute equals `email`. */
  usersWithEmail(userPoolId: string, email: string, signal: AbortSignal): Promise<LinkCandidate[]>;
  /** AdminLinkProviderForUser: `identity` signs in as the local user `username` from now on. */
  link(userPoolId: string, username: string, identity: FederatedIdentity, signal: AbortSignal): Promise<void>;
}

export type LinkOutcome =
  /** Linked: Cognito creates no second user (and fails this one sign-in; see docs/federation.md). */
  | 'linked'
  /** The provider did not assert email_verified=true (Facebook, Amazon and SAML never do here). */
  | 'federated_email_unverified'
  | 'no_local_user'
  /** The only local user with that email has not confirmed their sign-up: not theirs yet. */
  | 'local_user_unconfirmed'
  /** The local user's own email is unverified: nothing proves that person owns the address either. */
  | 'local_email_unverified'
  /** More than one confirmed local user with the address verified: too thin to pick one. */
  | 'ambiguous'
  /** The event does not carry what linking needs (user name, email), or the email cannot go in a filter. */
  | 'not_linkable'
  /** Cognito failed or the budget ran out: the sign-in goes ahead as a user of its own. */
  | 'failed';

// A federated user name: the provider name (no underscore: lib/identity-providers.ts refuses one) and the id.
const FEDERATED_USER_NAME = /^([^_]{1,32})_(.{1,2048})$/su;
// ListUsers' filter quotes the value (API reference, ListUsers "Filter"); an address with a quote, a backslash or
// a control character is left unlinked rather than escaped: no provider that asserts email_verified issues one.
const FILTERABLE_EMAIL = /^[^"\\\p{Cc}]{3,2048}$/u;

/** The identity in a PreSignUp_ExternalProvider event's userName, or undefined when it has none. */
export function federatedIdentityOf(userName: unknown): FederatedIdentity | undefined {
  if (typeof userName !== 'string') return undefined;
  const match = FEDERATED_USER_NAME.exec(userName);
  if (match === null) return undefined;
  return { providerName: match[1]!, providerUserId: match[2]! };
}

export interface LinkDeps {
  readonly linker: IdentityLinker;
  readonly logger: Logger;
  /** Epoch ms by which linking gives up and lets the sign-in go ahead. */
  readonly deadline: number;
  readonly clock?: () => number;
}

/**
 * Links the federated user of a PreSignUp_ExternalProvider event to the one confirmed local user whose verified
 * email equals the provider's verified email. Resolves to the outcome; never rejects. Logs the provider, the
 * outcome and, when linked, the local user's sub: never the email or the provider's user id.
 */
export async function linkFederatedUser(event: Record<string, unknown>, deps: LinkDeps): Promise<LinkOutcome> {
  const clock = deps.clock ?? Date.now;
  const identity = federatedIdentityOf(event.userName);
  const log = deps.logger.child({ provider: identity?.providerName.slice(0, 32) ?? null });
  const outcome = await decide(event, identity, deps, clock, log);
  if (outcome !== 'linked' && outcome !== 'failed') log.info('federated sign-in not linked', { outcome });
  return outcome;
}

async function decide(
  event: Record<string, unknown>,
  identity: FederatedIdentity | undefined,
  deps: LinkDeps,
  clock: () => number,
  log: Logger,
): Promise<LinkOutcome> {
  const request = isRecord(event.request) ? event.request : {};
  const attributes = isRecord(request.userAttributes) ? request.userAttributes : {};
  const { email } = attributes;
  const userPoolId = event.userPoolId;
  if (identity === undefined || typeof userPoolId !== 'string' || typeof email !== 'string') return 'not_linkable';
  // A mapped email is unverified unless the provider says otherwise (Cognito: "Mapping IdP attributes").
  if (attributes.email_verified !== 'true' && attributes.email_verified !== true) return 'federated_email_unverified';
  if (!FILTERABLE_EMAIL.test(email)) return 'not_linkable';

  const started = clock();
  const signal = AbortSignal.timeout(Math.max(1, deps.deadline - started));
  try {
    const wanted = email.toLowerCase();
    const users = (await deps.linker.usersWithEmail(userPoolId, email, signal)).filter(
      (user) => user.email?.toLowerCase() === wanted && user.status !== 'EXTERNAL_PROVIDER',
    );
    if (users.length === 0) return 'no_local_user';
    const confirmed = users.filter((user) => user.status === 'CONFIRMED');
    if (confirmed.length === 0) return 'local_user_unconfirmed';
    const verified = confirmed.filter((user) => user.emailVerified);
    if (verified.length === 0) return 'local_email_unverified';
    if (verified.length > 1) return 'ambiguous';
    const target = verified[0]!;
    await deps.linker.link(userPoolId, target.username, identity, signal);
    log.info('federated sign-in linked to the local user', {
      sub: target.sub ?? null,
      outcome: 'linked',
      durationMs: clock() - started,
    });
    return 'linked';
  } catch (error) {
    // Not linking is never worse than today: the person gets a user of their own, as without the option.
    log.error('linking failed; federated sign-in goes ahead unlinked', {
      ...describeError(error),
      outcome: 'failed',
      durationMs: clock() - started,
    });
    return 'failed';
  }
}
