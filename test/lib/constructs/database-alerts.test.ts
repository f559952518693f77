import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { AlertChannel } from '../../../lib/constructs/alerts';
import { DatabaseAlerts } from '../../../lib/constructs/database-alerts';
import { NO_BUNDLING, synthApp, type Resource } from '../../support/cdk';

const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:alerts';
const DB = 'cruddur-prod-db';
const SG = 'sg-0123456789abcdef0';

function synth(): { template: Template; rule: Resource } {
  const stack = new Stack();
  const alerts: AlertChannel = {
    alarmAction: { bind: () => ({ alarmActionArn: TOPIC }) },
    eventTarget: (message) => ({ bind: () => ({ arn: TOPIC, input: message }) }),
  };
  new DatabaseAlerts(stack, 'DatabaseAlerts', { instanceIdentifier: DB, securityGroupId: SG, alerts, stage: 'prod' });
  const template = Template.fromStack(stack);
  const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
  expect(rules).toHaveLength(1);
  return { template, rule: rules[0]! };
}

// A model of EventBridge's matching for what the rule uses: literal values, exists, equals-ignore-case, $or,
// nested fields, and arrays in the event (a pattern field matches if any element does).
type Json = unknown;
function matches(pattern: Record<string, Json>, event: Json): boolean {
  return Object.entries(pattern).every(([key, wanted]) => {
    if (key === '$or') return (wanted as Record<string, Json>[]).some((alternative) => matches(alternative, event));
    const value = (event as Record<string, Json> | undefined)?.[key];
    if (Array.isArray(wanted)) return leafMatches(wanted, value);
    const candidates = Array.isArray(value) ? value : [value];
    return candidates.some(
      (candidate) =>
        typeof candidate === 'object' && candidate !== null && matches(wanted as Record<string, Json>, candidate),
    );
  });
}
function leafMatches(wanted: Json[], value: Json): boolean {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return wanted.some((rule) => {
    if (typeof rule === 'object' && rule !== null && 'exists' in rule)
      return (rule as { exists: boolean }).exists === values.length > 0;
    if (typeof rule === 'object' && rule !== null && 'equals-ignore-case' in rule) {
      const expected = (rule as Record<string, string>)['equals-ignore-case']!.toLowerCase();
      return values.some((v) => typeof v === 'string' && v.toLowerCase() === expected);
    }
    return values.some((v) => v === rule);
  });
}

/** An "AWS API Call via CloudTrail" event as EventBridge delivers it (shape of the CloudTrail record). */
function apiCall(source: 'rds' | 'ec2', eventName: string, detail: Record<string, Json>): Json {
  return {
    version: '0',
    'detail-type': 'AWS API Call via CloudTrail',
    source: `aws.${source}`,
    account: '111111111111',
    region: 'eu-west-1',
    detail: {
      eventVersion: '1.09',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111111111111:user/jane.doe', userName: 'jane.doe' },
      eventTime: '2026-12-01T10:00:00Z',
      eventSource: `${source}.amazonaws.com`,
      eventName,
      sourceIPAddress: '198.51.100.23',
      eventID: '6f5b9a3c-0000-4000-8000-000000000001',
      ...detail,
    },
  };
}

const ingress = (ranges: Record<string, Json>) =>
  apiCall('ec2', 'AuthorizeSecurityGroupIngress', {
    requestParameters: {
      groupId: SG,
      ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: 5432, toPort: 5432, ...ranges }] },
    },
  });
const modifyRule = (rule: Record<string, Json>) =>
  apiCall('ec2', 'ModifySecurityGroupRules', {
    requestParameters: {
      ModifySecurityGroupRulesRequest: {
        GroupId: SG,
        SecurityGroupRule: { SecurityGroupRuleId: 'sgr-1', SecurityGroupRule: rule },
      },
    },
  });

const ALERTED: [string, Json][] = [
  [
    'the database made public',
    apiCall('rds', 'ModifyDBInstance', { requestParameters: { dBInstanceIdentifier: DB, publiclyAccessible: true } }),
  ],
  [
    'deletion protection off',
    apiCall('rds', 'ModifyDBInstance', { requestParameters: { dBInstanceIdentifier: DB, deletionProtection: false } }),
  ],
  [
    'backups off',
    apiCall('rds', 'ModifyDBInstance', { requestParameters: { dBInstanceIdentifier: DB, backupRetentionPeriod: 0 } }),
  ],
  [
    'its security groups swapped',
    apiCall('rds', 'ModifyDBInstance', {
      requestParameters: { dBInstanceIdentifier: DB, vpcSecurityGroupIds: ['sg-other'] },
    }),
  ],
  [
    'the identifier sent in capitals',
    apiCall('rds', 'ModifyDBInstance', {
      requestParameters: { dBInstanceIdentifier: DB.toUpperCase(), publiclyAccessible: true },
    }),
  ],
  [
    'the instance named only by the response',
    apiCall('rds', 'ModifyDBInstance', {
      requestParameters: { dBInstanceIdentifier: 'x', publiclyAccessible: true },
      responseElements: { dBInstanceIdentifier: DB },
    }),
  ],
  [
    'the database deleted',
    apiCall('rds', 'DeleteDBInstance', { requestParameters: { dBInstanceIdentifier: DB, skipFinalSnapshot: true } }),
  ],
  [
    'one of its snapshots deleted',
    apiCall('rds', 'DeleteDBSnapshot', {
      requestParameters: { dBSnapshotIdentifier: 'before-upgrade' },
      responseElements: { dBSnapshotIdentifier: 'before-upgrade', dBInstanceIdentifier: DB },
    }),
  ],
  ['its group opened to the internet', ingress({ ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } })],
  ['its group opened to one address', ingress({ ipRanges: { items: [{ cidrIp: '203.0.113.7/32' }] } })],
  ['its group opened over IPv6', ingress({ ipv6Ranges: { items: [{ cidrIpv6: '::/0' }] } })],
  [
    'its group opened with the older CidrIp form',
    apiCall('ec2', 'AuthorizeSecurityGroupIngress', {
      requestParameters: { groupId: SG, cidrIp: '0.0.0.0/0', ipProtocol: 'tcp' },
    }),
  ],
  [
    'a rule of its group moved to another range (allow-ip)',
    modifyRule({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv4: '198.51.100.9/32' }),
  ],
  [
    'a rule of its group moved to an IPv6 range',
    modifyRule({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0' }),
  ],
];

const IGNORED: [string, Json][] = [
  [
    'a bigger instance class',
    apiCall('rds', 'ModifyDBInstance', {
      requestParameters: { dBInstanceIdentifier: DB, dBInstanceClass: 'db.t4g.large' },
    }),
  ],
  [
    'deletion protection turned on',
    apiCall('rds', 'ModifyDBInstance', { requestParameters: { dBInstanceIdentifier: DB, deletionProtection: true } }),
  ],
  [
    'longer backups',
    apiCall('rds', 'ModifyDBInstance', { requestParameters: { dBInstanceIdentifier: DB, backupRetentionPeriod: 14 } }),
  ],
  [
    'another database made public',
    apiCall('rds', 'ModifyDBInstance', {
      requestParameters: { dBInstanceIdentifier: 'someone-else', publiclyAccessible: true },
    }),
  ],
  [
    'another database’s snapshot deleted',
    apiCall('rds', 'DeleteDBSnapshot', { responseElements: { dBInstanceIdentifier: 'someone-else' } }),
  ],
  [
    'a refused attempt to delete it',
    apiCall('rds', 'DeleteDBInstance', {
      requestParameters: { dBInstanceIdentifier: DB },
      errorCode: 'AccessDenied',
      errorMessage: 'not authorized',
    }),
  ],
  ['its group opened to another group, not a range', ingress({ groups: { items: [{ groupId: 'sg-functions' }] } })],
  [
    'another group opened to the internet',
    apiCall('ec2', 'AuthorizeSecurityGroupIngress', {
      requestParameters: {
        groupId: 'sg-other',
        ipPermissions: { items: [{ ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] },
      },
    }),
  ],
  [
    'a rule of its group moved to another group',
    modifyRule({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, ReferencedGroupId: 'sg-functions' }),
  ],
];

describe('DatabaseAlerts', () => {
  const { template, rule } = synth();
  const pattern = rule.Properties.EventPattern as Record<string, Json>;

  it('listens to CloudTrail’s RDS and EC2 management calls that succeeded', () => {
    expect(pattern).toMatchObject({
      source: ['aws.rds', 'aws.ec2'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['rds.amazonaws.com', 'ec2.amazonaws.com'], errorCode: [{ exists: false }] },
    });
  });

  it.each(ALERTED)('alerts when %s', (_, event) => {
    expect(matches(pattern, event)).toBe(true);
  });

  it.each(IGNORED)('stays quiet for %s', (_, event) => {
    expect(matches(pattern, event)).toBe(false);
  });

  it('sends the topic what happened and where, and nothing about who or from where', () => {
    const [target] = rule.Properties.Targets as {
      Arn: string;
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
    }[];
    expect(target!.Arn).toBe(TOPIC);
    const paths = Object.values(target!.InputTransformer.InputPathsMap);
    expect(paths.sort()).toEqual([
      '$.account',
      '$.detail.eventID',
      '$.detail.eventName',
      '$.detail.eventTime',
      '$.detail.userIdentity.type',
      '$.region',
    ]);
    const everything = JSON.stringify(target!.InputTransformer);
    for (const personal of [
      'userIdentity.arn',
      'userName',
      'principalId',
      'sourceIPAddress',
      'userAgent',
      'requestParameters',
    ]) {
      expect(everything).not.toContain(personal);
    }
    expect(target!.InputTransformer.InputTemplate).toContain(DB);
  });

  it('alarms, through the topic, when it cannot deliver an alert', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: Match.stringLikeRegexp('^DatabaseAlertsRule') } }],
      Threshold: 1,
      AlarmActions: [TOPIC],
      OKActions: [TOPIC],
    });
  });
});

describe('DatabaseAlerts in the app', { timeout: 120_000 }, () => {
  it('watches the stage’s own instance and security group and publishes to the stage’s topic', () => {
    const synth = synthApp({ ...NO_BUNDLING, stage: 'prod' });
    const [rule] = Object.values(
      synth.database.findResources('AWS::Events::Rule', {
        Properties: { Description: Match.stringLikeRegexp('risky changes') },
      }),
    ) as Resource[];
    const text = JSON.stringify(rule!.Properties);
    const instanceId = Object.keys(synth.database.findResources('AWS::RDS::DBInstance'))[0]!;
    expect(text).toContain(`{"equals-ignore-case":{"Ref":"${instanceId}"}}`);
    expect(text).toMatch(/"groupId":\[\{"Fn::GetAtt":\["DatabaseSecurityGroup[0-9A-F]{8}","GroupId"\]\}\]/);
    expect((rule!.Properties.Targets as { Arn: unknown }[])[0]!.Arn).toEqual({
      'Fn::ImportValue': expect.stringMatching(/^Cruddur-prod-Alerts:/) as unknown,
    });
  });
});
