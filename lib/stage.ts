// Every difference between dev and prod lives here, in one table, so a reviewer can see what a stage changes.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ERASURE_POLICIES, type ErasurePolicy } from '../lambdas/users/erasure-policy';
import { federationOptions, type FederationOptions } from './identity-providers';
import { StageConfigError } from './stage-config-error';

export { StageConfigError };

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
  /**
   * Reserved concurrency of the PreSignUp function: the bound on handle_checker's connections. Without one,
   * a burst of unauthenticated sign-ups could take every connection the database has.
   */
  readonly preSignUpConcurrency: number;
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
  /** The user lifecycle sync: trail, erasure, reconcile (`lifecycleSettings`). */
  readonly lifecycle: LifecycleSettings;
  /**
   * A Session Manager host in an isolated subnet, its endpoints and a 5432 rule from it only
   * (lib/constructs/operator-access.ts): the way in for `npm run db -- tunnel`. @default false
   */
  readonly operatorAccess: boolean;
  /**
   * How many AZs' isolated subnets carry the interface endpoints (`-c endpointAzs=1`, dev only). One halves
   * their cost, but an outage of that AZ cuts the functions in the other AZ off from SQS and Secrets
   * Manager: a sign-up then fails instead of being queued. @default 2
   */
  readonly endpointAzs: EndpointAzs;
  /** Identity providers, the managed login domain and the app client's URLs (lib/identity-providers.ts). */
  readonly federation: FederationOptions;
}

export type EndpointAzs = 1 | 2;

// What `ERASURE_POLICY` tells the writer and the reconcile to do with an erased user's row: the functions' own
// list, so that the context option and the functions cannot disagree.
export type { ErasurePolicy };

/** The user lifecycle sync's options, read from `-c existingTrail`, `-c erasure`, `-c reconcile*`. */
export interface LifecycleSettings {
  /** The account's own trail logs management events here, so the app creates none. @default false */
  readonly existingTrail: boolean;
  /** @default 'delete' */
  readonly erasure: ErasurePolicy;
  /** When a reconcile run starts: an EventBridge Scheduler `rate(...)` or `cron(...)`. @default 'rate(1 day)' */
  readonly reconcileSchedule: string;
  /** ListUsers requests a second a run may make, of the 30 the whole account and region share. @default 5 */
  readonly reconcileRate: number;
  /** Whether a scheduled run erases rows whose user left the pool (only after it has seen the whole pool). @default true */
  readonly reconcilePrune: boolean;
  /**
   * The most rows one scheduled prune may erase (`RECONCILE_MAX_PRUNE`); a run with more candidates erases none
   * and alarms. @default - the larger of 10 rows and 1% of the table
   */
  readonly reconcileMaxPrune?: number;
  /** A day's drift (rows a reconcile had to repair) above this alarms: the event path misses changes. @default 10 */
  readonly reconcileDriftThreshold: number;
  /**
   * Days the trail's log files are kept in its bucket (lib/constructs/audit-trail.ts). The trail exists to feed
   * EventBridge, which needs none of it stored; CloudTrail's event history keeps 90 days of management events
   * on its own. @default 30
   */
  readonly trailRetentionDays: number;
}

/** The PostgreSQL login role of each function that connects (sql/migrations 0002 and 0003). */
export const DATABASE_USERS = {
  postConfirmation: 'signup_writer',
  preSignUp: 'handle_checker',
  replay: 'sync_writer',
  reconcile: 'user_reconciler',
} as const;
export type DatabaseUser = (typeof DATABASE_USERS)[keyof typeof DATABASE_USERS];

/**
 * Concurrency that is the same in every stage, named here because the connection arithmetic counts it: the
 * replay function's SQS event source runs at most this many at once, and one reconcile runs at a time.
 */
export const FIXED_CONCURRENCY = { replay: 2, reconcile: 1 } as const;

/** Connections kept free for everyone but the post-confirmation function (see `reservedConcurrencyFits`). */
export const OTHER_CONNECTIONS = {
  /** `superuser_reserved_connections` (3) + `rds.rds_superuser_reserved_connections` (2). */
  reserved: 5,
  /** The migration function, the rotation function, an operator's psql or CLI, monitoring. */
  operations: 10,
  /** The export function's role, user_exporter: CONNECTION LIMIT 2 (sql/migrations/0006_groups_and_export.sql). */
  exporter: 2,
};

const BASE: Record<
  StageName,
  Omit<
    StageSettings,
    | 'adminCidr'
    | 'publicAccess'
    | 'proxy'
    | 'alarmEmail'
    | 'allowedRegions'
    | 'lifecycle'
    | 'operatorAccess'
    | 'endpointAzs'
    | 'federation'
  >
> = {
  dev: {
    stage: 'dev',
    // 1 GiB: nominal 1073741824 / 9531392 = 112; the OS and RDS keep part of it, so assume 80.
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
    maxConnections: 80,
    // 80 - 5 reserved - 10 operations = 65 usable; 20 leaves room for the other functions.
    reservedConcurrency: 20,
    // 20 + 10 + replay 2 + reconcile 1 = 33 of the 65 usable.
    preSignUpConcurrency: 10,
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
    // 410 - 5 - 10 = 395 usable; 100 is far above the sign-up rate (see docs/scaling.md).
    reservedConcurrency: 100,
    // 100 + 50 + replay 2 + reconcile 1 = 153 of the 395 usable.
    preSignUpConcurrency: 50,
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
    throw new StageConfigError(
      'allowedRegions',
      'must be a comma-separated list of regions such as eu-west-1,eu-central-1',
    );
  }
  const regions = items as string[];
  const wrong = regions.find((region) => !REGION.test(region));
  if (wrong !== undefined) {
    throw new StageConfigError(
      'allowedRegions',
      `has ${wrong === '' ? 'an empty entry' : JSON.stringify(wrong)}, which is not a region name such as eu-west-1`,
    );
  }
  return [...new Set(regions)];
}

type ConnectionInputs = Pick<StageSettings, 'maxConnections' | 'reservedConcurrency' | 'preSignUpConcurrency'>;

/**
 * The most connections each function's role can hold at once: one per container, so its concurrency. The
 * migration gives each role this CONNECTION LIMIT (CONNECTION_LIMITS), so the bound holds in the database too.
 */
export function connectionLimits(settings: ConnectionInputs): Record<DatabaseUser, number> {
  return {
    [DATABASE_USERS.postConfirmation]: settings.reservedConcurrency,
    [DATABASE_USERS.preSignUp]: settings.preSignUpConcurrency,
    [DATABASE_USERS.replay]: FIXED_CONCURRENCY.replay,
    [DATABASE_USERS.reconcile]: FIXED_CONCURRENCY.reconcile,
  };
}

/** Connections every function that connects may hold, plus the reserved and operational ones. */
export function connectionsNeeded(settings: ConnectionInputs): number {
  const functions = Object.values(connectionLimits(settings)).reduce((sum, limit) => sum + limit, 0);
  return functions + OTHER_CONNECTIONS.reserved + OTHER_CONNECTIONS.operations + OTHER_CONNECTIONS.exporter;
}

/** True when every connecting function, plus the reserved and operational connections, fits in `max_connections`. */
export function reservedConcurrencyFits(settings: ConnectionInputs): boolean {
  return connectionsNeeded(settings) <= settings.maxConnections;
}

// rate(1 day), rate(12 hours): singular unit for 1, plural otherwise, as EventBridge Scheduler requires.
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
// cron(minutes hours day-of-month month day-of-week year): six fields of the characters Scheduler allows.
const CRON = /^cron\(([0-9A-Za-z*?,/#-]+ ){5}[0-9A-Za-z*?,/#-]+\)$/;

/** Checks the shape of a schedule expression; Scheduler itself checks the values when the stack deploys. */
export function checkReconcileSchedule(value: unknown): string {
  if (value === undefined || value === '') return 'rate(1 day)';
  if (typeof value === 'string') {
    const rate = RATE.exec(value);
    if (rate !== null) {
      const amount = Number(rate[1]);
      const singular = !rate[2]!.endsWith('s');
      if (amount >= 1 && singular === (amount === 1)) return value;
    } else if (CRON.test(value)) {
      return value;
    }
  }
  throw new StageConfigError(
    'reconcileSchedule',
    'must be rate(<n> <unit>) such as rate(1 day) or rate(12 hours), or cron(<6 fields>) such as cron(0 3 * * ? *)',
  );
}

/** Of ListUsers' 30 requests a second per account and region, at most this share goes to one reconcile. */
export const MAX_RECONCILE_RATE = 20;

function reconcileRate(value: unknown): number {
  if (value === undefined || value === '') return 5;
  const rate =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(rate > 0 && rate <= MAX_RECONCILE_RATE)) {
    throw new StageConfigError(
      'reconcileRate',
      `must be a number of ListUsers requests a second above 0 and at most ${MAX_RECONCILE_RATE}`,
    );
  }
  return rate;
}

function erasurePolicy(value: unknown): ErasurePolicy {
  if (value === undefined || value === '') return 'delete';
  const policy = ERASURE_POLICIES.find((known) => known === value);
  if (policy !== undefined) return policy;
  throw new StageConfigError('erasure', `must be ${ERASURE_POLICIES.join(' or ')}`);
}

/**
 * A whole number from cdk.json (a number) or the command line (a string of digits), at least `min`; absent or
 * empty: undefined. Anything else is refused, naming the key.
 */
function wholeNumber(context: Context, key: string, min: 0 | 1): number | undefined {
  const value = context(key);
  if (value === undefined || value === '') return undefined;
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new StageConfigError(key, min === 1 ? 'must be a whole number above 0' : 'must be a whole number, 0 or more');
  }
  return number;
}

/**
 * Reads `existingTrail`, `erasure`, `reconcileSchedule`, `reconcileRate`, `reconcilePrune`, `reconcileMaxPrune`,
 * `reconcileDriftThreshold` and `trailRetentionDays` from CDK context.
 */
export function lifecycleSettings(context: Context): LifecycleSettings {
  const prune = context('reconcilePrune');
  const existingTrail = flag(context, 'existingTrail');
  const trailRetentionDays = wholeNumber(context, 'trailRetentionDays', 1);
  if (existingTrail && trailRetentionDays !== undefined) {
    throw new StageConfigError(
      'trailRetentionDays',
      "has no effect with existingTrail: the account's own trail keeps its logs",
    );
  }
  return {
    existingTrail,
    erasure: erasurePolicy(context('erasure')),
    reconcileSchedule: checkReconcileSchedule(context('reconcileSchedule')),
    reconcileRate: reconcileRate(context('reconcileRate')),
    reconcilePrune: prune === undefined ? true : flag(context, 'reconcilePrune'),
    reconcileMaxPrune: wholeNumber(context, 'reconcileMaxPrune', 1),
    reconcileDriftThreshold: wholeNumber(context, 'reconcileDriftThreshold', 0) ?? 10,
    trailRetentionDays: trailRetentionDays ?? 30,
  };
}

/** Two (the VPC's AZs) unless dev asks for one: prod keeps sign-ups queueable through an AZ outage. */
export function checkEndpointAzs(value: unknown, stage: StageName): EndpointAzs {
  if (value === undefined || value === '') return 2;
  const azs = value === 1 || value === '1' ? 1 : value === 2 || value === '2' ? 2 : undefined;
  if (azs === undefined) throw new StageConfigError('endpointAzs', 'must be 1 or 2');
  if (azs === 1 && stage !== 'dev') {
    throw new StageConfigError(
      'endpointAzs',
      'is 1 in dev only: in prod an outage of that AZ would fail sign-ups instead of queueing them',
    );
  }
  return azs;
}

/**
 * Reads `stage`, `adminCidr`, `publicAccess`, `proxy`, `operatorAccess`, `endpointAzs` and the rest from CDK
 * context and checks how they combine.
 */
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
    lifecycle: lifecycleSettings(context),
    operatorAccess: flag(context, 'operatorAccess'),
    endpointAzs: checkEndpointAzs(context('endpointAzs'), stage),
    federation: federationOptions(context),
  };
  if (!reservedConcurrencyFits(settings)) {
    throw new StageConfigError(
      'stage',
      `the functions' connections (${connectionsNeeded(settings)} with the reserved ones) do not fit max_connections ${settings.maxConnections}`,
    );
  }
  return settings;
}
