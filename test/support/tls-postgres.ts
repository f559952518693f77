// A throwaway PostgreSQL with TLS on: a CA made here with openssl (not an RDS one), a server certificate for
// `serverName`, and a pg_hba.conf of the test's own, so tests can show what verification accepts and refuses.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './postgres';

export interface TlsTestServer {
  readonly server: TestServer;
  /** The PEM of the CA that signed the server's certificate. */
  readonly ca: string;
  readonly caFile: string;
  destroy(): Promise<void>;
}

/** As root, the server runs as the postgres user, which must own its key (mode 0600). */
function handToServer(path: string): void {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  chownSync(path, id('-u'), id('-g'));
}

/**
 * `hba`: lines before the default ones (scram-sha-256 for everyone on loopback), e.g. a `trust` line for a
 * role whose IAM-style token no password could match.
 */
export async function startTlsServer(serverName: string, hba: readonly string[] = []): Promise<TlsTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cruddur-tls-'));
  chmodSync(dir, 0o755);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  try {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=Not an RDS CA',
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      `/CN=${serverName}`,
    );
    writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${serverName}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '1',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    );
    chmodSync(join(dir, 'server.key'), 0o600);
    handToServer(join(dir, 'server.key'));
    const lines = [
      'local all all scram-sha-256',
      ...hba,
      'host all all 127.0.0.1/32 scram-sha-256',
      'host all all ::1/128 scram-sha-256',
      '',
    ];
    writeFileSync(join(dir, 'pg_hba.conf'), lines.join('\n'), { mode: 0o644 });
    const server = await startTestServer({
      settings: {
        ssl: 'on',
        ssl_cert_file: join(dir, 'server.crt'),
        ssl_key_file: join(dir, 'server.key'),
        hba_file: join(dir, 'pg_hba.conf'),
      },
    });
    return {
      server,
      ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      caFile: join(dir, 'ca.crt'),
      async destroy() {
        await server.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
