// One function instance for the benchmark, in its own plain `node` process (no tsx, no loader hooks), so
// loading the bundle costs what it costs in Lambda. Driven by bench/run.ts over the IPC channel.
//
// Modes: `handler` loads the deployed bundle and calls its `handler`, the way the Lambda runtime does;
// `floor` runs the bare INSERT of the same row (setup.floorSql) on one already open pg Client, as
// `client.query(text, values)` sends it or, with setup.floorPrepared, as a named prepared statement the way the
// handler runs its sign-up; `per-invocation` opens, uses and closes a new pg Client for every event (the course
// project's approach). The connection URL arrives in CONNECTION_URL.
'use strict';

/**
 * @typedef {import('./instance').WorkerSetup} WorkerSetup
 * @typedef {import('./instance').WorkerCommand} WorkerCommand
 * @typedef {import('./instance').WorkerMessage} WorkerMessage
 * @typedef {ReturnType<typeof confirmation>} Confirmation
 * @typedef {(event: Confirmation, i: number) => Promise<unknown>} Invoke
 * @typedef {{ loadMs: number, invoke: Invoke, reconnect: () => Promise<void>, close: () => Promise<void> }} FunctionInstance
 */

// Destructuring require() trips TypeScript's module: preserve check of CommonJS files; a namespace does not.
const pg = require('pg');

/**
 * A distinct, valid Cognito confirmation: uuid-shaped sub, unique handle, e-mail and name.
 * @param {string} tag
 * @param {number} i
 */
function confirmation(tag, i) {
  const n = String(i).padStart(12, '0');
  return {
    version: '1',
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_BENCH0001',
    userName: `${tag}-0000-4000-8000-${n}`,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: 'bench' },
    triggerSource: 'PostConfirmation_ConfirmSignUp',
    request: {
      userAttributes: {
        sub: `${tag}-0000-4000-8000-${n}`,
        email_verified: 'true',
        'cognito:user_status': 'CONFIRMED',
        name: `Bench User ${i}`,
        preferred_username: `u${tag}_${i}`,
        email: `u${tag}.${i}@example.com`,
      },
    },
    response: {},
  };
}

/** @param {number} i */
function context(i) {
  return { awsRequestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` };
}

/**
 * sync.sign_up's parameters, as the handler passes them (one free handle candidate: the bench's handles are unique).
 * @param {Confirmation} event
 */
function params(event) {
  const a = event.request.userAttributes;
  return [a.sub, a.email, a.name, [a.preferred_username], new Date().toISOString()];
}

/**
 * The floor's parameters: the row sync.sign_up inserts from `params(event)` on its common path.
 * @param {Confirmation} event
 */
function floorParams(event) {
  const a = event.request.userAttributes;
  return [a.sub, a.email, a.name, a.preferred_username, new Date().toISOString()];
}

/**
 * Builds `invoke(event, i)` for the mode; the returned promise resolves when the event is written.
 * @param {WorkerSetup} setup
 * @returns {Promise<FunctionInstance>}
 */
async function instance(setup) {
  const url = process.env.CONNECTION_URL;
  const { mode } = setup;
  if (mode === 'handler') {
    const started = performance.now();
    /** @type {unknown} */
    const loaded = require(setup.bundle);
    const loadMs = performance.now() - started;
    const handler =
      typeof loaded === 'object' && loaded !== null ? /** @type {{ handler?: unknown }} */ (loaded).handler : undefined;
    if (typeof handler !== 'function') throw new Error(`${setup.bundle} exports no handler function`);
    const handle = /** @type {((event: Confirmation, context: object) => Promise<unknown>) & { close?: unknown }} */ (
      handler
    );
    // The handler's close() ends its connection; its next invocation opens a new one, as a new container would.
    if (typeof handle.close !== 'function') throw new Error(`${setup.bundle}'s handler has no close()`);
    const closeHandler = /** @type {() => Promise<void>} */ (handle.close);
    const reconnect = () => closeHandler.call(handle);
    return { loadMs, invoke: (event, i) => handle(event, context(i)), reconnect, close: () => Promise.resolve() };
  }
  if (mode === 'floor') {
    const text = setup.floorSql;
    if (text === undefined) throw new Error('the floor mode needs setup.floorSql');
    const config = { ...setup.floorSession, connectionString: url };
    let client = new pg.Client(config);
    await client.connect();
    /** @type {Invoke} */
    const invoke = setup.floorPrepared
      ? (event) => client.query({ name: 'bench_floor', text, values: floorParams(event) })
      : (event) => client.query(text, floorParams(event));
    const reconnect = async () => {
      await client.end();
      client = new pg.Client(config);
      await client.connect();
    };
    return { loadMs: 0, invoke, reconnect, close: () => client.end() };
  }
  if (mode === 'per-invocation') {
    /** @type {Invoke} */
    const invoke = async (event) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await client.query(setup.sql, params(event));
      } finally {
        await client.end();
      }
    };
    return { loadMs: 0, invoke, reconnect: () => Promise.resolve(), close: () => Promise.resolve() };
  }
  throw new Error(`unknown mode ${String(mode)}`);
}

/**
 * Invokes events start..start+count-1 one after another; returns each invocation's latency in ms.
 * @param {Invoke} invoke
 * @param {string} tag
 * @param {number} start
 * @param {number} count
 */
async function sequence(invoke, tag, start, count) {
  /** @type {number[]} */
  const latencies = new Array(count);
  for (let k = 0; k < count; k += 1) {
    const event = confirmation(tag, start + k);
    const t0 = performance.now();
    await invoke(event, start + k);
    latencies[k] = performance.now() - t0;
  }
  return latencies;
}

// Errno names and SQLSTATEs of a server that is there but busy, or briefly not there: worth another try.
// Any other code (refused credentials 28P01, no such database 3D000) fails the same way every time.
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '53300', '57P03']);

/**
 * The `code` a pg, system or handler error carries, when it is a string.
 * @param {unknown} error
 */
function errorCode(error) {
  const code = typeof error === 'object' && error !== null ? /** @type {{ code?: unknown }} */ (error).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether an invocation failed because the database did not answer in time, which another try can cure.
 * @param {unknown} error
 */
function isTransient(error) {
  if (!(error instanceof Error)) return false;
  const code = errorCode(error);
  if (code !== undefined) return TRANSIENT_CODES.has(code);
  // A connect timeout carries no code. The handler's error is matched by name: the bundle has its own classes.
  return error.name === 'DatabaseUnavailableError' || /timeout/i.test(error.message);
}

/** @param {unknown} error */
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  return `${error.name}${code === undefined ? '' : ` (${code})`}: ${error.message}`;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The warm-up before a measurement: `sequence` unmeasured, except that an event which fails because the database
 * did not answer in time is tried again after a short, doubling pause. On a loaded machine the first connection
 * can miss the function's 1 s connect timeout; in Lambda the next invocation would connect again, so one slow
 * connect must not end the whole bench. Bounded: after `warmupAttempts` tries the error stands.
 * @param {Invoke} invoke
 * @param {WorkerSetup} setup
 * @param {string} tag
 * @param {number} start
 * @param {number} count
 * @returns {Promise<number>} how many tries were repeated
 */
async function warmUp(invoke, setup, tag, start, count) {
  const attempts = setup.warmupAttempts ?? 5;
  const backoffMs = setup.warmupBackoffMs ?? 200;
  let retries = 0;
  for (let k = 0; k < count; k += 1) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await invoke(confirmation(tag, start + k), start + k);
        break;
      } catch (error) {
        if (attempt >= attempts || !isTransient(error)) throw error;
        retries += 1;
        const pause = backoffMs * 2 ** (attempt - 1);
        process.stderr.write(
          `bench worker: warm-up event ${k + 1} of ${count} failed (${describe(error)}); try ${attempt + 1} of ${attempts} in ${pause} ms\n`,
        );
        await sleep(pause);
      }
    }
  }
  return retries;
}

// Messages from bench/run.ts, queued so that none is lost while the instance is busy.
/** @type {WorkerCommand[]} */
const inbox = [];
/** @type {() => void} */
let wake = () => undefined;
process.on('message', (/** @type {WorkerCommand} */ message) => {
  inbox.push(message);
  wake();
});

// The parent went away (it failed, or was stopped): nobody will read what this instance measures.
let finishing = false;
process.on('disconnect', () => {
  if (!finishing) process.exit(1);
});

/**
 * The next message of one of the given types.
 * @template {WorkerCommand['type']} T
 * @param {...T} types
 * @returns {Promise<Extract<WorkerCommand, { type: T }>>}
 */
async function next(...types) {
  for (;;) {
    const index = inbox.findIndex((message) => /** @type {string[]} */ (types).includes(message.type));
    if (index >= 0) return /** @type {Extract<WorkerCommand, { type: T }>} */ (inbox.splice(index, 1)[0]);
    await new Promise((resolve) => {
      wake = () => resolve(undefined);
    });
  }
}

/**
 * @param {WorkerMessage} message
 * @returns {Promise<void>}
 */
function send(message) {
  return new Promise((resolve, reject) => {
    if (!process.send) throw new Error('bench/worker.cjs runs as a child of bench/run.ts, with an IPC channel');
    process.send(message, undefined, undefined, (error) => (error ? reject(error) : resolve()));
  });
}

async function main() {
  const setup = await next('setup');
  const fn = await instance(setup);
  if (setup.task === 'cold') {
    // The first invocation of a fresh instance: opens the connection, then writes.
    const t0 = performance.now();
    await fn.invoke(confirmation(setup.tag, setup.start), setup.start);
    const firstMs = performance.now() - t0;
    await send({ type: 'result', loadMs: fn.loadMs, firstMs });
  } else if (setup.task === 'sequential') {
    // Warmed up, then measured in rounds the parent interleaves with another instance's, so both see the
    // same machine (other work on it comes and goes). A round may start on a new connection: on loopback one
    // backend's round trip can take twice another's, by where the scheduler puts it beside this process, so
    // a comparison on one connection a side measures that luck; the parent gives both sides many.
    const warmupTag = setup.warmupTag ?? setup.tag;
    const warmupRetries = await warmUp(fn.invoke, setup, warmupTag, 0, setup.warmup ?? 0);
    await send({ type: 'ready', warmupRetries });
    for (;;) {
      const message = await next('run', 'finish');
      if (message.type === 'finish') break;
      if (message.reconnect) {
        await fn.reconnect();
        // Unmeasured: the connect, and the statement's parse and plan on the new connection.
        await warmUp(fn.invoke, setup, warmupTag, message.reconnect.warmupStart, message.reconnect.warmup);
      }
      const cpu = process.cpuUsage();
      const latencies = await sequence(fn.invoke, setup.tag, message.start, message.count);
      const used = process.cpuUsage(cpu);
      await send({ type: 'result', latencies, cpuMs: (used.user + used.system) / 1000 });
    }
    // The live heap after a full collection, where the process may collect (--expose-gc, as Lambda's runtime
    // starts node): what the instance holds, apart from how far V8 has grown the heap around it.
    const { gc } = /** @type {{ gc?: () => void }} */ (globalThis);
    if (gc) gc();
    await send({
      type: 'finished',
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      ...(gc ? { liveHeapBytes: process.memoryUsage().heapUsed } : {}),
    });
  } else if (setup.task === 'burst') {
    // Warm the instance (its connection open) when told to, one instance at a time: on a 2-core machine, 50
    // processes connecting at once contend for CPU as Lambda containers (each with its own) never do.
    await send({ type: 'loaded' });
    await next('warm');
    const warmupRetries = await warmUp(fn.invoke, setup, setup.warmupTag ?? setup.tag, setup.start, 1);
    await send({ type: 'ready', warmupRetries });
    await next('go');
    const cpu = process.cpuUsage();
    const latencies = await sequence(fn.invoke, setup.tag, setup.start, setup.count ?? 0);
    const used = process.cpuUsage(cpu);
    await send({ type: 'result', latencies, cpuMs: (used.user + used.system) / 1000 });
  } else {
    throw new Error(`unknown task ${String(setup.task)}`);
  }
  await fn.close();
  finishing = true;
  process.disconnect();
  // The handler's module-scope connection stays open by design (reused across invocations); end the process.
  process.exit(0);
}

// The error goes to the parent as a message too, so that it can say why this instance died, not only that it did.
main().catch(async (/** @type {unknown} */ error) => {
  process.stderr.write(
    `bench worker failed: ${error instanceof Error ? (error.stack ?? describe(error)) : String(error)}\n`,
  );
  if (process.connected) {
    const code = errorCode(error);
    /** @type {import('./instance').WorkerFailure} */
    const failure =
      error instanceof Error
        ? {
            type: 'failed',
            name: error.name,
            message: error.message,
            ...(code ? { code } : {}),
            ...(error.stack ? { stack: error.stack } : {}),
          }
        : { type: 'failed', name: typeof error, message: String(error) };
    await send(failure).catch(() => undefined);
  }
  process.exit(1);
});
