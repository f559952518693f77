// The outcome strings the sync functions return (sql/functions/sync/*.sql), in one place for the adapters and
// cores that read them. test/lambdas/users/outcomes.test.ts reads the function files and fails when they and
// these lists differ.

/**
 * sync.sign_up, which only creates the row: 'exists': the table has the sub, nothing written (the writer and the
 * reconcile keep the row); 'erased': the user was erased, nothing written (a late sign-up never brings anybody
 * back). A read_at more than 5 minutes ahead fails with SQLSTATE.readAtAhead instead.
 */
export const SIGN_UP_OUTCOMES = ['inserted', 'exists', 'erased'] as const;
export type SignUpOutcome = (typeof SIGN_UP_OUTCOMES)[number];

/**
 * sync.apply_users (and sync.apply_reconcile_page, which counts them in this order); 'refused' comes with the
 * SQLSTATE the database refused the user with.
 */
export const APPLY_OUTCOMES = [
  'inserted',
  'updated',
  'updated_handle_conflict',
  'unchanged',
  'stale',
  'seen',
  'erased',
  'refused',
] as const;
export type ApplyOutcome = (typeof APPLY_OUTCOMES)[number];

/** sync.erase_user. */
export const ERASE_OUTCOMES = ['erased', 'already_erased', 'absent_tombstoned'] as const;
export type EraseOutcome = (typeof ERASE_OUTCOMES)[number];

/** sync.bind_pool: 'bound' (no pool was bound; now this one is) or 'same'; another pool fails with SQLSTATE.poolMismatch. */
export const BIND_POOL_OUTCOMES = ['bound', 'same'] as const;
export type BindPoolOutcome = (typeof BIND_POOL_OUTCOMES)[number];

/**
 * sync.restore_user: 'restored' (the tombstone is gone; the next reconcile writes the user back) or 'not_erased'
 * (the sub had no tombstone: nothing changed). An outcome rather than an error: restoring twice is no fault.
 */
export const RESTORE_OUTCOMES = ['restored', 'not_erased'] as const;
export type RestoreOutcome = (typeof RESTORE_OUTCOMES)[number];

/**
 * sync.set_user_groups: 'stale': a group list read later is written, nothing written; 'no_user': the table has
 * no row for the sub yet (write the user first, then call again); 'erased': erased or anonymized, nothing written.
 */
export const SET_GROUPS_OUTCOMES = ['updated', 'unchanged', 'stale', 'no_user', 'erased'] as const;
export type SetGroupsOutcome = (typeof SET_GROUPS_OUTCOMES)[number];

/** sync.apply_group_members, one per sub of the page; the same meanings, 'added' for a new membership. */
export const GROUP_MEMBER_OUTCOMES = ['added', 'unchanged', 'stale', 'no_user', 'erased'] as const;
export type GroupMemberOutcome = (typeof GROUP_MEMBER_OUTCOMES)[number];

/** sync.insert_user, internal to the functions: no caller outside the database sees these. */
export const INSERT_USER_OUTCOMES = ['inserted', 'inserted_adjusted', 'erased', 'exists'] as const;
