// Where the warm run's processes run: the function instances on one CPU, PostgreSQL on another.
//
// In AWS the function and the database are on different machines. On a 2-core machine the scheduler may put
// a function process and its backend on one CPU (their work then adds up) or on two (it overlaps), and which
// it picks changes from one connection, and one run, to the next: that moved the warm ratio by more than the
// handler's own work does. Giving each side a CPU of its own is the deployment's shape, and the same for the
// handler and the floor. Linux only: `taskset` (util-linux) and /proc; elsewhere the run is not pinned and
// says so.
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { withClient } from '../local/embedded-postgres';

const run = promisify(execFile);

/** The CPUs the warm run puts each side on, as `taskset -c` lists them. */
export interface Placement {
  /** The function instances (handler and floors). */
  readonly client: string;
  /** PostgreSQL: the postmaster and every backend it starts. */
  readonly server: string;
  /** What the bench itself may run on: where the server goes back to after the warm run. */
  readonly all: string;
}

/** Either where the sides go, or why they are left to the scheduler. */
export type PlacementChoice = { readonly placement: Placement } | { readonly unpinned: string };

/** The CPUs in a Linux CPU list ("0-3,6"), in order. Throws on anything else. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let cpu = first; cpu <= last; cpu += 1) cpus.push(cpu);
  }
  return cpus;
}

/** A process's allowed CPUs, from /proc/<pid>/status. */
export async function allowedCpus(pid: number | 'self' = 'self'): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
  if (list === undefined) throw new Error(`/proc/${pid}/status has no Cpus_allowed_list`);
  return list;
}

/**
 * The first two CPUs this process may use, one for each side; or, without two CPUs, taskset or /proc, why not.
 * `pin: false` (`npm run bench -- --no-pin`) leaves both sides to the scheduler, to compare.
 */
export async function choosePlacement(pin = true): Promise<PlacementChoice> {
  if (!pin) return { unpinned: 'not pinned (--no-pin)' };
  let all: string;
  try {
    all = await allowedCpus();
    await run('taskset', ['--version']);
  } catch {
    return { unpinned: 'not pinned: needs Linux with taskset (util-linux)' };
  }
  const [client, server] = parseCpuList(all);
  if (client === undefined || server === undefined) return { unpinned: `not pinned: one CPU (${all})` };
  return { placement: { client: String(client), server: String(server), all } };
}

/** Sets the CPUs of a process and of each of its threads. */
async function setAffinity(pid: number, cpus: string): Promise<void> {
  await run('taskset', ['--all-tasks', '--pid', '--cpu-list', cpus, String(pid)]);
}

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may hold spaces; the fields after it are: state, ppid, ...
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (!Number.isInteger(ppid)) throw new Error(`cannot read the parent of process ${pid}`);
  return ppid;
}

/** The postmaster's pid: the parent of this connection's backend. */
async function postmasterOf(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]?.pid;
    if (backend === undefined) throw new Error('pg_backend_pid() returned no row');
    return parentOf(backend);
  });
}

/**
 * Puts the PostgreSQL server at `url` (which must run on this machine) on `cpus`: the postmaster, so that every
 * backend it starts from now on inherits them, and the processes it already has. Returns the postmaster's pid.
 */
export async function pinServer(url: string, cpus: string): Promise<number> {
  const postmaster = await postmasterOf(url);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // A process may end between the listing and the read: it has no CPUs to set then.
    const parent = await parentOf(Number(entry)).catch(() => undefined);
    if (parent === postmaster) children.push(Number(entry));
  }
  await setAffinity(postmaster, cpus);
  for (const child of children) await setAffinity(child, cpus).catch(() => undefined);
  return postmaster;
}
