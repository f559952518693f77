// The reconcile run functions: begin_reconcile, apply_reconcile_page, rewind_reconcile, prune_candidates and
// record_prune (sql/functions/sync/), as user_reconciler calls them.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  admin,
  applyPage,
  applyUsers,
  as,
  beginReconcile,
  completedRun,
  erase,
  failureOf,
  OVERSIZED_HANDLE,
  pruneCandidates,
  reset,
  row,
  state,
  useDatabase,
} from '../../fixtures';

useDatabase();

describe('reconcile runs', () => {
  beforeEach(reset);

  it('begins a run, and a second begin resumes it', async () => {
    const first = await beginReconcile();
    expect(first).toMatchObject({ pagination_token: null, pages: 0, resumed: false });
    expect(await beginReconcile()).toMatchObject({ run_id: first.run_id, resumed: true });
  });

  it('resumes with the token saved with the last page and counts what the pages did', async () => {
    const run = await beginReconcile();
    await applyUsers([state('r-old', 1, { email: 'old@example.com' })]);
    expect(
      await applyPage(
        run.run_id,
        null,
        [state('r-new', 1), state('r-old', 2), { sub: 'r-unconfirmed', seen_only: true }],
        'token-2',
      ),
    ).toEqual({
      'r-new': 'inserted',
      'r-old': 'updated',
      'r-unconfirmed': 'seen',
    });
    expect(await beginReconcile()).toMatchObject({
      run_id: run.run_id,
      pagination_token: 'token-2',
      pages: 1,
      scanned: '3',
      resumed: true,
    });
    const { rows } = await admin.query(
      'SELECT inserted, updated, seen, stale, refused, completed_at FROM sync.reconcile_runs',
    );
    expect(rows).toEqual([{ inserted: '1', updated: '1', seen: '1', stale: '0', refused: '0', completed_at: null }]);
  });

  it('refuses a page read with a token the run has moved past, writing nothing', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [state('r-1', 1)], 'token-2');
    expect(await failureOf(applyPage(run.run_id, null, [state('r-2', 1)], 'token-2'))).toBe('55000');
    expect(await row('r-2')).toBeUndefined();
  });

  it('completes the run with the last page and takes no page after it', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [state('r-1', 1)], 'token-2');
    await applyPage(run.run_id, 'token-2', [state('r-2', 1)], null);
    const { rows } = await admin.query<{ completed_at: Date | null }>(
      'SELECT completed_at FROM sync.reconcile_runs WHERE id = $1',
      [run.run_id],
    );
    expect(rows[0]?.completed_at).toBeInstanceOf(Date);
    expect(await failureOf(applyPage(run.run_id, null, [state('r-3', 1)], null))).toBe('55000');
    expect(await beginReconcile()).toMatchObject({ resumed: false, pages: 0 });
  });

  it('rewinds an open run to its first page', async () => {
    const run = await beginReconcile();
    await applyPage(run.run_id, null, [], 'expired-token');
    await as.user_reconciler.query('SELECT sync.rewind_reconcile($1)', [run.run_id]);
    expect(await beginReconcile()).toMatchObject({ run_id: run.run_id, pagination_token: null, resumed: true });
  });

  it('names as prune candidates only rows the complete run did not see, created before it began, not anonymized', async () => {
    await applyUsers([
      state('p-seen', 1),
      state('p-gone', 1),
      state('p-unconfirmed', 1),
      state('p-stale', 5),
      state('p-refused', 1),
      state('p-anonymized', 1),
    ]);
    await erase('p-anonymized', 'anonymize');
    await admin.query("INSERT INTO public.users (cognito_user_id) VALUES ('p-before-sync')");
    const run = await beginReconcile();
    await applyUsers([state('p-during', 1)]);
    await applyPage(
      run.run_id,
      null,
      [
        state('p-seen', 2),
        { sub: 'p-unconfirmed', seen_only: true },
        state('p-stale', 2),
        state('p-refused', 2, { handle: OVERSIZED_HANDLE }),
      ],
      'token-2',
    );
    expect(await failureOf(pruneCandidates(run.run_id))).toBe('55000');
    await applyPage(run.run_id, 'token-2', [], null);
    expect(await pruneCandidates(run.run_id)).toEqual(['p-before-sync', 'p-gone']);
  });

  it('pages through the candidates after a sub, at most max at a time', async () => {
    await applyUsers(['c-1', 'c-2', 'c-3', 'c-4', 'c-5'].map((sub) => state(sub, 1)));
    const run = await completedRun();
    expect(await pruneCandidates(run, null, 2)).toEqual(['c-1', 'c-2']);
    expect(await pruneCandidates(run, 'c-2', 2)).toEqual(['c-3', 'c-4']);
    expect(await pruneCandidates(run, 'c-4', 2)).toEqual(['c-5']);
    await erase('c-1', 'delete', as.user_reconciler);
    await erase('c-2', 'anonymize', as.user_reconciler);
    expect(await pruneCandidates(run, null, 2)).toEqual(['c-3', 'c-4']);
  });

  it('refuses the candidates of a run a newer run has superseded', async () => {
    const older = await completedRun();
    await beginReconcile();
    expect(await failureOf(pruneCandidates(older))).toBe('55000');
  });

  it('records the prune on the complete run only', async () => {
    const open = await beginReconcile();
    expect(await failureOf(as.user_reconciler.query('SELECT sync.record_prune($1, 1)', [open.run_id]))).toBe('55000');
    await applyPage(open.run_id, null, [], null);
    await as.user_reconciler.query('SELECT sync.record_prune($1, 2)', [open.run_id]);
    const { rows } = await admin.query<{ pruned: string; pruned_at: Date | null }>(
      'SELECT pruned, pruned_at FROM sync.reconcile_runs',
    );
    expect(rows.map((run) => run.pruned)).toEqual(['2']);
    expect(rows[0]?.pruned_at).toBeInstanceOf(Date);
  });

  it('does not bring back a user erased after the page that listed it was read', async () => {
    await applyUsers([state('r-late', 1)]);
    const run = await beginReconcile();
    const listed = state('r-late', 2);
    await erase('r-late', 'delete');
    expect(await applyPage(run.run_id, null, [listed], null)).toEqual({ 'r-late': 'erased' });
    expect(await row('r-late')).toBeUndefined();
  });
});
