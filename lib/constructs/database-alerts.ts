// Alerts on risky changes to the database, from CloudTrail management events on the default event bus: made
// public, deletion protection or backups turned off, its security groups swapped, deleted, its snapshots
// deleted, its security group opened to an address range. EventBridge sees these events only while a trail
// logs management events in this region (the lifecycle trail, or the account's own).
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { projectAlarm } from './alarms';
import type { AlertChannel } from './alerts';

export interface DatabaseAlertsProps {
  /** The RDS instance identifier (its `Ref`). */
  readonly instanceIdentifier: string;
  /** The database's own security group (the one the clients' rules are on). */
  readonly securityGroupId: string;
  readonly alerts: AlertChannel;
  /** Named in the notification. */
  readonly stage: string;
}

type Pattern = Record<string, unknown>;

/** ModifyDBInstance parameters whose value makes the database easier to reach or to lose. */
export const RISKY_MODIFICATIONS: readonly Pattern[] = [
  { publiclyAccessible: [true] },
  { deletionProtection: [false] },
  { backupRetentionPeriod: [0] },
  // Swapping the security groups would bypass the alert on opening the database's own group.
  { vpcSecurityGroupIds: [{ exists: true }] },
];

/**
 * The `detail` alternatives of the rule. The instance is recognised by the identifier the caller passed
 * (case-insensitively: RDS lowercases identifiers, CloudTrail records them as sent) or by the one RDS answered
 * with; a snapshot by the instance it was taken from, which only the response names. Security group changes:
 * any IPv4 or IPv6 range, not only 0.0.0.0/0 and ::/0, because one stranger's /32 reaches the data as well
 * as the whole internet does (in dev, `npm run rds -- allow-ip` is heard too: that is the audit trail).
 */
export function riskyChangePatterns(instanceIdentifier: string, securityGroupId: string): Pattern[] {
  const byRequest = { dBInstanceIdentifier: [{ 'equals-ignore-case': instanceIdentifier }] };
  const byResponse = { responseElements: { dBInstanceIdentifier: [instanceIdentifier] } };
  const instance = (eventName: string, request: Pattern = {}): Pattern[] => [
    { eventName: [eventName], requestParameters: { ...byRequest, ...request } },
    {
      eventName: [eventName],
      ...byResponse,
      ...(Object.keys(request).length > 0 ? { requestParameters: request } : {}),
    },
  ];
  const anyRange = [{ exists: true }];
  const authorize = (ranges: string, field: string): Pattern => ({
    eventName: ['AuthorizeSecurityGroupIngress'],
    requestParameters: {
      groupId: [securityGroupId],
      ipPermissions: { items: { [ranges]: { items: { [field]: anyRange } } } },
    },
  });
  // ModifySecurityGroupRules (what allow-ip calls) records its request wrapped, in the API's own casing.
  const modify = (field: string): Pattern => ({
    eventName: ['ModifySecurityGroupRules'],
    requestParameters: {
      ModifySecurityGroupRulesRequest: {
        GroupId: [securityGroupId],
        SecurityGroupRule: { SecurityGroupRule: { [field]: anyRange } },
      },
    },
  });
  return [
    ...RISKY_MODIFICATIONS.flatMap((change) => instance('ModifyDBInstance', change)),
    ...instance('DeleteDBInstance'),
    { eventName: ['DeleteDBSnapshot'], ...byResponse },
    authorize('ipRanges', 'cidrIp'),
    authorize('ipv6Ranges', 'cidrIpv6'),
    // The API's older form: one CidrIp beside the group instead of a list of permissions.
    {
      eventName: ['AuthorizeSecurityGroupIngress'],
      requestParameters: { groupId: [securityGroupId], cidrIp: [{ exists: true }] },
    },
    modify('CidrIpv4'),
    modify('CidrIpv6'),
  ];
}

export class DatabaseAlerts extends Construct {
  public readonly rule: events.Rule;
  /** Fires when the rule could not deliver an alert to the topic. */
  public readonly failedDeliveryAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DatabaseAlertsProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Cruddur ${props.stage}: risky changes to the database (public, unprotected, no backups, deleted, opened)`,
      eventPattern: {
        source: ['aws.rds', 'aws.ec2'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['rds.amazonaws.com', 'ec2.amazonaws.com'],
          // Only what happened: a refused call changed nothing (and would be CloudTrail's concern, not ours).
          errorCode: [{ exists: false }],
          $or: riskyChangePatterns(props.instanceIdentifier, props.securityGroupId),
        },
      },
    });
    // Who did it and from where (the principal's ARN names a person, the source address is personal data)
    // stay in CloudTrail; the event ID finds them there for whoever may look.
    this.rule.addTarget(
      props.alerts.eventTarget(
        events.RuleTargetInput.fromObject({
          alert: `Risky change to the Cruddur ${props.stage} database`,
          eventName: events.EventField.fromPath('$.detail.eventName'),
          eventTime: events.EventField.fromPath('$.detail.eventTime'),
          cloudTrailEventId: events.EventField.fromPath('$.detail.eventID'),
          principalType: events.EventField.fromPath('$.detail.userIdentity.type'),
          account: events.EventField.account,
          region: events.EventField.region,
          database: props.instanceIdentifier,
          securityGroup: props.securityGroupId,
          next: 'Look the event ID up in CloudTrail Event history; docs/failure-modes.md, risky database change',
        }),
      ),
    );

    this.failedDeliveryAlarm = projectAlarm(this, 'FailedDeliveryAlarm', {
      description:
        'The database alert rule could not publish to the alerts topic: a risky change may have gone unheard',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: this.rule.ruleName },
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 1,
      action: props.alerts.alarmAction,
    });
  }
}
