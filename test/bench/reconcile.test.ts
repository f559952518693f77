import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../bench/report';
import { instantPool, measureReconcile, reconcileFigures, runHours, type PassMeasurement } from '../../bench/reconcile';
import { startMigratedServer, type TestServer } from '../support/postgres';

function measured(fields: Partial<PassMeasurement> & { inserted?: number; updated?: number }): PassMeasurement {
  const { inserted = 0, updated = 0, ...rest } = fields;
  return {
    users: 100_000,
    pages: 1667,
    databaseMs: 10_000,
    wallMs: 12_000,
    report: { inserted, updated } as PassMeasurement['report'],
    ...rest,
  };
}

describe('reconcile figures', () => {
  it('puts a 10-million-user run at the default 5 requests/s at 10,000,000 / 300 s, in hours', () => {
    expect(runHours(10_000_000)).toBeCloseTo(9.259, 3);
    expect(runHours(10_000_000, 30)).toBeCloseTo(1.543, 3);
  });

  it('passes the database side at 5,000 rows/s and misses it just below, with the reason', () => {
    const figures = reconcileFigures({
      insert: measured({ databaseMs: 20_000, inserted: 100_000 }),
      refresh: measured({ databaseMs: 20_001, updated: 10_000 }),
    }).map(evaluate);
    const byId = Object.fromEntries(figures.map((f) => [f.id, f]));
    expect(byId['reconcile.insert.rowsPerSecond']).toMatchObject({ value: 5000, pass: true });
    expect(byId['reconcile.refresh.rowsPerSecond']?.pass).toBe(false);
    expect(byId['reconcile.refresh.rowsPerSecond']?.whenMissed).toMatch(/apply_reconcile_page/);
    expect(byId['reconcile.insert.written']?.pass).toBe(true);
    expect(byId['reconcile.refresh.written']?.pass).toBe(true);
    expect(byId['reconcile.tenMillionHours']).toMatchObject({ unit: 'h', pass: null });
  });

  it('fails when a pass did not write every user it should have', () => {
    const figures = reconcileFigures({
      insert: measured({ inserted: 99_999 }),
      refresh: measured({ updated: 10_000 }),
    }).map(evaluate);
    expect(figures.find((f) => f.id === 'reconcile.insert.written')?.pass).toBe(false);
  });
});

describe('instantPool', () => {
  it('serves every user once, in pages of 60, and then says there is no next page', async () => {
    const pool = instantPool(130, 0);
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const page = await pool.listPage(token);
      sizes.push(page.users.length);
      token = page.nextToken;
    } while (token !== undefined);
    expect(sizes).toEqual([60, 60, 10]);
  });
});

describe('measureReconcile', () => {
  let server: TestServer;
  let url: string;

  beforeAll(async () => {
    ({ server, url } = await startMigratedServer());
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('inserts every user on the first pass and renames one in ten on the second, timing the page writes', async () => {
    const m = await measureReconcile(url, 250);
    expect(m.insert).toMatchObject({ users: 250, pages: 5, report: { status: 'complete', inserted: 250, updated: 0 } });
    expect(m.refresh.report).toMatchObject({
      status: 'complete',
      runId: '2',
      inserted: 0,
      updated: 25,
      unchanged: 225,
    });
    expect(m.insert.databaseMs).toBeGreaterThan(0);
    expect(m.insert.databaseMs).toBeLessThanOrEqual(m.insert.wallMs);
  });
});
