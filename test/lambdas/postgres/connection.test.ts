// Which failures LazyConnection reports as DatabaseUnavailableError (the ones the fallback queue is for),
// each produced for real: a stopped server, a black-holed port, a frozen backend, a server out of slots.
import { createServer, type Server, type Socket } from 'node:net';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LazyConnection } from '../../../lambdas/postgres/connection';
import { iamSource, urlSource } from '../../../lambdas/postgres/connection-source';
import { DatabaseUnavailableError } from '../../../lambdas/postgres/errors';
import { freePort, startMigratedServer, type TestServer } from '../../support/postgres';

let server: TestServer;
let url: string;
let admin: Client;
const connections: LazyConnection[] = [];

function connect(target: string, options: ConstructorParameters<typeof LazyConnection>[1] = {}): LazyConnection {
  const connection = new LazyConnection(urlSource(target), options);
  connections.push(connection);
  return connection;
}

beforeAll(async () => {
  ({ server, url } = await startMigratedServer());
  admin = new Client({ connectionString: url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

afterEach(async () => {
  await Promise.all(connections.splice(0).map((connection) => connection.close()));
});

describe('LazyConnection with overlapping callers', () => {
  it("runs their statements one at a time on its one client, never through pg's deprecated queue", async () => {
    let running = 0;
    let most = 0;
    const original = Object.getOwnPropertyDescriptor(Client.prototype, 'query')?.value as (
      this: Client,
      ...args: unknown[]
    ) => unknown;
    function counted(this: Client, ...args: unknown[]): unknown {
      running += 1;
      most = Math.max(most, running);
      const result = original.apply(this, args);
      if (result instanceof Promise) return result.finally(() => (running -= 1));
      running -= 1;
      return result;
    }
    vi.spyOn(Client.prototype, 'query').mockImplementation(counted);
    const connection = connect(url);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => connection.query<{ n: number }>('SELECT $1::int AS n, pg_sleep(0.02)', [n])),
    );
    expect(results.map((result) => result.rows[0]?.n)).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(1);
  });

  it('lets a caller whose turn comes after its deadline fail as the deadline, not wait on', async () => {
    const connection = connect(url);
    const deadline = Date.now() + 150;
    const slow = connection.query('SELECT pg_sleep(0.3)', [], { deadline: Date.now() + 1000 });
    const late = await connection.query('SELECT 1', [], { deadline }).catch((e: unknown) => e);
    await slow;
    expect(late).toBeInstanceOf(DatabaseUnavailableError);
    expect(late).toMatchObject({ errorClass: 'deadline' });
  });
});

describe('LazyConnection failure translation', () => {
  it('reports a server that is not running as DatabaseUnavailableError (ECONNREFUSED)', async () => {
    const port = await freePort();
    const error = await connect(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
      .query('SELECT 1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', failureClass: 'transient', errorClass: 'refused' });
  });

  describe('with a port that accepts connections and never answers', () => {
    let blackHole: Server;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      blackHole = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    });

    it('reports the connect timeout as DatabaseUnavailableError', async () => {
      const address = blackHole.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const connection = connect(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, {
        timeouts: { connectMs: 300 },
      });
      const error = await connection.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect((error as Error).message).toBe('The database could not be reached within the time budget');
    });
  });

  /** Runs `body` while the connection's backend process is frozen: a server that stopped answering mid-statement. */
  async function withFrozenBackend(connection: LazyConnection, body: () => Promise<void>): Promise<number> {
    const { rows } = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = rows[0]?.pid ?? 0;
    // The tests run as root (or as the postgres user that owns the server), so they may signal the backend.
    process.kill(pid, 'SIGSTOP');
    try {
      await body();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    return pid;
  }

  it('reports a statement the frozen server never answers as DatabaseUnavailableError when no retry fits the budget', async () => {
    const connection = connect(url, { timeouts: { queryMs: 400, connectMs: 1000 }, budgetMs: 1000 });
    const pid = await withFrozenBackend(connection, async () => {
      const error = await connection.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
    });
    // The connection that timed out client-side was dropped; the next statement gets a new one.
    const after = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(after.rows[0]?.pid).not.toBe(pid);
  });

  it('retries a statement the frozen server never answers on a new connection when the budget allows', async () => {
    const connection = connect(url, { timeouts: { queryMs: 400, connectMs: 1000 }, budgetMs: 3000 });
    let answeredBy: number | undefined;
    const pid = await withFrozenBackend(connection, async () => {
      const { rows } = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      answeredBy = rows[0]?.pid;
    });
    expect(answeredBy).toBeDefined();
    expect(answeredBy).not.toBe(pid);
  });

  it('retries on a new connection when the server ended the session while the container was frozen (57P05)', async () => {
    await admin.query("DROP ROLE IF EXISTS idle_reaped; CREATE ROLE idle_reaped LOGIN PASSWORD 'idle-reaped'");
    await admin.query("ALTER ROLE idle_reaped SET idle_session_timeout = '200ms'");
    const target = new URL(url);
    target.username = 'idle_reaped';
    target.password = 'idle-reaped';
    const connection = connect(target.toString());
    const first = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // A frozen Lambda container reads nothing: pause the socket, so the server's FATAL waits unread, as it would.
    const socket = (connection as unknown as { client: { connection: { stream: Socket } } }).client.connection.stream;
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const { rows: gone } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
      [first.rows[0]?.pid],
    );
    expect(gone[0]?.n).toBe(0);
    // Thawed: the next event's statement meets the FATAL (57P05) first, and is run again on a new connection.
    const pending = connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    socket.resume();
    const { rows } = await pending;
    expect(rows[0]?.pid).toBeDefined();
    expect(rows[0]?.pid).not.toBe(first.rows[0]?.pid);
  });

  it('reports a server with no connection slot for the role as DatabaseUnavailableError (53300)', async () => {
    await admin.query('DROP ROLE IF EXISTS no_slots');
    await admin.query("CREATE ROLE no_slots LOGIN PASSWORD 'no_slots' CONNECTION LIMIT 0");
    const target = new URL(url);
    target.username = 'no_slots';
    target.password = 'no_slots';
    const error = await connect(target.toString())
      .query('SELECT 1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: '53300', failureClass: 'transient', errorClass: 'too-many-connections' });
  });

  it('reports an IAM token that cannot be minted as DatabaseUnavailableError, so the sign-up can be queued', async () => {
    // Without TLS (the test server offers none), so that the token is what fails, as the password is asked for.
    const source = () => ({
      host: '127.0.0.1',
      port: server.port,
      database: 'postgres',
      user: 'signup_writer',
      password: () =>
        Promise.reject(
          Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          }),
        ),
    });
    const connection = new LazyConnection(source);
    connections.push(connection);
    const error = await connection.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'no-credentials' });
  });

  it('reports a server that offers no TLS to a client that requires it as permanent tls-not-offered', async () => {
    const source = iamSource({
      host: '127.0.0.1',
      port: server.port,
      database: 'postgres',
      user: 'postgres',
      token: () => Promise.resolve('postgres'),
    });
    const connection = new LazyConnection(source);
    connections.push(connection);
    const error = await connection.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toMatchObject({ failureClass: 'permanent', errorClass: 'tls-not-offered' });
  });

  it('reports a refused login as DatabaseUnavailableError carrying the SQLSTATE (28P01)', async () => {
    const error = await connect(url.replace('postgres:postgres@', 'postgres:wrong@'))
      .query('SELECT 1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: '28P01' });
  });

  it('passes a statement error that says nothing about the connection through untranslated', async () => {
    const error = await connect(url)
      .query("SELECT 'not a number'::int")
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: '22P02' });
  });

  it('reports a table the migrations should have made as permanent schema-missing, so the write is queued', async () => {
    const error = await connect(url)
      .query('SELECT * FROM no_such_table')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: '42P01', failureClass: 'permanent', errorClass: 'schema-missing' });
  });
});

describe('LazyConnection deadline', () => {
  it('tries nothing once the deadline has passed', async () => {
    const port = await freePort();
    // A refused port would answer ECONNREFUSED at once: the deadline error shows no connect was tried.
    const error = await connect(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
      .query('SELECT 1', [], { deadline: Date.now() - 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ failureClass: 'transient', errorClass: 'deadline' });
  });

  it('ends a statement when the deadline comes, before its own time limit', async () => {
    const connection = connect(url, { timeouts: { queryMs: 5000, statementMs: 5000 } });
    const started = Date.now();
    const error = await connection
      .query('SELECT pg_sleep(3)', [], { deadline: started + 400 })
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(1500);
  });

  it('gives the connect only what is left of the deadline', async () => {
    const blackHole = createServer(() => undefined);
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    try {
      const address = blackHole.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const connection = connect(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, {
        timeouts: { connectMs: 5000 },
      });
      const started = Date.now();
      const error = await connection.query('SELECT 1', [], { deadline: started + 300 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      blackHole.close();
    }
  });

  it('shares one deadline across the statements of an event', async () => {
    const connection = connect(url, { timeouts: { queryMs: 5000, statementMs: 5000 } });
    const deadline = Date.now() + 600;
    await connection.query('SELECT pg_sleep(0.4)', [], { deadline });
    const error = await connection.query('SELECT pg_sleep(0.4)', [], { deadline }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(Date.now()).toBeLessThan(deadline + 700);
  });
});
