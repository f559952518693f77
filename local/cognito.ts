// cognito-local (a Cognito user pool emulator) as a child process, with its PreSignUp and Post Confirmation
// triggers pointed at our local Lambda Invoke API, and the one user pool and app client the local stack uses.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { LOOPBACK } from './ports';

export const POOL_NAME = 'cruddur-local';
export const CLIENT_NAME = 'cruddur-local-web';
const READY_TIMEOUT_MS = 20_000;

// cognito-local accepts any signature; these are placeholders the SDKs insist on, not credentials.
export const DUMMY_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export class CognitoLocalError extends Error {
  override readonly name = 'CognitoLocalError';
}

export interface CognitoLocalOptions {
  /** The stack's state directory; cognito-local runs in `<dir>/cognito` and keeps its pools there. */
  readonly dir: string;
  readonly port: number;
  /** The Lambda Invoke API endpoint its triggers call. */
  readonly lambdaEndpoint: string;
  /** Trigger -> the function name it invokes, as in the pool's LambdaConfig. */
  readonly triggers: Readonly<{ PreSignUp?: string; PostConfirmation?: string }>;
}

export interface CognitoLocal {
  readonly endpoint: string;
  /** Where its own output goes: the confirmation codes it "sends" are printed there. */
  readonly logFile: string;
  /** Resolves when the child exits, whether stop() asked it to or not. */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

export function cognitoWorkDir(dir: string): string {
  return join(dir, 'cognito');
}

export function localCognitoClient(endpoint: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({ endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS });
}

function cognitoLocalBin(): string {
  const pkg = require.resolve('cognito-local/package.json');
  const bin = (JSON.parse(readFileSync(pkg, 'utf8')) as { bin: string | Record<string, string> }).bin;
  return join(dirname(pkg), typeof bin === 'string' ? bin : (bin['cognito-local'] ?? 'lib/bin/start.js'));
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function waitUntilHealthy(endpoint: string, child: ChildProcess, recent: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let gone = false;
  void exited(child).then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new CognitoLocalError(`cognito-local exited during start:\n${recent()}`);
    try {
      const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new CognitoLocalError(
    `cognito-local did not answer on ${endpoint} within ${READY_TIMEOUT_MS} ms:\n${recent()}`,
  );
}

/**
 * cognito-local keeps the local users' passwords in plain text and "emails" their codes to its log: the owner's
 * alone, also when an earlier run left them readable.
 */
async function makePrivate(workDir: string): Promise<void> {
  for (const dir of [workDir, join(workDir, '.cognito'), join(workDir, '.cognito', 'db')]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
}

/** Runs `start` (a spawn) with umask 077, so that the files the child writes itself are 0600 too. */
function withPrivateUmask(start: () => ChildProcess): ChildProcess {
  const previous = process.umask(0o077);
  try {
    return start();
  } finally {
    process.umask(previous);
  }
}

export async function startCognitoLocal(options: CognitoLocalOptions): Promise<CognitoLocal> {
  const workDir = cognitoWorkDir(options.dir);
  // cognito-local reads `.cognito/config.json` and keeps its data in `.cognito/db`, relative to its cwd.
  await makePrivate(workDir);
  const config = {
    LambdaClient: { endpoint: options.lambdaEndpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS },
    TriggerFunctions: options.triggers,
  };
  const configFile = join(workDir, '.cognito', 'config.json');
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(configFile, 0o600);

  const logFile = join(workDir, 'cognito-local.log');
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  await chmod(logFile, 0o600);
  const tail: string[] = [];
  const child = withPrivateUmask(() =>
    spawn(process.execPath, [cognitoLocalBin()], {
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Nothing inherited: its aws-sdk v2 Lambda client must never find a developer's real credentials, profile
      // or endpoint. The keys are placeholders, not secrets: they only satisfy request signing locally.
      env: {
        PORT: String(options.port),
        HOST: LOOPBACK,
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_SDK_LOAD_CONFIG: '0',
        AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
    }),
  );
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const endpoint = `http://${LOOPBACK}:${options.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited(child);
      clearTimeout(killer);
    }
    await new Promise<void>((resolve) => log.end(() => resolve()));
  };
  try {
    await waitUntilHealthy(endpoint, child, () => tail.join('\n'));
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, logFile, exited: exited(child), stop };
}

export interface UserPoolIds {
  readonly userPoolId: string;
  readonly userPoolClientId: string;
}

/**
 * The local pool and its app client, found by name (so a later run reuses them and their users) or created.
 * Like Cruddur's pool: people sign in with their email, which is verified by a code; the username is the sub.
 */
export async function ensureUserPool(client: CognitoIdentityProviderClient): Promise<UserPoolIds> {
  const pools = await client.send(new ListUserPoolsCommand({ MaxResults: 60 }));
  let userPoolId = pools.UserPools?.find((pool) => pool.Name === POOL_NAME)?.Id;
  if (!userPoolId) {
    const created = await client.send(
      new CreateUserPoolCommand({
        PoolName: POOL_NAME,
        UsernameAttributes: ['email'],
        AutoVerifiedAttributes: ['email'],
      }),
    );
    userPoolId = created.UserPool?.Id;
  }
  if (!userPoolId) throw new CognitoLocalError('cognito-local created a user pool without an id');

  const clients = await client.send(new ListUserPoolClientsCommand({ UserPoolId: userPoolId, MaxResults: 60 }));
  let userPoolClientId = clients.UserPoolClients?.find((c) => c.ClientName === CLIENT_NAME)?.ClientId;
  if (!userPoolClientId) {
    const created = await client.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: CLIENT_NAME,
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    userPoolClientId = created.UserPoolClient?.ClientId;
  }
  if (!userPoolClientId) throw new CognitoLocalError('cognito-local created an app client without an id');
  return { userPoolId, userPoolClientId };
}

interface StoredUser {
  Username: string;
  ConfirmationCode?: string;
  Attributes?: { Name: string; Value?: string }[];
}

/**
 * The pending confirmation code cognito-local holds for a user (by username, sub or email), read from its
 * data file: what a developer would otherwise copy from the emailed code.
 */
export async function pendingConfirmationCode(
  dir: string,
  userPoolId: string,
  user: string,
): Promise<string | undefined> {
  const file = join(cognitoWorkDir(dir), '.cognito', 'db', `${userPoolId}.json`);
  if (!existsSync(file)) return undefined;
  const data = JSON.parse(await readFile(file, 'utf8')) as { Users?: Record<string, StoredUser> };
  const match = Object.values(data.Users ?? {}).find(
    (candidate) =>
      candidate.Username === user ||
      (candidate.Attributes ?? []).some((a) => (a.Name === 'sub' || a.Name === 'email') && a.Value === user),
  );
  return match?.ConfirmationCode;
}
