// One function instance for the benchmark, in its own plain `node` process (no tsx, no loader hooks), so
// loading the bundle costs what it costs in Lambda. Driven by bench/run.ts over the IPC channel.
//
// Modes: `handler` loads the deployed bundle and calls its `handler`, the way the Lambda runtime does;
// `floor` runs the same upsert on one already open pg Client; `per-invocation` opens, uses and closes a new
// pg Client for every event (the seeds' approach). The connection URL arrives in CONNECTION_URL.
'use strict';

const { performance } = require('node:perf_hooks');

/** A distinct, valid Cognito confirmation: uuid-shaped sub, unique handle, e-mail and name. */
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

function context(i) {
  return { awsRequestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` };
}

function params(event) {
  const a = event.request.userAttributes;
  return [a.sub, a.email, a.name, a.preferred_username];
}

/** Builds `invoke(event, i)` for the mode; the returned promise resolves when the event is written. */
async function instance(mode, setup) {
  const url = process.env.CONNECTION_URL;
  if (mode === 'handler') {
    const started = performance.now();
    const { handler } = require(setup.bundle);
    const loadMs = performance.now() - started;
    return { loadMs, invoke: (event, i) => handler(event, context(i)), close: async () => undefined };
  }
  const { Client } = require('pg');
  if (mode === 'floor') {
    const client = new Client({ connectionString: url });
    await client.connect();
    return { loadMs: 0, invoke: (event) => client.query(setup.sql, params(event)), close: () => client.end() };
  }
  if (mode === 'per-invocation') {
    const invoke = async (event) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(setup.sql, params(event));
      } finally {
        await client.end();
      }
    };
    return { loadMs: 0, invoke, close: async () => undefined };
  }
  throw new Error(`unknown mode ${mode}`);
}

/** Invokes events start..start+count-1 one after another; returns each invocation's latency in ms. */
async function sequence(invoke, tag, start, count) {
  const latencies = new Array(count);
  for (let k = 0; k < count; k += 1) {
    const event = confirmation(tag, start + k);
    const t0 = performance.now();
    await invoke(event, start + k);
    latencies[k] = performance.now() - t0;
  }
  return latencies;
}

// Messages from bench/run.ts, queued so that none is lost while the instance is busy.
const inbox = [];
let wake = () => undefined;
process.on('message', (message) => {
  inbox.push(message);
  wake();
});

/** The next message of one of the given types. */
async function next(...types) {
  for (;;) {
    const index = inbox.findIndex((message) => message && types.includes(message.type));
    if (index >= 0) return inbox.splice(index, 1)[0];
    await new Promise((resolve) => {
      wake = resolve;
    });
  }
}

function send(message) {
  return new Promise((resolve, reject) => process.send(message, (error) => (error ? reject(error) : resolve())));
}

async function main() {
  const setup = await next('setup');
  const fn = await instance(setup.mode, setup);
  if (setup.task === 'cold') {
    // The first invocation of a fresh instance: opens the connection, then writes.
    const t0 = performance.now();
    await fn.invoke(confirmation(setup.tag, setup.start), setup.start);
    const firstMs = performance.now() - t0;
    await send({ type: 'result', loadMs: fn.loadMs, firstMs });
  } else if (setup.task === 'sequential') {
    // Warmed up, then measured in rounds the parent interleaves with another instance's, so both see the
    // same machine (other work on it comes and goes).
    await sequence(fn.invoke, setup.warmupTag, 0, setup.warmup);
    await send({ type: 'ready' });
    for (;;) {
      const message = await next('run', 'finish');
      if (message.type === 'finish') break;
      const cpu = process.cpuUsage();
      const latencies = await sequence(fn.invoke, setup.tag, message.start, message.count);
      const used = process.cpuUsage(cpu);
      await send({ type: 'result', latencies, cpuMs: (used.user + used.system) / 1000 });
    }
    await send({ type: 'finished', maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  } else if (setup.task === 'burst') {
    // Warm the instance (its connection open) when told to, one instance at a time: on a 2-core machine, 50
    // processes connecting at once contend for CPU as Lambda containers (each with its own) never do.
    await send({ type: 'loaded' });
    await next('warm');
    await sequence(fn.invoke, setup.warmupTag, setup.start, 1);
    await send({ type: 'ready' });
    await next('go');
    const cpu = process.cpuUsage();
    const latencies = await sequence(fn.invoke, setup.tag, setup.start, setup.count);
    const used = process.cpuUsage(cpu);
    await send({ type: 'result', latencies, cpuMs: (used.user + used.system) / 1000 });
  } else {
    throw new Error(`unknown task ${setup.task}`);
  }
  await fn.close();
  process.disconnect();
  // The handler's module-scope connection stays open by design (reused across invocations); end the process.
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`bench worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
