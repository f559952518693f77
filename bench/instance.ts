// A function instance for the benchmark: bench/worker.cjs in its own plain `node` process, and the messages
// the two exchange over the IPC channel (the worker's JSDoc types come from here).
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_TIMEOUTS } from '../lambdas/postgres/connection';

export const WORKER = join(__dirname, 'worker.cjs');

export type Mode = 'handler' | 'floor' | 'per-invocation';

/**
 * The burst's floor: the sign-up statement alone (sync.sign_up with the same row, named) from a bare client.
 * In a burst 50 processes and PostgreSQL share the machine's cores, so throughput is CPU per event; held
 * against this, the ratio shows what the handler's own work costs, not what the function costs the database.
 */
export const SIGN_UP_ALONE =
  'SELECT outcome, handle_adjusted FROM sync.sign_up($1, $2, $3, ARRAY[$4::text], $5::timestamptz)';

/**
 * The session the floor's connection opens with: the settings the handler's connection (LazyConnection) sets,
 * so that both pay the same per-statement cost for them (statement_timeout arms a timer for every statement).
 */
export const FLOOR_SESSION = {
  statement_timeout: DEFAULT_TIMEOUTS.statementMs,
  lock_timeout: DEFAULT_TIMEOUTS.statementMs,
  idle_in_transaction_session_timeout: DEFAULT_TIMEOUTS.statementMs * 5,
  application_name: 'bench-floor',
  keepAlive: true,
} as const;

/**
 * The floor: the row sync.sign_up writes on its common path (same columns, same values, the first handle
 * candidate), as the bare parameterized INSERT ... ON CONFLICT DO NOTHING. It fires the same tombstone trigger,
 * which is on the table; the bench's superuser may run it, no function role may.
 */
export const FLOOR_INSERT =
  'INSERT INTO public.users (cognito_user_id, email, display_name, handle, enabled, synced_at) ' +
  'VALUES ($1, $2, $3, $4, true, $5::timestamptz) ON CONFLICT DO NOTHING';

/** The first message a worker gets: what to load and which task to run. */
export interface WorkerSetup {
  readonly task: 'cold' | 'sequential' | 'burst';
  readonly mode: Mode;
  /** The built function (handler mode). */
  readonly bundle: string;
  /** The sign-up call the per-invocation mode runs (unnamed: its connection serves one statement). */
  readonly sql: string;
  /** The floor mode's statement on one open connection: the warm run's raw INSERT, the burst's sync.sign_up alone. */
  readonly floorSql?: string;
  /**
   * Run floorSql as a named prepared statement (parsed and planned once per connection, as the handler runs its
   * sign-up) instead of as `client.query(text, values)` sends it (parsed and planned on every call).
   * @default false
   */
  readonly floorPrepared?: boolean;
  /** pg Client settings of the floor's connection, beside the URL. @default none */
  readonly floorSession?: Readonly<Record<string, string | number | boolean>>;
  readonly tag: string;
  readonly start: number;
  readonly count?: number;
  readonly warmup?: number;
  readonly warmupTag?: string;
  /** How often one warm-up event is tried when the database does not answer in time. @default 5 */
  readonly warmupAttempts?: number;
  /** The wait before the first retry of a warm-up event; it doubles each time. @default 200 */
  readonly warmupBackoffMs?: number;
}

/** What the parent sends after the setup. */
export type WorkerCommand =
  | ({ readonly type: 'setup' } & WorkerSetup)
  | {
      readonly type: 'run';
      readonly start: number;
      readonly count: number;
      /** First a new connection, warmed by `warmup` unmeasured events numbered from `warmupStart`. */
      readonly reconnect?: { readonly warmupStart: number; readonly warmup: number };
    }
  | { readonly type: 'finish' }
  | { readonly type: 'warm' }
  | { readonly type: 'go' };

export interface WorkerResult {
  readonly type: 'result';
  readonly loadMs?: number;
  readonly firstMs?: number;
  readonly latencies?: number[];
  /** CPU time (user + system) the instance spent on the measured events. */
  readonly cpuMs?: number;
}

export interface WorkerReady {
  readonly type: 'ready';
  /** Warm-up events tried again because the database did not answer in time: a busy machine shows here. */
  readonly warmupRetries: number;
}

/** The worker's own account of why it is about to exit with an error. */
export interface WorkerFailure {
  readonly type: 'failed';
  readonly name: string;
  /** A SQLSTATE or errno name, when the error had one. */
  readonly code?: string;
  readonly message: string;
  readonly stack?: string;
}

export type WorkerMessage =
  | WorkerResult
  | WorkerReady
  | WorkerFailure
  | { readonly type: 'loaded' }
  | {
      readonly type: 'finished';
      readonly maxRssBytes: number;
      /** The heap in use after a full collection, when the worker may collect (node --expose-gc). */
      readonly liveHeapBytes?: number;
    };

type MessageOf<T extends WorkerMessage['type']> = Extract<WorkerMessage, { type: T }>;

/** A worker ended before it sent what the bench waited for; the message carries the worker's own error. */
export class WorkerExitedError extends Error {
  override readonly name = 'WorkerExitedError';
  constructor(
    readonly expected: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly failure: WorkerFailure | undefined,
    /** The end of what the worker wrote to stderr. */
    readonly stderr: string,
  ) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${exitCode}`;
    const why = failure
      ? `${failure.name}${failure.code === undefined ? '' : ` (${failure.code})`}: ${failure.message}`
      : (errorLine(stderr) ?? 'it wrote nothing to stderr');
    super(`bench worker ${how} before '${expected}': ${why}`);
  }
}

/**
 * The line of a worker's stderr that says what went wrong: the last `SomethingError: ...` line (Node prints an
 * uncaught error's stack, then its own version), else the last line that is not a stack frame.
 */
export function errorLine(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
  return (
    lines.findLast((line) => /^[\w$.]*(?:Error|Exception)\b/.test(line)) ??
    lines.findLast((line) => !/^\s+at /.test(line) && !/^Node\.js v\d/.test(line))
  );
}

// Enough of stderr for a stack trace; a worker that logs a lot must not grow the parent without bound.
const STDERR_KEPT = 8 * 1024;

/** How function instances start: which node binary, and the environment they start from. */
export interface Launch {
  readonly node: string;
  readonly env: NodeJS.ProcessEnv;
  /** The CPUs the instance may run on, as `taskset -c` takes them (bench/cpu-affinity.ts). @default any */
  readonly cpus?: string;
}

/**
 * The bench's own environment without its loader: NODE_OPTIONS (tsx's hooks, if any) would make loading the
 * bundle cost what it does not cost in Lambda.
 */
export function launchFrom(node: string, env: NodeJS.ProcessEnv): Launch {
  const copy = { ...env };
  delete copy.NODE_OPTIONS;
  return { node, env: copy };
}

export interface InstanceOptions {
  readonly url: string;
  readonly launch: Launch;
  /** NODE_OPTIONS for the worker alone (e.g. --enable-source-maps). */
  readonly nodeOptions?: string;
  /** @default bench/worker.cjs; tests give another script. */
  readonly script?: string;
  /** Pass the worker's stderr on to ours as it comes (its end is kept for the error either way). @default true */
  readonly forwardStderr?: boolean;
}

function isMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/**
 * A function instance in a plain `node` process: no tsx loader (execArgv is not inherited, NODE_OPTIONS only
 * when given),
 * stdout (the function's JSON logs) discarded as Lambda ships it off-box, stderr passed on and its end kept
 * for the error if the worker dies, results over IPC.
 */
export class Instance {
  private readonly child: ChildProcess;
  private readonly messages: WorkerMessage[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  private stderr = '';
  private failure: WorkerFailure | undefined;
  readonly exited: Promise<number | null>;

  constructor(options: InstanceOptions) {
    const env: NodeJS.ProcessEnv = {
      ...options.launch.env,
      CONNECTION_URL: options.url,
      ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}),
    };
    // On given CPUs, taskset starts node in its own place (exec): same pid, same IPC channel.
    const { node, cpus } = options.launch;
    this.child = fork(options.script ?? WORKER, [], {
      env,
      ...(cpus === undefined
        ? { execPath: node, execArgv: [] }
        : { execPath: 'taskset', execArgv: ['--cpu-list', cpus, node] }),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const forward = options.forwardStderr ?? true;
    this.child.stderr?.on('data', (chunk: Buffer) => {
      if (forward) process.stderr.write(chunk);
      this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_KEPT);
    });
    this.child.on('message', (message) => {
      if (!isMessage(message)) return;
      if (message.type === 'failed') this.failure = message;
      else this.messages.push(message);
      this.wake();
    });
    // 'close', not 'exit': only after 'close' has every IPC message the child sent been delivered.
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code) => {
        this.closed = true;
        this.wake();
        resolve(code);
      }),
    );
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  send(message: WorkerCommand): void {
    this.child.send(message);
  }

  /** The next message of the type; a WorkerExitedError with the worker's own error if it ends first. */
  async next<T extends WorkerMessage['type']>(type: T): Promise<MessageOf<T>> {
    for (;;) {
      const index = this.messages.findIndex((m) => m.type === type);
      if (index >= 0) return this.messages.splice(index, 1)[0] as MessageOf<T>;
      if (this.closed)
        throw new WorkerExitedError(type, this.child.exitCode, this.child.signalCode, this.failure, this.stderr);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Ends a worker that is still running (the bench failed elsewhere and will not drive it any further). */
  kill(): void {
    if (!this.closed) this.child.kill();
  }
}

/** Ends the instances when `use` fails, so that one dead worker does not leave the others running. */
export async function killOnFailure<T>(instances: readonly Instance[], use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (error) {
    for (const instance of instances) instance.kill();
    throw error;
  }
}
