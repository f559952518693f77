#!/usr/bin/env -S npx tsx
// `npm run rds -- status|stop|start|allow-ip`: stop the database when nobody works (it costs money), start it
// again, and let this machine's public IP reach it.
import { isIPv4 } from 'node:net';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  EC2Client,
  ModifySecurityGroupRulesCommand,
  paginateDescribeSecurityGroupRules,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import {
  DescribeDBInstancesCommand,
  RDSClient,
  StartDBInstanceCommand,
  StopDBInstanceCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { POSTGRES_PORT } from '../lib/constants';
import { awsClient, checkStage, stackName, stackOutput } from './cli/aws';
import {
  CliError,
  EXIT,
  describeFailure,
  parseCommandLine,
  processOutput,
  runMain,
  type Output,
  helpExit,
} from './cli/common';

const USAGE = `usage: npm run rds -- <command> [--stage dev] [options]
  status                        show the instance's state
  stop  [--no-wait]             stop the instance (AWS starts it again after 7 days)
  start [--no-wait]             start it and wait until it is available
  allow-ip [--ip A.B.C.D] [--group sg-...]
                                let one IPv4 address (default: this machine's public IP) reach port 5432;
                                dev only: refused for --stage prod
  --instance ID                 the DB instance (default: output DatabaseInstanceId of Cruddur-<stage>-Database)`;

const OPTIONS = {
  stage: { type: 'string', default: 'dev' },
  instance: { type: 'string' },
  'no-wait': { type: 'boolean', default: false },
  ip: { type: 'string' },
  group: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The description that marks the one ingress rule this tool owns; other rules are never touched. */
export const RULE_DESCRIPTION = 'cruddur-ops allow-ip (managed by npm run rds -- allow-ip)';
const CHECK_IP_URL = 'https://checkip.amazonaws.com';

export const SEVEN_DAY_WARNING =
  'note: AWS starts a stopped RDS instance again automatically after 7 days; stop it again then if you still want it stopped.';

// States from which the instance will not reach the one we wait for without someone acting.
const STUCK_STATES = new Set([
  'failed',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-parameters',
  'incompatible-restore',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'insufficient-capacity',
  'restore-error',
  'storage-full',
  'deleting',
]);

export interface RdsDeps {
  readonly output?: Output;
  readonly rds?: RDSClient;
  readonly cloudFormation?: CloudFormationClient;
  readonly ec2?: EC2Client;
  /** Used by allow-ip to ask checkip.amazonaws.com for this machine's public IP. */
  readonly fetch?: typeof fetch;
  /** Time between two DescribeDBInstances while waiting. @default 15000 */
  readonly pollIntervalMs?: number;
  /** Longest wait for a state to settle. @default 45 minutes (a start can take 10-20) */
  readonly maxWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

interface Context {
  readonly output: Output;
  readonly deps: RdsDeps;
  readonly stage: string;
  rds(): RDSClient;
  cloudFormation(): CloudFormationClient;
  ec2(): EC2Client;
}

const INSTANCE_ID = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;

async function instanceId(context: Context, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (!INSTANCE_ID.test(given))
      throw new CliError(
        `--instance must be a DB instance identifier, got ${JSON.stringify(given.slice(0, 70))}`,
        EXIT.USAGE,
      );
    return given;
  }
  return stackOutput(
    context.cloudFormation(),
    stackName(context.stage, 'Database'),
    'DatabaseInstanceId',
    '--instance ID',
  );
}

async function describe(context: Context, id: string): Promise<DBInstance> {
  try {
    const { DBInstances } = await context.rds().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    const instance = DBInstances?.[0];
    if (!instance) throw new CliError(`no DB instance ${id} in this account and region`, EXIT.CONFIG);
    return instance;
  } catch (error) {
    if (error instanceof Error && error.name === 'DBInstanceNotFoundFault') {
      throw new CliError(`no DB instance ${id} in this account and region (check AWS_REGION and --stage)`, EXIT.CONFIG);
    }
    throw error;
  }
}

async function status(context: Context, id: string): Promise<void> {
  const instance = await describe(context, id);
  const endpoint = instance.Endpoint?.Address
    ? `${instance.Endpoint.Address}:${instance.Endpoint.Port ?? POSTGRES_PORT}`
    : '-';
  const rows: [string, string][] = [
    ['instance', id],
    ['status', instance.DBInstanceStatus ?? 'unknown'],
    ['class', instance.DBInstanceClass ?? '-'],
    ['engine', `${instance.Engine ?? '-'} ${instance.EngineVersion ?? ''}`.trim()],
    ['endpoint', endpoint],
    ['public', instance.PubliclyAccessible ? 'yes' : 'no'],
  ];
  for (const [name, value] of rows) context.output.out(`${name.padEnd(9)}${value}`);
}

async function waitFor(context: Context, id: string, target: string): Promise<void> {
  const interval = context.deps.pollIntervalMs ?? 15_000;
  const maxWait = context.deps.maxWaitMs ?? 45 * 60_000;
  const sleep = context.deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = context.deps.now ?? Date.now;
  const started = now();
  let last: string | undefined;
  for (let polls = 0; ; polls += 1) {
    const current = (await describe(context, id)).DBInstanceStatus ?? 'unknown';
    const elapsed = Math.round((now() - started) / 1000);
    // A line when the state changes, and a heartbeat every ~10 polls so a long start does not look hung.
    if (current !== last || polls % 10 === 0) context.output.err(`rds: ${id} is ${current} (${elapsed}s)`);
    last = current;
    if (current === target) return;
    if (STUCK_STATES.has(current)) {
      throw new CliError(
        `${id} went to ${current} while waiting for ${target}; look at the RDS console events`,
        EXIT.WRONG_STATE,
      );
    }
    if (now() - started >= maxWait) {
      throw new CliError(
        `${id} is still ${current} after ${elapsed}s; it may get there on its own: check with npm run rds -- status`,
        EXIT.TIMEOUT,
      );
    }
    await sleep(interval);
  }
}

type Transition = 'stop' | 'start';

const TRANSITIONS: Record<Transition, { target: string; moving: string; verb: string }> = {
  stop: { target: 'stopped', moving: 'stopping', verb: 'stopping' },
  start: { target: 'available', moving: 'starting', verb: 'starting' },
};

async function transition(context: Context, id: string, kind: Transition, wait: boolean): Promise<void> {
  const { target, moving, verb } = TRANSITIONS[kind];
  const current = (await describe(context, id)).DBInstanceStatus ?? 'unknown';
  if (current === target) {
    throw new CliError(`${id} is already ${target}; nothing to ${kind}`, EXIT.WRONG_STATE);
  }
  if (current === moving) {
    context.output.out(`${id} is already ${moving}`);
  } else {
    try {
      const command =
        kind === 'stop'
          ? new StopDBInstanceCommand({ DBInstanceIdentifier: id })
          : new StartDBInstanceCommand({ DBInstanceIdentifier: id });
      await context.rds().send(command);
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidDBInstanceStateFault') {
        throw new CliError(`cannot ${kind} ${id} while it is ${current}: ${error.message}`, EXIT.WRONG_STATE);
      }
      throw error;
    }
    context.output.out(`${verb} ${id} (was ${current})`);
  }
  if (kind === 'stop') context.output.out(SEVEN_DAY_WARNING);
  if (!wait) return;
  await waitFor(context, id, target);
  context.output.out(`${id} is ${target}`);
}

/** One IPv4 address, as the rule will hold it; never a network, never 0.0.0.0. */
export function checkIp(value: string, source: string): string {
  const ip = value.trim();
  if (ip.includes('/'))
    throw new CliError(
      `${source} must be a single address (the rule is always /32), got ${JSON.stringify(ip.slice(0, 40))}`,
      EXIT.USAGE,
    );
  if (!isIPv4(ip))
    throw new CliError(`${source} is not an IPv4 address: ${JSON.stringify(ip.slice(0, 40))}`, EXIT.USAGE);
  if (ip.startsWith('0.') || ip === '255.255.255.255')
    throw new CliError(`${source} ${ip} is not an address a client connects from`, EXIT.USAGE);
  return ip;
}

async function publicIp(fetchImpl: typeof fetch): Promise<string> {
  let body: string;
  try {
    const response = await fetchImpl(CHECK_IP_URL, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.text();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `could not ask ${CHECK_IP_URL} for this machine's public IP (${reason}); pass --ip A.B.C.D`,
      EXIT.UNAVAILABLE,
    );
  }
  return checkIp(body, `the answer of ${CHECK_IP_URL}`);
}

const GROUP_ID = /^sg-[0-9a-f]{8,17}$/;

async function securityGroup(context: Context, given: string | undefined): Promise<string> {
  const group =
    given ??
    (await stackOutput(
      context.cloudFormation(),
      stackName(context.stage, 'Database'),
      'DatabaseSecurityGroupId',
      '--group sg-...',
    ));
  if (!GROUP_ID.test(group))
    throw new CliError(
      `${given ? '--group' : 'the stack output'} is not a security group id: ${JSON.stringify(group.slice(0, 30))}`,
      EXIT.USAGE,
    );
  return group;
}

function isOurs(rule: SecurityGroupRule): boolean {
  return rule.IsEgress === false && rule.Description === RULE_DESCRIPTION;
}

function alreadyRight(rule: SecurityGroupRule, cidr: string): boolean {
  return (
    rule.IpProtocol === 'tcp' &&
    rule.FromPort === POSTGRES_PORT &&
    rule.ToPort === POSTGRES_PORT &&
    rule.CidrIpv4 === cidr &&
    !rule.CidrIpv6 &&
    !rule.PrefixListId &&
    !rule.ReferencedGroupInfo
  );
}

async function allowIp(context: Context, ipFlag: string | undefined, groupFlag: string | undefined): Promise<void> {
  const ip = ipFlag !== undefined ? checkIp(ipFlag, '--ip') : await publicIp(context.deps.fetch ?? fetch);
  const cidr = `${ip}/32`;
  const group = await securityGroup(context, groupFlag);
  const ec2 = context.ec2();

  const ours: SecurityGroupRule[] = [];
  try {
    for await (const page of paginateDescribeSecurityGroupRules(
      { client: ec2 },
      { Filters: [{ Name: 'group-id', Values: [group] }] },
    )) {
      ours.push(...(page.SecurityGroupRules ?? []).filter(isOurs));
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidGroup.NotFound')
      throw new CliError(`security group ${group} does not exist in this account and region`, EXIT.CONFIG);
    throw error;
  }
  if (ours.length > 1) {
    throw new CliError(
      `${group} has ${ours.length} ingress rules with this tool's description (${ours.map((rule) => rule.SecurityGroupRuleId).join(', ')}); delete all but one and run again`,
      EXIT.WRONG_STATE,
    );
  }
  const rule = ours[0];
  if (rule && alreadyRight(rule, cidr)) {
    context.output.out(
      `${group}: rule ${rule.SecurityGroupRuleId} already allows ${cidr} on tcp/${POSTGRES_PORT}; nothing to do`,
    );
    return;
  }
  if (rule?.SecurityGroupRuleId) {
    await ec2.send(
      new ModifySecurityGroupRulesCommand({
        GroupId: group,
        SecurityGroupRules: [
          {
            SecurityGroupRuleId: rule.SecurityGroupRuleId,
            SecurityGroupRule: {
              IpProtocol: 'tcp',
              FromPort: POSTGRES_PORT,
              ToPort: POSTGRES_PORT,
              CidrIpv4: cidr,
              Description: RULE_DESCRIPTION,
            },
          },
        ],
      }),
    );
    context.output.out(
      `${group}: rule ${rule.SecurityGroupRuleId} now allows ${cidr} on tcp/${POSTGRES_PORT} (was ${rule.CidrIpv4 ?? 'something else'})`,
    );
    return;
  }
  try {
    const { SecurityGroupRules } = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: POSTGRES_PORT,
            ToPort: POSTGRES_PORT,
            IpRanges: [{ CidrIp: cidr, Description: RULE_DESCRIPTION }],
          },
        ],
      }),
    );
    const created = SecurityGroupRules?.[0]?.SecurityGroupRuleId;
    context.output.out(
      `${group}: created rule ${created ?? '(id not returned)'} allowing ${cidr} on tcp/${POSTGRES_PORT}`,
    );
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidPermission.Duplicate') {
      throw new CliError(
        `${group} already has another rule for ${cidr} on tcp/${POSTGRES_PORT} without this tool's description; nothing changed`,
        EXIT.WRONG_STATE,
      );
    }
    throw error;
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, deps: RdsDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  void env; // Region, credentials and AWS_ENDPOINT_URL are read by the SDK's own chains.
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, USAGE);
    const help = helpExit(values, USAGE, output);
    if (help !== undefined) return help;
    const [command, ...rest] = positionals;
    if (command === undefined) throw new CliError(`no command given\n${USAGE}`, EXIT.USAGE);
    if (rest.length > 0)
      throw new CliError(`unexpected argument ${JSON.stringify(rest[0]?.slice(0, 40))}\n${USAGE}`, EXIT.USAGE);
    let rds: RDSClient | undefined = deps.rds;
    let cloudFormation: CloudFormationClient | undefined = deps.cloudFormation;
    let ec2: EC2Client | undefined = deps.ec2;
    const context: Context = {
      output,
      deps,
      stage: checkStage(values.stage),
      rds: () => (rds ??= awsClient(RDSClient)),
      cloudFormation: () => (cloudFormation ??= awsClient(CloudFormationClient)),
      ec2: () => (ec2 ??= awsClient(EC2Client)),
    };
    const wait = !values['no-wait'];
    switch (command) {
      case 'status':
        await status(context, await instanceId(context, values.instance));
        return EXIT.OK;
      case 'stop':
      case 'start':
        await transition(context, await instanceId(context, values.instance), command, wait);
        return EXIT.OK;
      case 'allow-ip':
        // Before any AWS call: no flag makes an address rule on production acceptable.
        if (context.stage === 'prod') {
          throw new CliError(
            'allow-ip is for dev only: the production database is never opened to an address; reach it from inside the VPC (a Session Manager tunnel)',
            EXIT.NOT_ON_PROD,
          );
        }
        await allowIp(context, values.ip, values.group);
        return EXIT.OK;
      default:
        throw new CliError(`unknown command ${JSON.stringify(command.slice(0, 40))}\n${USAGE}`, EXIT.USAGE);
    }
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    output.err(`rds: ${message}`);
    return exitCode;
  }
}

if (require.main === module) runMain('rds', () => main(process.argv.slice(2)));
