// The reconcile run functions: begin_reconcile, apply_reconcile_page, rewind_reconcile, prune_candidates and
// record_prune (sql/functions/sync/), as user_reconciler calls them.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  admin,
  type Applied,
  applyPage,
  applyUsers,
  as,
  beginReconcile,
  completedRun,
  erase,
  failureOf,
  OVERSIZED_HANDLE,
  pruneCandidates,
  pruneSummary,
  reset,
  ROLES,
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

  it('counts a user read more than 5 minutes ahead as refused with SY002, and still marks it as seen', async () => {
    await applyUsers([state('r-1', 1), state('r-2', 1)]);
    const before = await row('r-1');
    const run = await beginReconcile();
    const { rows } = await as.user_reconciler.query<Applied>(
      'SELECT * FROM sync.apply_reconcile_page($1, NULL, $2::jsonb, NULL)',
      [
        run.run_id,
        JSON.stringify([
          state('r-1', 2, { email: 'x@example.com', read_at: 'infinity' }),
          state('r-2', 2, { email: 'new@example.com' }),
        ]),
      ],
    );
    expect(rows).toEqual([
      { cognito_user_id: 'r-1', outcome: 'refused', error_code: 'SY002' },
      { cognito_user_id: 'r-2', outcome: 'updated', error_code: null },
    ]);
    expect(await row('r-1')).toEqual({ ...before, reconcile_run: run.run_id, xmin: expect.any(String) as unknown });
    expect((await row('r-1'))?.email).toBe('r-1@example.com');
    const counts = await admin.query('SELECT refused::int, updated::int FROM sync.reconcile_runs');
    expect(counts.rows).toEqual([{ refused: 1, updated: 1 }]);
    // Seen by the run, so never a prune candidate.
    expect(await pruneCandidates(run.run_id)).toEqual([]);
  });

  describe('sync.prune_summary', () => {
    it('counts the candidates by prune_candidates’ rule and the live rows of the table', async () => {
      await applyUsers(['c-1', 'c-2', 'c-3', 'c-4', 'c-5'].map((sub) => state(sub, 1)));
      await erase('c-5', 'anonymize', as.user_reconciler);
      const run = await beginReconcile();
      await applyPage(run.run_id, null, [state('c-1', 2), state('c-2', 2)], null);
      expect(await pruneSummary(run.run_id)).toEqual({ candidates: 2, table_rows: 4 });
      expect(await pruneCandidates(run.run_id)).toHaveLength(2);
    });

    it('counts zero of an empty table', async () => {
      expect(await pruneSummary(await completedRun())).toEqual({ candidates: 0, table_rows: 0 });
    });

    it('refuses a run that is open, superseded or unknown, as prune_candidates does', async () => {
      const older = await completedRun();
      const open = await beginReconcile();
      expect(await failureOf(pruneSummary(open.run_id))).toBe('55000');
      expect(await failureOf(pruneSummary(older))).toBe('55000');
      expect(await failureOf(pruneSummary('999'))).toBe('22023');
    });

    for (const role of ROLES) {
      const may = role === 'user_reconciler';
      it(`${may ? 'lets' : 'refuses'} ${role} ${may ? '' : 'a call of '}sync.prune_summary`, async () => {
        const run = await completedRun();
        expect(await failureOf(pruneSummary(run, as[role]))).toBe(may ? undefined : '42501');
      });
    }
  });

  // The rule prune_candidates and prune_summary share is theirs alone to call: no role may read it directly.
  for (const role of ROLES) {
    it(`refuses ${role} a call of the internal sync.unseen_by_run`, async () => {
      const run = await completedRun();
      const call = as[role].query('SELECT * FROM sync.unseen_by_run($1, NULL)', [run]);
      expect(await failureOf(call)).toBe('42501');
    });
  }

  it('does not bring back a user erased after the page that listed it was read', async () => {
    await applyUsers([state('r-late', 1)]);
    const run = await beginReconcile();
    const listed = state('r-late', 2);
    await erase('r-late', 'delete');
    expect(await applyPage(run.run_id, null, [listed], null)).toEqual({ 'r-late': 'erased' });
    expect(await row('r-late')).toBeUndefined();
  });
});
