import { describe, expect, it } from 'vitest';
import { NODE_TARGET } from '../../lib/bundling';
import { RUNTIME } from '../../lib/constructs/project-function';
import { checkAlarmEmail, checkAllowedRegions } from '../../lib/stage';
import {
  checkAdminCidr,
  checkReconcileSchedule,
  connectionLimits,
  connectionsNeeded,
  FIXED_CONCURRENCY,
  reservedConcurrencyFits,
  stageSettings,
  StageConfigError,
  STAGES,
} from '../../lib/stage';

const from = (context: Record<string, unknown>) => stageSettings((key) => context[key]);

describe('stageSettings', () => {
  it('defaults to dev without an admin CIDR, public access or proxy', () => {
    expect(from({})).toMatchObject({
      stage: 'dev',
      adminCidr: undefined,
      publicAccess: false,
      proxy: false,
      deletionProtection: false,
    });
  });

  it('turns on deletion protection, Multi-AZ and at least 7 days of backups in prod', () => {
    const prod = from({ stage: 'prod' });
    expect(prod).toMatchObject({ deletionProtection: true, multiAz: true });
    expect(prod.backupRetention.toDays()).toBeGreaterThanOrEqual(7);
  });

  it('refuses an unknown stage, naming the context key', () => {
    expect(() => from({ stage: 'staging' })).toThrow(/context stage must be dev or prod/);
  });

  it('refuses an admin CIDR in prod', () => {
    expect(() => from({ stage: 'prod', adminCidr: '203.0.113.7/32' })).toThrow(/adminCidr is for dev only/);
  });

  it('refuses public access without an admin CIDR, and in prod', () => {
    expect(() => from({ stage: 'dev', publicAccess: 'true' })).toThrow(StageConfigError);
    expect(() => from({ stage: 'prod', publicAccess: 'true' })).toThrow(/publicAccess is allowed only in dev/);
  });

  it('leaves operator access off and the endpoints in both AZs by default, in every stage', () => {
    for (const stage of STAGES) expect(from({ stage })).toMatchObject({ operatorAccess: false, endpointAzs: 2 });
  });

  it('reads operatorAccess=true in either stage, and refuses anything but true or false, naming the key', () => {
    expect(from({ stage: 'dev', operatorAccess: 'true' }).operatorAccess).toBe(true);
    expect(from({ stage: 'prod', operatorAccess: true }).operatorAccess).toBe(true);
    expect(() => from({ operatorAccess: 'on' })).toThrow(/context operatorAccess must be true or false/);
  });

  it('reads endpointAzs=1 for dev, from the command line or cdk.json', () => {
    expect(from({ stage: 'dev', endpointAzs: '1' }).endpointAzs).toBe(1);
    expect(from({ stage: 'dev', endpointAzs: 1 }).endpointAzs).toBe(1);
    expect(from({ stage: 'prod', endpointAzs: '2' }).endpointAzs).toBe(2);
  });

  it('refuses endpointAzs=1 in prod, and any count but 1 or 2, naming the key', () => {
    const refusal = (context: Record<string, unknown>) => {
      try {
        from(context);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const prod = refusal({ stage: 'prod', endpointAzs: '1' });
    expect(prod).toBeInstanceOf(StageConfigError);
    expect(prod).toMatchObject({
      key: 'endpointAzs',
      message: expect.stringMatching(/^context endpointAzs is 1 in dev only/) as unknown,
    });
    for (const value of ['3', '0', 'one', 1.5]) {
      expect(refusal({ stage: 'dev', endpointAzs: value })).toMatchObject({
        key: 'endpointAzs',
        message: 'context endpointAzs must be 1 or 2',
      });
    }
  });

  it('reads proxy=true from the command line as a string', () => {
    expect(from({ proxy: 'true' }).proxy).toBe(true);
    expect(() => from({ proxy: 'yes' })).toThrow(/proxy must be true or false/);
  });

  it('keeps the connections of every function that connects, in every stage, inside max_connections', () => {
    for (const stage of STAGES) expect(reservedConcurrencyFits(from({ stage }))).toBe(true);
    // 40 + 10 + replay 2 + reconcile 1 + 15 reserved and operational + export 2 = 70.
    expect(connectionsNeeded({ maxConnections: 80, reservedConcurrency: 40, preSignUpConcurrency: 10 })).toBe(70);
    expect(reservedConcurrencyFits({ maxConnections: 70, reservedConcurrency: 40, preSignUpConcurrency: 10 })).toBe(
      true,
    );
    expect(reservedConcurrencyFits({ maxConnections: 67, reservedConcurrency: 40, preSignUpConcurrency: 10 })).toBe(
      false,
    );
  });

  it('gives each database role the concurrency of the one function that logs in as it', () => {
    const prod = from({ stage: 'prod' });
    expect(connectionLimits(prod)).toEqual({
      signup_writer: prod.reservedConcurrency,
      handle_checker: prod.preSignUpConcurrency,
      sync_writer: FIXED_CONCURRENCY.replay,
      user_reconciler: FIXED_CONCURRENCY.reconcile,
    });
  });
});

describe('lifecycle settings', () => {
  it('defaults to a trail of its own, delete on erasure, a daily pruning reconcile at 5 ListUsers a second', () => {
    expect(from({}).lifecycle).toEqual({
      existingTrail: false,
      erasure: 'delete',
      reconcileSchedule: 'rate(1 day)',
      reconcileRate: 5,
      reconcilePrune: true,
      reconcileMaxPrune: undefined,
      reconcileDriftThreshold: 10,
      trailRetentionDays: 30,
    });
  });

  it('reads existingTrail, erasure, reconcileRate and reconcilePrune from the command line as strings', () => {
    expect(
      from({ existingTrail: 'true', erasure: 'anonymize', reconcileRate: '2.5', reconcilePrune: 'false' }).lifecycle,
    ).toMatchObject({
      existingTrail: true,
      erasure: 'anonymize',
      reconcileRate: 2.5,
      reconcilePrune: false,
    });
  });

  it('refuses an unknown erasure policy and a rate outside the ListUsers quota, naming the key', () => {
    expect(() => from({ erasure: 'keep' })).toThrow(/context erasure must be delete or anonymize/);
    for (const rate of ['0', '21', 'fast', '-1'])
      expect(() => from({ reconcileRate: rate })).toThrow(/context reconcileRate must be/);
    expect(() => from({ existingTrail: 'yes' })).toThrow(/existingTrail must be true or false/);
  });

  it.each(['rate(1 day)', 'rate(12 hours)', 'rate(30 minutes)', 'cron(0 3 * * ? *)', 'cron(15 2 ? * MON-FRI *)'])(
    'accepts the schedule %s',
    (expression) => {
      expect(checkReconcileSchedule(expression)).toBe(expression);
    },
  );

  it.each([
    'rate(1 days)',
    'rate(2 day)',
    'rate(0 hours)',
    'rate(1 week)',
    'cron(0 3 * * ?)',
    'every day',
    'at(2026-12-01T00:00:00)',
    '0 3 * * *',
  ])('refuses the schedule %s, naming the key', (expression) => {
    expect(() => from({ reconcileSchedule: expression })).toThrow(/context reconcileSchedule must be rate/);
  });
});

describe('brakes, drift and trail retention', () => {
  it('defaults to no prune limit of its own, a drift threshold of 10 and 30 days of trail logs, in every stage', () => {
    for (const stage of STAGES) {
      const lifecycle = from({ stage }).lifecycle;
      expect(lifecycle.reconcileMaxPrune).toBeUndefined();
      expect(lifecycle).toMatchObject({ reconcileDriftThreshold: 10, trailRetentionDays: 30 });
    }
  });

  it('reads the three from the command line as strings and from cdk.json as numbers', () => {
    expect(
      from({ reconcileMaxPrune: '250', reconcileDriftThreshold: '0', trailRetentionDays: '7' }).lifecycle,
    ).toMatchObject({ reconcileMaxPrune: 250, reconcileDriftThreshold: 0, trailRetentionDays: 7 });
    expect(
      from({ stage: 'prod', reconcileMaxPrune: 1, reconcileDriftThreshold: 25, trailRetentionDays: 400 }).lifecycle,
    ).toMatchObject({ reconcileMaxPrune: 1, reconcileDriftThreshold: 25, trailRetentionDays: 400 });
  });

  it('treats an empty value as the default', () => {
    expect(
      from({ reconcileMaxPrune: '', reconcileDriftThreshold: '', trailRetentionDays: '' }).lifecycle,
    ).toMatchObject({
      reconcileMaxPrune: undefined,
      reconcileDriftThreshold: 10,
      trailRetentionDays: 30,
    });
  });

  const refusal = (context: Record<string, unknown>): unknown => {
    try {
      from(context);
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it.each(['reconcileMaxPrune', 'trailRetentionDays'])(
    'refuses a %s that is not a whole number above 0, in one line naming the key',
    (key) => {
      for (const value of ['0', 0, '-1', -3, '2.5', 2.5, 'ten', '1e3', ' 5', true, [5]]) {
        const error = refusal({ [key]: value });
        expect(error, `${key}=${JSON.stringify(value)}`).toBeInstanceOf(StageConfigError);
        expect(error).toMatchObject({ key, message: `context ${key} must be a whole number above 0` });
      }
    },
  );

  it('refuses a reconcileDriftThreshold that is not a whole number of 0 or more, in one line naming the key', () => {
    for (const value of ['-1', -1, '1.5', 0.5, 'many', Number.MAX_SAFE_INTEGER + 1]) {
      const error = refusal({ reconcileDriftThreshold: value });
      expect(error, JSON.stringify(value)).toBeInstanceOf(StageConfigError);
      expect(error).toMatchObject({
        key: 'reconcileDriftThreshold',
        message: 'context reconcileDriftThreshold must be a whole number, 0 or more',
      });
    }
  });

  it('refuses trailRetentionDays with existingTrail: there is no trail of its own to keep logs for', () => {
    expect(() => from({ existingTrail: 'true', trailRetentionDays: '30' })).toThrow(
      /^context trailRetentionDays has no effect with existingTrail/,
    );
    expect(from({ existingTrail: 'true' }).lifecycle.trailRetentionDays).toBe(30);
  });
});

describe('checkAdminCidr', () => {
  it('accepts one host or a /24', () => {
    expect(checkAdminCidr('203.0.113.7/32')).toBe('203.0.113.7/32');
    expect(checkAdminCidr('198.51.100.0/24')).toBe('198.51.100.0/24');
  });

  it.each(['0.0.0.0/0', '10.0.0.0/8', '203.0.113.0/23'])('refuses the wide range %s', (cidr) => {
    expect(() => checkAdminCidr(cidr)).toThrow(/\/24 or narrower/);
  });

  it.each(['203.0.113.7', '203.0.113.300/32', 'laptop', '::/0'])('refuses %s, which is not an IPv4 CIDR', (cidr) => {
    expect(() => checkAdminCidr(cidr)).toThrow(/must be an IPv4 CIDR/);
  });
});

describe('alert and residency options', () => {
  const settingsOf = (context: Record<string, unknown>) => stageSettings((key) => context[key]);

  it('subscribes nobody and allows any region by default', () => {
    expect(settingsOf({})).toMatchObject({ alarmEmail: undefined, allowedRegions: [] });
  });

  it('reads alarmEmail and a comma-separated allowedRegions from the command line', () => {
    expect(
      settingsOf({ stage: 'prod', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1, eu-central-1' }),
    ).toMatchObject({
      alarmEmail: 'ops@example.com',
      allowedRegions: ['eu-west-1', 'eu-central-1'],
    });
  });

  it('reads allowedRegions as a list from cdk.json, once each', () => {
    expect(checkAllowedRegions(['eu-west-1', 'eu-west-1', 'eusc-de-east-1', 'us-gov-west-1'])).toEqual([
      'eu-west-1',
      'eusc-de-east-1',
      'us-gov-west-1',
    ]);
  });

  it.each(['eu-west', 'EU-WEST-1', 'eu-west-1,', 'eu-west-1;eu-central-1', '*', 'europe'])(
    'refuses allowedRegions %j, naming the key',
    (value) => {
      expect(() => settingsOf({ allowedRegions: value })).toThrow(/context allowedRegions (has|must)/);
    },
  );

  it('refuses allowedRegions that are not strings', () => {
    expect(() => checkAllowedRegions(['eu-west-1', 1])).toThrow(StageConfigError);
    expect(() => checkAllowedRegions(true)).toThrow(/context allowedRegions must be a comma-separated list/);
  });

  it.each(['ops', 'ops@example', 'a@b.com,c@d.com', 'Ops <ops@example.com>', 'ops @example.com'])(
    'refuses alarmEmail %j, naming the key',
    (value) => {
      expect(() => settingsOf({ alarmEmail: value })).toThrow(/context alarmEmail must be one email address/);
    },
  );

  it('treats an empty alarmEmail as none', () => {
    expect(checkAlarmEmail('')).toBeUndefined();
  });
});

describe('runtime', () => {
  it('bundles for the Node.js version the functions run on', () => {
    expect(RUNTIME.name).toBe(`nodejs${NODE_TARGET.replace('node', '')}.x`);
  });
});
