import { describe, expect, it } from 'vitest';
import { NODE_TARGET } from '../../lib/bundling';
import { RUNTIME } from '../../lib/constructs/project-function';
import { checkAlarmEmail, checkAllowedRegions } from '../../lib/stage';
import { checkAdminCidr, reservedConcurrencyFits, stageSettings, StageConfigError, STAGES } from '../../lib/stage';

const from = (context: Record<string, unknown>) => stageSettings((key) => context[key]);

describe('stageSettings', () => {
  it('defaults to dev without an admin CIDR, public access or proxy', () => {
    expect(from({})).toMatchObject({ stage: 'dev', adminCidr: undefined, publicAccess: false, proxy: false, deletionProtection: false });
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

  it('reads proxy=true from the command line as a string', () => {
    expect(from({ proxy: 'true' }).proxy).toBe(true);
    expect(() => from({ proxy: 'yes' })).toThrow(/proxy must be true or false/);
  });

  it('keeps the reserved concurrency of every stage inside max_connections', () => {
    for (const stage of STAGES) expect(reservedConcurrencyFits(from({ stage }))).toBe(true);
    expect(reservedConcurrencyFits({ maxConnections: 80, reservedConcurrency: 70 })).toBe(false);
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
    expect(settingsOf({ stage: 'prod', alarmEmail: 'ops@example.com', allowedRegions: 'eu-west-1, eu-central-1' })).toMatchObject({
      alarmEmail: 'ops@example.com',
      allowedRegions: ['eu-west-1', 'eu-central-1'],
    });
  });

  it('reads allowedRegions as a list from cdk.json, once each', () => {
    expect(checkAllowedRegions(['eu-west-1', 'eu-west-1', 'eusc-de-east-1', 'us-gov-west-1'])).toEqual(['eu-west-1', 'eusc-de-east-1', 'us-gov-west-1']);
  });

  it.each(['eu-west', 'EU-WEST-1', 'eu-west-1,', 'eu-west-1;eu-central-1', '*', 'europe'])('refuses allowedRegions %j, naming the key', (value) => {
    expect(() => settingsOf({ allowedRegions: value })).toThrow(/context allowedRegions (has|must)/);
  });

  it('refuses allowedRegions that are not strings', () => {
    expect(() => checkAllowedRegions(['eu-west-1', 1])).toThrow(StageConfigError);
    expect(() => checkAllowedRegions(true)).toThrow(/context allowedRegions must be a comma-separated list/);
  });

  it.each(['ops', 'ops@example', 'a@b.com,c@d.com', 'Ops <ops@example.com>', 'ops @example.com'])('refuses alarmEmail %j, naming the key', (value) => {
    expect(() => settingsOf({ alarmEmail: value })).toThrow(/context alarmEmail must be one email address/);
  });

  it('treats an empty alarmEmail as none', () => {
    expect(checkAlarmEmail('')).toBeUndefined();
  });
});

describe('runtime', () => {
  it('bundles for the Node.js version the functions run on', () => {
    expect(RUNTIME.name).toBe(`nodejs${NODE_TARGET.replace('node', '')}.x`);
  });
});
