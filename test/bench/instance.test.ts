import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedCpus, choosePlacement, type Placement } from '../../bench/cpu-affinity';
import { errorLine, Instance, killOnFailure, launchFrom, WorkerExitedError } from '../../bench/instance';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cruddur-bench-instance-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in worker: the instance plumbing does not care what the script measures. */
async function fakeWorker(name: string, source: string): Promise<Instance> {
  const script = join(dir, `${name}.cjs`);
  await writeFile(script, source);
  return new Instance({
    url: 'postgres://unused@127.0.0.1:1/unused',
    launch: { node: process.execPath, env: {} },
    script,
    forwardStderr: false,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<WorkerExitedError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof WorkerExitedError)) throw new Error(`expected a WorkerExitedError, got ${String(error)}`);
  return error;
}

describe('Instance', () => {
  it('delivers the messages a worker sends before it exits', async () => {
    const instance = await fakeWorker(
      'talks',
      "process.send({ type: 'loaded' }, undefined, undefined, () => process.send({ type: 'ready', warmupRetries: 0 }, undefined, undefined, () => process.exit(0)));\n",
    );
    expect(await instance.next('ready')).toEqual({ type: 'ready', warmupRetries: 0 });
    expect(await instance.next('loaded')).toEqual({ type: 'loaded' });
    expect(await instance.exited).toBe(0);
  });

  it('starts the worker from the launch environment without its loader, giving it the URL and only the NODE_OPTIONS asked for', async () => {
    const script = join(dir, 'env.cjs');
    await writeFile(
      script,
      'const { CONNECTION_URL, NODE_OPTIONS, KEPT } = process.env;\n' +
        "process.send({ type: 'finished', maxRssBytes: 0, env: { CONNECTION_URL, NODE_OPTIONS, KEPT } }, undefined, undefined, () => process.exit(0));\n",
    );
    const launch = launchFrom(process.execPath, { KEPT: 'yes', NODE_OPTIONS: '--import tsx' });
    expect(launch.env).toEqual({ KEPT: 'yes' });
    const seen = async (nodeOptions?: string) => {
      const options = { url: 'postgres://u@127.0.0.1:1/db', launch, script, forwardStderr: false };
      const instance = new Instance(nodeOptions ? { ...options, nodeOptions } : options);
      return ((await instance.next('finished')) as unknown as { env: Record<string, string | undefined> }).env;
    };
    expect(await seen()).toEqual({ CONNECTION_URL: 'postgres://u@127.0.0.1:1/db', KEPT: 'yes' });
    expect(await seen('--enable-source-maps')).toMatchObject({ NODE_OPTIONS: '--enable-source-maps' });
  });

  it('starts the worker on the CPUs its launch names, with its IPC channel', async () => {
    const { placement } = (await choosePlacement()) as { placement?: Placement };
    const cpus = placement?.client ?? (await allowedCpus());
    const script = join(dir, 'cpus.cjs');
    await writeFile(
      script,
      "const cpus = /^Cpus_allowed_list:\\s*(\\S+)$/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];\n" +
        "process.send({ type: 'finished', maxRssBytes: 0, cpus }, undefined, undefined, () => process.exit(0));\n",
    );
    const launch = { node: process.execPath, env: {}, cpus };
    const instance = new Instance({ url: 'postgres://u@127.0.0.1:1/db', launch, script, forwardStderr: false });
    const seen = (await instance.next('finished')) as unknown as { cpus: string };
    expect(seen.cpus).toBe(cpus);
    // Narrower than this process's own CPUs, so the worker's came from the launch, not from its parent.
    if (placement) expect(await allowedCpus()).not.toBe(cpus);
    expect(await instance.exited).toBe(0);
  });

  it('reports the error a worker sends before it exits, not only its exit code', async () => {
    const instance = await fakeWorker(
      'fails',
      "process.send({ type: 'failed', name: 'DatabaseUnavailableError', code: 'ECONNREFUSED', message: 'The database could not be reached' }, undefined, undefined, () => process.exit(1));\n",
    );
    const error = await failureOf(instance.next('ready'));
    expect(error.message).toBe(
      "bench worker exited with 1 before 'ready': DatabaseUnavailableError (ECONNREFUSED): The database could not be reached",
    );
    expect(error.exitCode).toBe(1);
  });

  it('reports the end of stderr when a worker dies without a word', async () => {
    const instance = await fakeWorker(
      'crashes',
      "process.stderr.write('loading\\n'); throw new Error('the bundle is broken');\n",
    );
    const error = await failureOf(instance.next('loaded'));
    expect(error.message).toMatch(/^bench worker exited with 1 before 'loaded': /);
    expect(error.message).toContain('Error: the bundle is broken');
    expect(error.stderr).toContain('loading');
  });

  it('says so when a worker was killed and wrote nothing', async () => {
    const instance = await fakeWorker('hangs', 'setInterval(() => undefined, 1000);\n');
    instance.kill();
    const error = await failureOf(instance.next('result'));
    expect(error.message).toBe("bench worker was killed by SIGTERM before 'result': it wrote nothing to stderr");
  });

  it('ends the other instances when one fails', async () => {
    const hanging = await fakeWorker('waits', "process.on('message', () => undefined);\n");
    const failing = await fakeWorker('exits', 'process.exit(2);\n');
    const error = await failureOf(killOnFailure([hanging, failing], () => failing.next('ready')));
    expect(error.exitCode).toBe(2);
    expect(await hanging.exited).toBeNull();
  });
});

describe('errorLine', () => {
  it("picks the error out of Node's report of an uncaught error", () => {
    const stderr = [
      '/tmp/index.js:1',
      'throw e',
      '^',
      '',
      "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'pg'",
      '    at resolve (node:internal/modules/esm/resolve:1:1)',
      '',
      'Node.js v20.20.2',
      '',
    ].join('\n');
    expect(errorLine(stderr)).toBe("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'pg'");
  });

  it('falls back to the last line that is not a stack frame, and to nothing for an empty stderr', () => {
    expect(errorLine('starting\nout of memory\n    at somewhere\n')).toBe('out of memory');
    expect(errorLine('')).toBeUndefined();
  });
});
