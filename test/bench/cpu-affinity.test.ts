import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedCpus, choosePlacement, parseCpuList, pinServer } from '../../bench/cpu-affinity';
import { withClient } from '../../local/embedded-postgres';
import { startTestServer, type TestServer } from '../support/postgres';

describe('parseCpuList', () => {
  it('reads single CPUs and ranges in order', () => {
    expect(parseCpuList('0')).toEqual([0]);
    expect(parseCpuList('0-3,6\n')).toEqual([0, 1, 2, 3, 6]);
    expect(parseCpuList('1,3-4')).toEqual([1, 3, 4]);
  });

  it('refuses anything that is not a CPU list, quoting it', () => {
    expect(() => parseCpuList('0-')).toThrow('not a CPU list: "0-"');
    expect(() => parseCpuList('a')).toThrow(/not a CPU list/);
  });
});

describe('choosePlacement', () => {
  it('leaves both sides to the scheduler when asked to, and says so', async () => {
    expect(await choosePlacement(false)).toEqual({ unpinned: 'not pinned (--no-pin)' });
  });

  it("gives the instances and PostgreSQL a CPU each out of this process's own, or says why it cannot", async () => {
    const choice = await choosePlacement();
    const mine = parseCpuList(await allowedCpus());
    if ('unpinned' in choice) {
      // Only a machine with one CPU (or without taskset) lands here; this one has two.
      expect(mine.length).toBeLessThan(2);
      expect(choice.unpinned).toMatch(/^not pinned: /);
      return;
    }
    const { client, server, all } = choice.placement;
    expect(client).not.toBe(server);
    expect(mine).toContain(Number(client));
    expect(mine).toContain(Number(server));
    expect(all).toBe(await allowedCpus());
  });
});

describe('pinServer', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.destroy();
  });

  const backendCpus = () =>
    withClient(server.url(), async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return allowedCpus(rows[0]?.pid ?? Number.NaN);
    });

  it('puts every backend the server starts from then on, and the ones it has, on the CPUs given, and back', async () => {
    const choice = await choosePlacement();
    if ('unpinned' in choice) return;
    const { server: cpu, all } = choice.placement;
    // A backend that is there before the pin: an idle session held open across it.
    await withClient(server.url(), async (held) => {
      const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const heldPid = rows[0]?.pid ?? Number.NaN;
      try {
        const postmaster = await pinServer(server.url(), cpu);
        expect(await allowedCpus(postmaster)).toBe(cpu);
        expect(await backendCpus()).toBe(cpu);
        expect(await allowedCpus(heldPid)).toBe(cpu);
      } finally {
        await pinServer(server.url(), all);
      }
      expect(await backendCpus()).toBe(all);
      expect(await allowedCpus(heldPid)).toBe(all);
    });
  });
});
