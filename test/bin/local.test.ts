import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../bin/cli/common';
import { formatBanner, main, parseOptions } from '../../bin/local';
import { freePort } from '../../local/ports';
import { DEFAULT_PORTS } from '../../local/stack';
import { DEFAULT_DATA_DIR, type StackInfo } from '../../local/stack-info';
import {
  CognitoIdentityProviderClient,
  ListGroupsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { main as dbMain } from '../../bin/db';
import { main as usersMain } from '../../bin/users';
import { writeStackInfo } from '../../local/stack-info';
import { captureOutput } from '../support/output';
import { startMigratedServer, type TestServer } from '../support/postgres';

const ROOT = join(__dirname, '..', '..');

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start options', () => {
  it('uses the default ports and .local when nothing is given', () => {
    expect(parseOptions([], {})).toEqual({
      pgPort: DEFAULT_PORTS.pg,
      lambdaPort: DEFAULT_PORTS.lambda,
      cognitoPort: DEFAULT_PORTS.cognito,
      dir: DEFAULT_DATA_DIR,
    });
  });

  it('takes ports from the environment and lets a flag win over it', () => {
    const env = {
      LOCAL_PG_PORT: '6000',
      LOCAL_LAMBDA_PORT: '6001',
      LOCAL_COGNITO_PORT: '6002',
      LOCAL_DATA_DIR: '/tmp/x',
    };
    expect(parseOptions(['--lambda-port', '7001'], env)).toEqual({
      pgPort: 6000,
      lambdaPort: 7001,
      cognitoPort: 6002,
      dir: '/tmp/x',
    });
  });

  it('refuses a port that is not a TCP port, naming where it came from', () => {
    expect(() => parseOptions(['--pg-port', '70000'], {})).toThrow(
      new CliError('--pg-port must be a TCP port (1-65535), got "70000"', EXIT.USAGE),
    );
    expect(() => parseOptions([], { LOCAL_COGNITO_PORT: 'abc' })).toThrow(/LOCAL_COGNITO_PORT must be a TCP port/);
  });

  it('exits 64 with the usage for an unknown option or an argument, and prints the usage for --help', async () => {
    for (const argv of [['--nope'], ['extra'], ['--pg-port', '0']]) {
      const { out, err, output } = captureOutput();
      expect(await main(argv, {}, output)).toBe(EXIT.USAGE);
      expect(out).toEqual([]);
      expect(err.join('\n')).toMatch(/^npm start: /);
    }
    const help = captureOutput();
    expect(await main(['--help'], {}, help.output)).toBe(EXIT.OK);
    expect(help.out.join('\n')).toMatch(/^usage: npm start -- \[--pg-port N\]/);
  });
});

describe('the banner', () => {
  const info: StackInfo = {
    connectionUrl: 'postgres://postgres:s3cret-local@127.0.0.1:54329/cruddur',
    cognitoEndpoint: 'http://127.0.0.1:9229',
    userPoolId: 'local_abc123',
    userPoolClientId: 'client123',
    lambdaEndpoint: 'http://127.0.0.1:3001',
    functionName: 'PostConfirmationFunction',
    region: 'us-east-1',
    dataDir: join(ROOT, '.local'),
    cognitoLogFile: join(ROOT, '.local', 'cognito', 'cognito-local.log'),
  };
  const banner = formatBanner(info, join(ROOT, '.local', 'stack.json'));

  it('prints every stack.json value and commands that use them', () => {
    for (const value of [
      info.cognitoEndpoint,
      info.userPoolId,
      info.userPoolClientId,
      info.lambdaEndpoint,
      info.functionName,
    ]) {
      expect(banner).toContain(value);
    }
    expect(banner).toContain(
      `aws cognito-idp sign-up --endpoint-url ${info.cognitoEndpoint} --client-id ${info.userPoolClientId}`,
    );
    expect(banner).toContain(
      `aws cognito-idp admin-confirm-sign-up --endpoint-url ${info.cognitoEndpoint} --user-pool-id ${info.userPoolId}`,
    );
    expect(banner).toContain('npx tsx bin/local-user.ts sign-up');
  });

  it('points the helper commands at a data directory other than .local', () => {
    expect(banner).toContain('\n  npm run invoke -- events/confirm-sign-up.json');
    const elsewhere = formatBanner({ ...info, dataDir: '/tmp/elsewhere' }, '/tmp/elsewhere/stack.json');
    expect(elsewhere).toContain('LOCAL_DATA_DIR=/tmp/elsewhere npm run invoke -- events/confirm-sign-up.json');
    expect(elsewhere).toContain('LOCAL_DATA_DIR=/tmp/elsewhere npx tsx bin/local-user.ts list');
    expect(elsewhere).toContain('LOCAL_DATA_DIR=/tmp/elsewhere npm run db -- sessions');
    expect(elsewhere).toContain('LOCAL_DATA_DIR=/tmp/elsewhere npm run users -- reconcile --dry-run');
  });

  it('shows the local database password once, on the connection line only', () => {
    expect(banner.split('s3cret-local')).toHaveLength(2);
    expect(banner).toMatch(/connectionUrl +postgres:\/\/postgres:s3cret-local@/);
  });
});

describe("the banner's db and users commands", () => {
  let server: TestServer;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    ({ server, url } = await startMigratedServer());
    dir = await mkdtemp(join(tmpdir(), 'cruddur-banner-'));
  });

  afterAll(async () => {
    await server?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `npm run <script> -- <args>` lines of the banner, with the variables they set. */
  function commands(banner: string) {
    return [...banner.matchAll(/^ {2}((?:[A-Z_]+=\S+ )*)npm run (db|users) -- ([^#\n]+?)\s*(?:#.*)?$/gm)].map((m) => ({
      env: Object.fromEntries<string>(
        (m[1] ?? '')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((pair): [string, string] => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
      script: m[2] as 'db' | 'users',
      args: (m[3] ?? '').split(/\s+/),
    }));
  }

  it('work as printed against the stack they describe, with no other variable set', async () => {
    const info: StackInfo = {
      connectionUrl: url,
      cognitoEndpoint: 'http://127.0.0.1:9',
      userPoolId: 'local_BannerPool',
      userPoolClientId: 'client1',
      lambdaEndpoint: 'http://127.0.0.1:9',
      functionName: 'PostConfirmationFunction',
      region: 'us-east-1',
      dataDir: dir,
      cognitoLogFile: join(dir, 'cognito.log'),
    };
    const stackFile = await writeStackInfo(dir, info);
    const listed = commands(formatBanner(info, stackFile));
    expect(listed.map((c) => `${c.script} ${c.args.join(' ')}`)).toEqual([
      'db sessions',
      'db connect',
      'users reconcile --dry-run',
    ]);
    const cognito = new CognitoIdentityProviderClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    });
    mockClient(cognito).on(ListUsersCommand).resolves({ Users: [] }).on(ListGroupsCommand).resolves({ Groups: [] });
    for (const command of listed) {
      expect(command.env).toEqual({ LOCAL_DATA_DIR: dir });
      const captured = captureOutput();
      // psql reads its input from /dev/null here: it connects, finds nothing to run and exits 0.
      const code =
        command.script === 'db'
          ? await dbMain(command.args, command.env, {
              output: captured.output,
              connectTimeoutMs: 5000,
              spawn: (cmd, args, options) => spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }),
            })
          : await usersMain(command.args, command.env, { output: captured.output, cognito, connectTimeoutMs: 5000 });
      expect({ command: command.args.join(' '), code, err: captured.err }).toMatchObject({ code: EXIT.OK });
    }
  });
});

describe('npm start with a port already taken', () => {
  let blocker: Server;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cruddur-local-'));
    await chmod(dir, 0o755);
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('exits non-zero with one line naming the port and the flag, and no stack trace', async () => {
    // The other two ports are free ones, so only the taken one can be reported.
    const result = await run(
      ['--data-dir', dir, '--pg-port', String(await freePort()), '--cognito-port', String(await freePort())],
      {
        LOCAL_LAMBDA_PORT: String(port),
      },
    );
    expect(result.code).toBe(EXIT.FAILURE);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => !/warn|Warning/i.test(line)),
    ).toEqual([
      `npm start: port ${port} (Lambda Invoke API) is already in use: choose another with --lambda-port <port> or LOCAL_LAMBDA_PORT=<port>`,
    ]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });
});
