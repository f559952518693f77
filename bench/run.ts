// `npm run bench [-- --quick]`: the numbers that decide the 5-second budget, measured against a real
// PostgreSQL 17 this script starts, printed as a table and written to bench/results.json.
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { UPSERT_USER } from '../lambdas/shared/users';
import { startMigratedServer } from '../test/support/postgres';
import { buildFunction } from './bundle';
import { atLeast, atMost, evaluate, exactly, formatTable, ratio, round, type EvaluatedFigure, type Figure } from './report';
import { median, summarize, type Summary } from './stats';

export interface Settings {
  readonly coldRuns: number;
  readonly warmWarmup: number;
  readonly warmCount: number;
  readonly burstInstances: number;
  readonly burstTotal: number;
}

export const FULL: Settings = { coldRuns: 20, warmWarmup: 500, warmCount: 5000, burstInstances: 50, burstTotal: 10_000 };
export const QUICK: Settings = { coldRuns: 8, warmWarmup: 200, warmCount: 1000, burstInstances: 50, burstTotal: 2_000 };

const ENTRY = join(__dirname, '..', 'lambdas', 'post-confirmation', 'index.ts');
const WORKER = join(__dirname, 'worker.cjs');
const KB = 1000;
const MB = 1000 * 1000;

type Mode = 'handler' | 'floor' | 'per-invocation';

interface WorkerSetup {
  readonly task: 'cold' | 'sequential' | 'burst';
  readonly mode: Mode;
  readonly bundle: string;
  readonly sql: string;
  readonly tag: string;
  readonly start: number;
  readonly count?: number;
  readonly warmup?: number;
  readonly warmupTag?: string;
}

interface WorkerResult {
  readonly type: 'result';
  readonly loadMs?: number;
  readonly firstMs?: number;
  readonly latencies?: number[];
  readonly maxRssBytes?: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * A function instance in a plain `node` process: no tsx loader (execArgv and NODE_OPTIONS are not inherited),
 * stdout (the function's JSON logs) discarded as Lambda ships it off-box, results over IPC.
 */
class Instance {
  private readonly child;
  private readonly messages: unknown[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(url: string, nodeOptions?: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, CONNECTION_URL: url };
    delete env.NODE_OPTIONS;
    if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
    this.child = fork(WORKER, [], { env, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (message) => {
      this.messages.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      for (const wake of this.waiters.splice(0)) wake();
      resolve(code);
    }));
  }

  send(message: object): void {
    this.child.send(message);
  }

  async next<T>(type: string): Promise<T> {
    for (;;) {
      const index = this.messages.findIndex((m) => (m as { type?: unknown }).type === type);
      if (index >= 0) return this.messages.splice(index, 1)[0] as T;
      if (this.child.exitCode !== null) throw new Error(`bench worker exited with ${this.child.exitCode} before '${type}'`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

async function runOne(url: string, setup: WorkerSetup, nodeOptions?: string): Promise<WorkerResult> {
  const instance = new Instance(url, nodeOptions);
  instance.send({ type: 'setup', ...setup });
  const result = await instance.next<WorkerResult>('result');
  await instance.exited;
  return result;
}

async function sql<R>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}

async function cold(url: string, bundle: string, runs: number, nodeOptions?: string) {
  const load: number[] = [];
  const first: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const tag = nodeOptions ? 'c5000000' : 'c0000000';
    const result = await runOne(url, { task: 'cold', mode: 'handler', bundle, sql: UPSERT_USER, tag, start: run }, nodeOptions);
    load.push(result.loadMs ?? Number.NaN);
    first.push(result.firstMs ?? Number.NaN);
  }
  return { loadMedianMs: median(load), firstMedianMs: median(first), load, first };
}

async function sequential(url: string, bundle: string, mode: Mode, settings: Settings, tag: string) {
  await sql(url, 'TRUNCATE public.users CASCADE');
  const result = await runOne(url, {
    task: 'sequential', mode, bundle, sql: UPSERT_USER, tag, start: 0,
    count: settings.warmCount, warmup: settings.warmWarmup, warmupTag: `e${tag.slice(1)}`,
  });
  return { summary: summarize(result.latencies ?? []), maxRssBytes: result.maxRssBytes ?? Number.NaN };
}

interface BurstResult {
  readonly mode: Mode;
  readonly throughput: number;
  readonly elapsedMs: number;
  readonly summary: Summary;
  readonly rows: number;
  readonly duplicates: number;
}

/** `instances` processes, each warmed by one event of its own, then all released at once on their shares. */
async function burst(url: string, bundle: string, mode: Mode, settings: Settings, tag: string): Promise<BurstResult> {
  await sql(url, 'TRUNCATE public.users CASCADE');
  const share = Math.ceil(settings.burstTotal / settings.burstInstances);
  const warmupTag = `e${tag.slice(1)}`;
  const instances = Array.from({ length: settings.burstInstances }, (_, i) => {
    const instance = new Instance(url);
    const start = i * share;
    const count = Math.max(0, Math.min(share, settings.burstTotal - start));
    instance.send({ type: 'setup', task: 'burst', mode, bundle, sql: UPSERT_USER, tag, start, count, warmupTag });
    return instance;
  });
  await Promise.all(instances.map((instance) => instance.next('loaded')));
  for (const instance of instances) {
    instance.send({ type: 'warm' });
    await instance.next('ready');
  }
  // The warm-up rows are not part of the burst.
  await sql(url, 'DELETE FROM public.users WHERE cognito_user_id LIKE $1', [`${warmupTag}-%`]);
  const started = performance.now();
  for (const instance of instances) instance.send({ type: 'go' });
  const results = await Promise.all(instances.map((instance) => instance.next<WorkerResult>('result')));
  const elapsedMs = performance.now() - started;
  await Promise.all(instances.map((instance) => instance.exited));
  const [counts] = await sql<{ rows: number; duplicates: number }>(
    url,
    `SELECT count(*)::int AS rows, (count(*) - count(DISTINCT cognito_user_id))::int AS duplicates
       FROM public.users WHERE cognito_user_id LIKE $1`,
    [`${tag}-%`],
  );
  const latencies = results.flatMap((result) => result.latencies ?? []);
  return {
    mode,
    throughput: (latencies.length / elapsedMs) * 1000,
    elapsedMs,
    summary: summarize(latencies),
    rows: counts?.rows ?? Number.NaN,
    duplicates: counts?.duplicates ?? Number.NaN,
  };
}

const ms = (value: number) => `${round(value)} ms`;

export interface Measurements {
  readonly settings: Settings;
  readonly bundle: { readonly minifiedBytes: number; readonly gzipBytes: number; readonly sourceMapBytes: number };
  readonly cold: { readonly loadMedianMs: number; readonly loadWithSourceMapsMedianMs: number; readonly firstMedianMs: number };
  readonly warm: {
    readonly handler: Summary;
    readonly floor: Summary;
    readonly handlerMaxRssBytes: number;
    readonly floorMaxRssBytes: number;
  };
  readonly burst: { readonly handler: BurstResult; readonly floor: BurstResult; readonly perInvocation: BurstResult };
}

/** Turns measurements into figures with the targets. Pure: test/bench/report.test.ts uses it. */
export function figures(m: Measurements): Figure[] {
  const { handler, floor, perInvocation } = m.burst;
  const burstLabel = (mode: string) => `burst ${mode}`;
  const burstFigures = (name: string, b: BurstResult): Figure[] => [
    {
      id: `burst.${name}.throughput`, label: `${burstLabel(name)}: throughput`, value: b.throughput, unit: 'events/s',
      detail: `${b.summary.n} events, ${m.settings.burstInstances} processes, ${ms(b.elapsedMs)}`,
    },
    { id: `burst.${name}.p99`, label: `${burstLabel(name)}: p99 latency`, value: b.summary.p99, unit: 'ms', detail: `p50 ${ms(b.summary.p50)}` },
    { id: `burst.${name}.rows`, label: `${burstLabel(name)}: rows written`, value: b.rows, unit: '', target: exactly(m.settings.burstTotal) },
    { id: `burst.${name}.duplicates`, label: `${burstLabel(name)}: duplicate rows`, value: b.duplicates, unit: '', target: exactly(0) },
  ];
  return [
    {
      id: 'bundle.minified', label: 'bundle: minified', value: m.bundle.minifiedBytes / KB, unit: 'KB', target: atMost(150),
      detail: `${m.bundle.minifiedBytes} bytes (+ ${round(m.bundle.sourceMapBytes / KB)} KB source map, not loaded)`,
      whenMissed: WHEN_MISSED.bundle,
    },
    { id: 'bundle.gzip', label: 'bundle: gzip', value: m.bundle.gzipBytes / KB, unit: 'KB', detail: `${m.bundle.gzipBytes} bytes` },
    {
      id: 'cold.load', label: 'cold: load bundle (median)', value: m.cold.loadMedianMs, unit: 'ms', target: atMost(40),
      detail: `fresh node process, ${m.settings.coldRuns} runs`, whenMissed: WHEN_MISSED.coldLoad,
    },
    {
      id: 'cold.loadWithSourceMaps', label: 'cold: load with --enable-source-maps', value: m.cold.loadWithSourceMapsMedianMs,
      unit: 'ms', target: atMost(40), detail: 'if NODE_OPTIONS turns source maps on', whenMissed: WHEN_MISSED.coldLoad,
    },
    {
      id: 'cold.firstInvocation', label: 'cold: first invocation incl. connect', value: m.cold.firstMedianMs, unit: 'ms',
      detail: 'median; loopback, no TLS: see README',
    },
    { id: 'warm.handler.p50', label: 'warm handler: p50', value: m.warm.handler.p50, unit: 'ms', detail: `${m.warm.handler.n} sequential sign-ups` },
    { id: 'warm.handler.p95', label: 'warm handler: p95', value: m.warm.handler.p95, unit: 'ms' },
    { id: 'warm.handler.p99', label: 'warm handler: p99', value: m.warm.handler.p99, unit: 'ms' },
    { id: 'warm.floor.p50', label: 'warm raw floor: p50', value: m.warm.floor.p50, unit: 'ms', detail: 'same upsert, open pg Client' },
    { id: 'warm.floor.p95', label: 'warm raw floor: p95', value: m.warm.floor.p95, unit: 'ms' },
    { id: 'warm.floor.p99', label: 'warm raw floor: p99', value: m.warm.floor.p99, unit: 'ms' },
    {
      id: 'warm.ratioP50', label: 'warm p50: handler / floor', value: ratio(m.warm.handler.p50, m.warm.floor.p50), unit: 'x',
      target: atMost(1.2), whenMissed: WHEN_MISSED.warmRatio,
    },
    { id: 'warm.ratioP99', label: 'warm p99: handler / floor', value: ratio(m.warm.handler.p99, m.warm.floor.p99), unit: 'x' },
    ...burstFigures('handler', handler),
    ...burstFigures('floor', floor),
    ...burstFigures('per-invocation', perInvocation),
    {
      id: 'burst.ratioFloor', label: 'burst throughput: handler / floor', value: ratio(handler.throughput, floor.throughput),
      unit: 'x', target: atLeast(0.8), whenMissed: WHEN_MISSED.burstFloor,
    },
    {
      id: 'burst.ratioPerInvocation', label: 'burst throughput: handler / per-invocation',
      value: ratio(handler.throughput, perInvocation.throughput), unit: 'x', target: atLeast(5), whenMissed: WHEN_MISSED.burstPerInvocation,
    },
    {
      id: 'memory.peakRss', label: 'memory: peak RSS, function process', value: m.warm.handlerMaxRssBytes / MB, unit: 'MB',
      target: atMost(80), detail: 'over the warm run', whenMissed: WHEN_MISSED.memory,
    },
    { id: 'memory.floorPeakRss', label: 'memory: peak RSS, floor process', value: m.warm.floorMaxRssBytes / MB, unit: 'MB', detail: 'node + pg alone' },
  ];
}

/** What limits a figure when it misses, and what would move it; attached only to missed targets. */
const WHEN_MISSED = {
  bundle: 'pg (~50 KB) and the SigV4 token signer (~35 KB) are the floor; check the bundle metafile for a new dependency.',
  coldLoad: 'Compiling the bundle dominates; a smaller bundle, or V8 code caching (a Lambda SnapStart-like snapshot), would move it.',
  warmRatio:
    'The handler adds event validation, one JSON log line and the connection wrapper to a sub-millisecond statement on loopback; '
    + 'on RDS, where a round trip is ~1 ms, the same fixed cost is a far smaller fraction.',
  burstFloor: 'On 2 cores, 50 processes and PostgreSQL share the CPU, so per-event CPU in the handler shows directly as throughput.',
  burstPerInvocation:
    'Connection setup on loopback without TLS is cheap; over TLS with IAM auth to RDS (and its process-per-connection backends) '
    + 'the per-invocation approach is slower still.',
  memory: 'The Node.js runtime alone takes ~40 MB RSS; see the floor process for the baseline on this machine.',
} as const;

function machine(serverVersion: string) {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryBytes: totalmem(),
    memoryGB: round(totalmem() / 1e9),
    os: `${process.platform} ${release()}`,
    node: process.version,
    postgres: serverVersion,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const settings = quick ? QUICK : FULL;
  const outDir = await mkdtemp(join(tmpdir(), 'cruddur-bench-'));
  log(`bench${quick ? ' (quick)' : ''}: starting PostgreSQL`);
  const { server, url } = await startMigratedServer();
  try {
    const [{ server_version: serverVersion } = { server_version: 'unknown' }] = await sql<{ server_version: string }>(url, 'SHOW server_version');

    log('bench: building the post-confirmation bundle with lib/bundling.ts');
    const bundle = await buildFunction(ENTRY, outDir);

    log(`bench: cold start, ${settings.coldRuns} fresh processes (twice: plain, --enable-source-maps)`);
    await sql(url, 'TRUNCATE public.users CASCADE');
    const coldPlain = await cold(url, bundle.file, settings.coldRuns);
    const coldMaps = await cold(url, bundle.file, settings.coldRuns, '--enable-source-maps');

    log(`bench: warm, ${settings.warmCount} sequential sign-ups each for the floor and the handler`);
    const floorWarm = await sequential(url, bundle.file, 'floor', settings, 'f1000000');
    const handlerWarm = await sequential(url, bundle.file, 'handler', settings, 'a1000000');

    log(`bench: burst, ${settings.burstTotal} confirmations from ${settings.burstInstances} processes, three layouts`);
    const burstFloor = await burst(url, bundle.file, 'floor', settings, 'f2000000');
    const burstHandler = await burst(url, bundle.file, 'handler', settings, 'a2000000');
    const burstPerInvocation = await burst(url, bundle.file, 'per-invocation', settings, 'b2000000');

    const measurements: Measurements = {
      settings,
      bundle,
      cold: { loadMedianMs: coldPlain.loadMedianMs, loadWithSourceMapsMedianMs: coldMaps.loadMedianMs, firstMedianMs: coldPlain.firstMedianMs },
      warm: {
        handler: handlerWarm.summary,
        floor: floorWarm.summary,
        handlerMaxRssBytes: handlerWarm.maxRssBytes,
        floorMaxRssBytes: floorWarm.maxRssBytes,
      },
      burst: { handler: burstHandler, floor: burstFloor, perInvocation: burstPerInvocation },
    };
    const evaluated: EvaluatedFigure[] = figures(measurements).map(evaluate);
    const missed = evaluated.filter((f) => f.pass === false);
    const results = {
      command: quick ? 'npm run bench -- --quick' : 'npm run bench',
      date: new Date().toISOString(),
      machine: machine(serverVersion),
      settings,
      allTargetsMet: missed.length === 0,
      figures: evaluated.map((f) => ({ ...f, value: round(f.value) })),
      raw: {
        bundle: { minifiedBytes: bundle.minifiedBytes, gzipBytes: bundle.gzipBytes, sourceMapBytes: bundle.sourceMapBytes },
        cold: { loadMs: coldPlain.load, firstInvocationMs: coldPlain.first, loadWithSourceMapsMs: coldMaps.load },
        warm: measurements.warm,
        burst: measurements.burst,
      },
    };
    // A quick run must not overwrite the committed results of a full run.
    const file = join(__dirname, quick ? 'results.quick.json' : 'results.json');
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);

    const m = results.machine;
    process.stdout.write(`\n${formatTable(evaluated)}\n\n`);
    process.stdout.write(
      `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGB} GB; Node.js ${m.node}; PostgreSQL ${m.postgres}; ${m.os}\n`,
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
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
