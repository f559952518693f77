// Every difference between dev and prod lives here, in one table, so a reviewer can see what a stage changes.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';

export type StageName = 'dev' | 'prod';
export const STAGES: readonly StageName[] = ['dev', 'prod'];

export interface StageSettings {
  readonly stage: StageName;
  /** The database instance class; `maxConnections` below must match it. */
  readonly instanceType: ec2.InstanceType;
  /**
   * A conservative `max_connections` for `instanceType`: RDS sets LEAST(DBInstanceClassMemory / 9531392, 5000),
   * and DBInstanceClassMemory is the nominal memory less what the OS and RDS processes keep.
   */
  readonly maxConnections: number;
  /**
   * Reserved concurrency of the post-confirmation function: an upper bound on its connections (one per
   * container), kept well below `maxConnections` (see `reservedConcurrencyFits`).
   */
  readonly reservedConcurrency: number;
  readonly multiAz: boolean;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly backupRetention: Duration;
  readonly deletionProtection: boolean;
  /** What happens to the database and the user pool when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  /** Cognito Plus tier with threat protection enforced (compromised credentials, adaptive authentication). */
  readonly threatProtection: boolean;
  /** Optional operator CIDR allowed to 5432 (dev only). */
  readonly adminCidr?: string;
  /** Dev only, and only with `adminCidr`: the database in a public subnet with a public address. */
  readonly publicAccess: boolean;
  /** RDS Proxy in front of the database, IAM authentication end to end. */
  readonly proxy: boolean;
  /** Subscribed to the stage's alerts topic (`-c alarmEmail=ops@example.com`). @default - no subscription */
  readonly alarmEmail?: string;
  /** The only regions the stacks may be deployed to (`-c allowedRegions=eu-west-1,eu-central-1`); empty: any. */
  readonly allowedRegions: readonly string[];
}

/** Connections kept free for everyone but the post-confirmation function (see `reservedConcurrencyFits`). */
export const OTHER_CONNECTIONS = {
  /** `superuser_reserved_connections` (3) + `rds.rds_superuser_reserved_connections` (2). */
  reserved: 5,
  /** The migration function, the rotation function, an operator's psql, the reconcile job, monitoring. */
  operations: 10,
};

const BASE: Record<StageName, Omit<StageSettings, 'adminCidr' | 'publicAccess' | 'proxy' | 'alarmEmail' | 'allowedRegions'>> = {
  dev: {
    stage: 'dev',
    // 1 GiB: nominal 1073741824 / 9531392 = 112; the OS and RDS keep part of it, so assume 80.
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
    maxConnections: 80,
    // 80 - 5 reserved - 10 operations = 65 usable; 20 leaves room for the other functions of later issues.
    reservedConcurrency: 20,
    multiAz: false,
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 50,
    backupRetention: Duration.days(1),
    deletionProtection: false,
    removalPolicy: RemovalPolicy.DESTROY,
    logRetention: logs.RetentionDays.TWO_WEEKS,
    threatProtection: false,
  },
  prod: {
    stage: 'prod',
    // 4 GiB: nominal 4294967296 / 9531392 = 450; assume 410 after the OS and RDS share.
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
    maxConnections: 410,
    // 410 - 5 - 10 = 395 usable; 100 is far above the sign-up rate (see README "Scaling: RDS Proxy").
    reservedConcurrency: 100,
    multiAz: true,
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 200,
    backupRetention: Duration.days(14),
    deletionProtection: true,
    removalPolicy: RemovalPolicy.SNAPSHOT,
    logRetention: logs.RetentionDays.SIX_MONTHS,
    threatProtection: true,
  },
};

export class StageConfigError extends Error {
  override readonly name = 'StageConfigError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`context ${key} ${reason}`);
  }
}

type Context = (key: string) => unknown;

function flag(context: Context, key: string): boolean {
  const value = context(key);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new StageConfigError(key, 'must be true or false');
}

const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(\d|[12]\d|3[0-2])$/;
/** Narrowest range an admin CIDR may be: one laptop or one office, never the internet. */
export const ADMIN_CIDR_MIN_PREFIX = 24;

export function checkAdminCidr(cidr: string): string {
  if (!IPV4_CIDR.test(cidr)) throw new StageConfigError('adminCidr', 'must be an IPv4 CIDR such as 203.0.113.7/32');
  const prefix = Number(cidr.split('/')[1]);
  if (prefix < ADMIN_CIDR_MIN_PREFIX) {
    throw new StageConfigError('adminCidr', `must be /${ADMIN_CIDR_MIN_PREFIX} or narrower (one host or one office)`);
  }
  return cidr;
}

// One address, no list and no display name: the value becomes an SNS email subscription as it is.
const EMAIL = /^[^\s@,;<>"]+@[^\s@,;<>".]+(\.[^\s@,;<>".]+)+$/;

export function checkAlarmEmail(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !EMAIL.test(value)) {
    throw new StageConfigError('alarmEmail', 'must be one email address such as ops@example.com');
  }
  return value;
}

// eu-west-1, us-gov-west-1, cn-north-1, ap-southeast-7, eusc-de-east-1: a partition-free shape check; a
// well-formed name of no real region only makes every deploy fail, which is the safe direction.
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/** Reads a comma-separated list (the command line) or an array (cdk.json); empty or absent: any region. */
export function checkAllowedRegions(value: unknown): readonly string[] {
  if (value === undefined || value === '') return [];
  const items = typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value;
  if (!Array.isArray(items) || items.some((item) => typeof item !== 'string')) {
    throw new StageConfigError('allowedRegions', 'must be a comma-separated list of regions such as eu-west-1,eu-central-1');
  }
  const regions = items as string[];
  const wrong = regions.find((region) => !REGION.test(region));
  if (wrong !== undefined) {
    throw new StageConfigError('allowedRegions', `has ${wrong === '' ? 'an empty entry' : JSON.stringify(wrong)}, which is not a region name such as eu-west-1`);
  }
  return [...new Set(regions)];
}

/** True when the function's connections, plus the reserved and operational ones, fit in `max_connections`. */
export function reservedConcurrencyFits(settings: Pick<StageSettings, 'maxConnections' | 'reservedConcurrency'>): boolean {
  return settings.reservedConcurrency + OTHER_CONNECTIONS.reserved + OTHER_CONNECTIONS.operations <= settings.maxConnections;
}

/** Reads `stage`, `adminCidr`, `publicAccess` and `proxy` from CDK context and checks how they combine. */
export function stageSettings(context: Context): StageSettings {
  const stage = context('stage') ?? 'dev';
  if (stage !== 'dev' && stage !== 'prod') throw new StageConfigError('stage', 'must be dev or prod');
  const rawCidr = context('adminCidr');
  if (rawCidr !== undefined && typeof rawCidr !== 'string') throw new StageConfigError('adminCidr', 'must be a string');
  const adminCidr = rawCidr === undefined || rawCidr === '' ? undefined : checkAdminCidr(rawCidr);
  if (adminCidr !== undefined && stage === 'prod') {
    throw new StageConfigError('adminCidr', 'is for dev only: prod is reached through the VPC');
  }
  const publicAccess = flag(context, 'publicAccess');
  if (publicAccess && (stage !== 'dev' || adminCidr === undefined)) {
    throw new StageConfigError('publicAccess', 'is allowed only in dev and only together with adminCidr');
  }
  const settings: StageSettings = {
    ...BASE[stage],
    adminCidr,
    publicAccess,
    proxy: flag(context, 'proxy'),
    alarmEmail: checkAlarmEmail(context('alarmEmail')),
    allowedRegions: checkAllowedRegions(context('allowedRegions')),
  };
  if (!reservedConcurrencyFits(settings)) {
    throw new StageConfigError('stage', `reserved concurrency ${settings.reservedConcurrency} does not fit max_connections ${settings.maxConnections}`);
  }
  return settings;
}
