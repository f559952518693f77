import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS_DIR, readFunctionFiles } from '../../../lambdas/postgres/migrate';
import {
  APPLY_OUTCOMES,
  BIND_POOL_OUTCOMES,
  ERASE_OUTCOMES,
  GROUP_MEMBER_OUTCOMES,
  INSERT_USER_OUTCOMES,
  RESTORE_OUTCOMES,
  SET_GROUPS_OUTCOMES,
  SIGN_UP_OUTCOMES,
} from '../../../lambdas/users/outcomes';

/** The string literals a function file returns: `RETURN 'x'`, `THEN 'x'`, `ELSE 'x'`, `SELECT 'x'`, `:= 'x'`. */
function returnedLiterals(...paths: string[]): string[] {
  const found = new Set<string>();
  for (const path of paths) {
    const sql = readFileSync(join(FUNCTIONS_DIR, path), 'utf8').replace(/--[^\n]*/g, '');
    for (const match of sql.matchAll(/(?:\bTHEN|\bELSE|\bRETURN|\bSELECT|:=)\s+'([a-z_]+)'/g)) found.add(match[1]!);
  }
  return [...found].sort();
}

const sorted = (values: readonly string[]) => [...values].sort();

describe('outcome strings', () => {
  it('match what sync.sign_up returns, both ways', () => {
    expect(returnedLiterals('sync/sign_up.sql')).toEqual(sorted(SIGN_UP_OUTCOMES));
  });

  it('match what sync.apply_users returns (through apply_batch), both ways', () => {
    expect(returnedLiterals('sync/apply_users.sql', 'sync/apply_batch.sql')).toEqual(sorted(APPLY_OUTCOMES));
  });

  it('match what sync.erase_user returns, both ways', () => {
    expect(returnedLiterals('sync/erase_user.sql')).toEqual(sorted(ERASE_OUTCOMES));
  });

  it('match what sync.insert_user returns to the other functions, both ways', () => {
    expect(returnedLiterals('sync/insert_user.sql')).toEqual(sorted(INSERT_USER_OUTCOMES));
  });

  it('match what sync.bind_pool returns, both ways', () => {
    expect(returnedLiterals('sync/bind_pool.sql')).toEqual(sorted(BIND_POOL_OUTCOMES));
  });

  it('match what sync.restore_user returns, both ways', () => {
    expect(returnedLiterals('sync/restore_user.sql')).toEqual(sorted(RESTORE_OUTCOMES));
  });

  it('match what sync.set_user_groups returns, both ways', () => {
    expect(returnedLiterals('sync/set_user_groups.sql')).toEqual(sorted(SET_GROUPS_OUTCOMES));
  });

  it('match what sync.apply_group_members returns, both ways', () => {
    expect(returnedLiterals('sync/apply_group_members.sql')).toEqual(sorted(GROUP_MEMBER_OUTCOMES));
  });

  it('are counted by sync.apply_reconcile_page in the order of APPLY_OUTCOMES', () => {
    const sql = readFileSync(join(FUNCTIONS_DIR, 'sync', 'apply_reconcile_page.sql'), 'utf8');
    const slots = /ARRAY\[('[a-z_]+'(?:,\s*'[a-z_]+')*)\]/.exec(sql)?.[1];
    expect(slots?.split(/,\s*/).map((slot) => slot.slice(1, -1))).toEqual([...APPLY_OUTCOMES]);
  });

  it('cover every outcome literal any function file returns', () => {
    const known = new Set<string>([
      ...SIGN_UP_OUTCOMES,
      ...APPLY_OUTCOMES,
      ...ERASE_OUTCOMES,
      ...INSERT_USER_OUTCOMES,
      ...SET_GROUPS_OUTCOMES,
      ...BIND_POOL_OUTCOMES,
      ...RESTORE_OUTCOMES,
      ...GROUP_MEMBER_OUTCOMES,
    ]);
    const all = returnedLiterals(...readFunctionFiles().map((file) => file.path));
    expect(all.filter((literal) => !known.has(literal))).toEqual([]);
  });
});
