// The reconcile's figure: how fast the database takes a whole pool, page by page, through the same core and
// store the function uses, from a fake Cognito that answers instantly (so the database is all that is
// measured); and how long a 10-million-user run takes at the default ListUsers rate, where the quota is the
// limit. `npx tsx bench/reconcile.ts [--quick]` runs it alone; bench/run.ts adds it to `npm run bench`.
import type { UserType } from '@aws-sdk/client-cognito-identity-provider';
import { Client } from 'pg';
import { DEFAULT_LIST_USERS_RATE, LIST_USERS_PAGE_SIZE, type PoolReader } from '../lambdas/cognito/user-pool';
import type { Clock } from '../lambdas/runtime/clock';
import { reconcile, type ReconcileReport, type ReconcileStore } from '../lambdas/reconcile/core';
import { postgresReconcileStore } from '../lambdas/reconcile/postgres-store';
import { createLogger } from '../lambdas/runtime/logger';
import { startMigratedPostgres } from '../local/embedded-postgres';
import { atLeast, evaluate, exactly, formatTable, type Figure } from './report';

export const RECONCILE_USERS = { full: 100_000, quick: 20_000 } as const;
/** The target: the database must never be what limits a run (the quota allows 300 users/s at 5 req/s). */
export const RECONCILE_TARGET_ROWS_PER_SECOND = 5000;
export const LARGE_POOL = 10_000_000;

export interface PassMeasurement {
  readonly users: number;
  readonly pages: number;
  /** Time inside the page writes (one apply_reconcile_page round trip each). */
  readonly databaseMs: number;
  /** The whole pass, mapping and the fake pool included. */
  readonly wallMs: number;
  readonly report: ReconcileReport;
}

export interface ReconcileMeasurement {
  /** First pass: every user is new (inserts). */
  readonly insert: PassMeasurement;
  /** Second pass over the same pool, one in ten renamed: what a daily run mostly does. */
  readonly refresh: PassMeasurement;
}

function sub(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function fakeUser(n: number, generation: number): UserType {
  const renamed = generation > 0 && n % 10 === 0;
  return {
    Username: sub(n),
    Enabled: true,
    UserStatus: 'CONFIRMED',
    UserLastModifiedDate: new Date(Date.UTC(2026, 11, 1)),
    Attributes: [
      { Name: 'sub', Value: sub(n) },
      { Name: 'email', Value: `bench${n}@example.com` },
      { Name: 'name', Value: renamed ? `Bench User ${n} (renamed)` : `Bench User ${n}` },
      { Name: 'preferred_username', Value: `bench${n}` },
    ],
  };
}

/** A pool that answers at once: pages of 60 in order, the token the index of the next page. */
export function instantPool(users: number, generation: number): PoolReader {
  return {
    listPage(token) {
      const start = token === undefined ? 0 : Number(token);
      const end = Math.min(users, start + LIST_USERS_PAGE_SIZE);
      const page = Array.from({ length: end - start }, (_, i) => fakeUser(start + i, generation));
      return Promise.resolve({ users: page, nextToken: end < users ? String(end) : undefined, readAt: Date.now() });
    },
    checkUser: () => Promise.resolve({ user: 'absent', readAt: Date.now() }),
    // No groups: the figure is the users pages'.
    listGroups: () => Promise.resolve({ groups: [], nextToken: undefined, readAt: Date.now() }),
    listUsersInGroup: () => Promise.resolve({ users: [], nextToken: undefined, readAt: Date.now() }),
  };
}

const instantClock: Clock = { now: () => Date.now(), sleep: () => Promise.resolve() };

/** The store with the time of each page write added up: the database side of the figure. */
function timed(store: ReconcileStore): { store: ReconcileStore; elapsed: () => number } {
  let ms = 0;
  return {
    store: {
      ...store,
      async applyPage(...args) {
        const started = performance.now();
        try {
          return await store.applyPage(...args);
        } finally {
          ms += performance.now() - started;
        }
      },
    },
    elapsed: () => ms,
  };
}

async function pass(db: Client, users: number, generation: number): Promise<PassMeasurement> {
  const { store, elapsed } = timed(postgresReconcileStore(db));
  const started = performance.now();
  const report = await reconcile(
    { mode: 'start', prune: false, dryRun: false, erasurePolicy: 'delete', userPoolId: 'bench_Pool1' },
    { pool: instantPool(users, generation), store, clock: instantClock, logger: createLogger({}, () => undefined) },
  );
  return { users, pages: report.pages, databaseMs: elapsed(), wallMs: performance.now() - started, report };
}

/** Two passes over `users` fake users into the database at `url` (migrated, `public.users` empty). */
export async function measureReconcile(url: string, users: number): Promise<ReconcileMeasurement> {
  const db = new Client({ connectionString: url, application_name: 'bench-reconcile' });
  await db.connect();
  try {
    const insert = await pass(db, users, 0);
    const refresh = await pass(db, users, 1);
    return { insert, refresh };
  } finally {
    await db.end();
  }
}

/** Hours a run over `users` takes when ListUsers at `rate` requests/s (60 users each) is the only limit. */
export function runHours(users: number, rate = DEFAULT_LIST_USERS_RATE): number {
  return users / (rate * LIST_USERS_PAGE_SIZE) / 3600;
}

const rowsPerSecond = (p: PassMeasurement) => p.users / (p.databaseMs / 1000);

const WHEN_MISSED =
  'Each page is one call of sync.apply_reconcile_page: a set-based write of 60 users in one subtransaction. A miss means ' +
  'a page fell back to one subtransaction per user (a refused user in it) or the machine was busy: compare the ' +
  'refresh pass, and the load average.';

/** The reconcile's figures; pure, for test/bench/reconcile.test.ts. */
export function reconcileFigures(m: ReconcileMeasurement): Figure[] {
  const passFigures = (name: 'insert' | 'refresh', p: PassMeasurement, written: number): Figure[] => [
    {
      id: `reconcile.${name}.rowsPerSecond`,
      label: `reconcile ${name}: rows/s, database side`,
      value: rowsPerSecond(p),
      unit: 'rows/s',
      target: atLeast(RECONCILE_TARGET_ROWS_PER_SECOND),
      whenMissed: WHEN_MISSED,
      detail: `${p.users} users in ${p.pages} pages of ${LIST_USERS_PAGE_SIZE}; ${Math.round(p.databaseMs)} ms in page writes, ${Math.round(p.wallMs)} ms in all`,
    },
    {
      id: `reconcile.${name}.written`,
      label: `reconcile ${name}: users written`,
      value: written,
      unit: '',
      target: exactly(name === 'insert' ? p.users : p.users / 10),
    },
  ];
  return [
    ...passFigures('insert', m.insert, m.insert.report.inserted),
    ...passFigures('refresh', m.refresh, m.refresh.report.updated),
    {
      id: 'reconcile.tenMillionHours',
      label: 'reconcile of 10 million users at the default rate',
      value: runHours(LARGE_POOL),
      unit: 'h',
      detail: `${LARGE_POOL} / (${DEFAULT_LIST_USERS_RATE} ListUsers req/s x ${LIST_USERS_PAGE_SIZE}) s: the quota, not the database, is the limit; about ${Math.ceil((runHours(LARGE_POOL) * 60) / 14)} invocations of 14 minutes`,
    },
  ];
}

async function standalone(argv: readonly string[]): Promise<number> {
  const users = argv.includes('--quick') ? RECONCILE_USERS.quick : RECONCILE_USERS.full;
  process.stderr.write(`bench: reconcile of ${users} users from an instant fake pool; starting PostgreSQL\n`);
  const { server, url } = await startMigratedPostgres();
  try {
    const evaluated = reconcileFigures(await measureReconcile(url, users)).map(evaluate);
    process.stdout.write(`\n${formatTable(evaluated)}\n`);
    return evaluated.some((f) => f.pass === false) ? 1 : 0;
  } finally {
    await server.destroy();
  }
}

if (require.main === module) {
  standalone(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
