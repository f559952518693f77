// `npm run db -- tunnel --stage <stage>`: a Session Manager port forward from a local port, through the operator
// host of `-c operatorAccess=true` (lib/constructs/operator-access.ts), to the private database.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { POSTGRES_PORT } from '../../lib/constants';
import { stackName, stackOutput } from './aws';
import { CliError, EXIT, type Output } from './common';

export const DEFAULT_LOCAL_PORT = 15432;
/** The SSM document that forwards to a host other than the instance itself. */
export const PORT_FORWARDING_DOCUMENT = 'AWS-StartPortForwardingSessionToRemoteHost';

type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** What `tunnel` needs from the AWS CLI's side, with how to get it when it is missing. */
const REQUIRED_PROGRAMS = [
  {
    name: 'aws',
    install:
      'the AWS CLI v2 is not installed or not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and retry',
  },
  {
    name: 'session-manager-plugin',
    install:
      'the Session Manager plugin for the AWS CLI (session-manager-plugin) is not installed or not on PATH; install it (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html) and retry',
  },
] as const;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` on `env.PATH`, as spawn would find it; undefined when there is none. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const extensions = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const extension of extensions) {
      const candidate = join(dir, name + extension);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export function parseLocalPort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOCAL_PORT;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new CliError(`--local-port must be a TCP port, got ${JSON.stringify(value.slice(0, 20))}`, EXIT.USAGE);
  }
  return Number(value);
}

/** The AWS CLI's arguments: an argument array, never a shell string, so no value is ever parsed by a shell. */
export function startSessionArgs(target: {
  instanceId: string;
  endpoint: string;
  localPort: number;
  region: string;
}): string[] {
  return [
    'ssm',
    'start-session',
    '--target',
    target.instanceId,
    '--document-name',
    PORT_FORWARDING_DOCUMENT,
    '--parameters',
    `host=${target.endpoint},portNumber=${POSTGRES_PORT},localPortNumber=${target.localPort}`,
    // The region the outputs were read in: the CLI's own default could name another.
    '--region',
    target.region,
  ];
}

export interface TunnelOptions {
  readonly stage: string;
  readonly localPort: number;
  readonly env: NodeJS.ProcessEnv;
  readonly cloudFormation: CloudFormationClient;
  readonly spawn: Spawn;
  readonly output: Output;
}

async function operatorInstance(cloudFormation: CloudFormationClient, stage: string): Promise<string> {
  const stack = stackName(stage, 'Database');
  try {
    return await stackOutput(cloudFormation, stack, 'OperatorInstanceId', '-c operatorAccess=true');
  } catch (error) {
    // The stack exists (its endpoint was just read): a configuration error here is the missing output.
    if (error instanceof CliError && error.exitCode === EXIT.CONFIG) {
      throw new CliError(
        `${stack} has no operator host (no OperatorInstanceId output); turn it on with: npx cdk deploy -c stage=${stage} -c operatorAccess=true`,
        EXIT.CONFIG,
      );
    }
    throw error;
  }
}

/** Resolves to the AWS CLI's exit code once the session ends (Ctrl-C ends it). */
export async function openTunnel(options: TunnelOptions): Promise<number> {
  const { stage, localPort, env, cloudFormation, output } = options;
  // What this machine needs comes first: no AWS call is worth making when the session cannot be opened.
  for (const program of REQUIRED_PROGRAMS) {
    if (findOnPath(program.name, env) === undefined) throw new CliError(program.install, EXIT.NOT_FOUND);
  }
  const endpoint = await stackOutput(
    cloudFormation,
    stackName(stage, 'Database'),
    'DatabaseEndpoint',
    '--stage of a deployed stack',
  );
  const instanceId = await operatorInstance(cloudFormation, stage);
  const region = await cloudFormation.config.region();
  const args = startSessionArgs({ instanceId, endpoint, localPort, region });

  output.err(`tunnel: 127.0.0.1:${localPort} -> ${endpoint}:${POSTGRES_PORT} through ${instanceId}; Ctrl-C ends it`);
  // TLS is still verified against the endpoint's own name: --host and --port only say where the bytes go.
  output.out(
    `in another terminal: npm run db -- connect --stage ${stage} --db-user <NAME> --host 127.0.0.1 --port ${localPort}`,
  );

  const child = options.spawn('aws', args, { stdio: 'inherit', env });
  // Ctrl-C belongs to the session: the CLI closes it cleanly; it must not end us first and orphan it.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(error.code === 'ENOENT' ? new CliError(REQUIRED_PROGRAMS[0].install, EXIT.NOT_FOUND) : error);
      });
      child.once('exit', (code) => resolve(code ?? EXIT.FAILURE));
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}
