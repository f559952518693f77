import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import { describe, expect, it } from 'vitest';
import { AlertsStack } from '../../../lib/alerts-stack';
import { Alerts } from '../../../lib/constructs/alerts';
import { stageSettings } from '../../../lib/stage';
import type { Resource } from '../../support/cdk';

type Statement = {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};

function synth(alarmEmail?: string): { stack: Stack; alerts: Alerts; template: Template } {
  const stack = new Stack(undefined, 'Cruddur-dev-Alerts');
  const alerts = new Alerts(stack, 'Alerts', { stage: 'dev', alarmEmail });
  return { stack, alerts, template: Template.fromStack(stack) };
}

function only(template: Template, type: string): Resource {
  const found = Object.values(template.findResources(type)) as Resource[];
  expect(found, type).toHaveLength(1);
  return found[0]!;
}

function topicStatements(template: Template): Statement[] {
  return (only(template, 'AWS::SNS::TopicPolicy').Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

const SERVICES = ['cloudwatch.amazonaws.com', 'events.amazonaws.com'];

describe('Alerts', () => {
  it('encrypts the topic with a key of its own, rotated', () => {
    const { template } = synth();
    const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0]!;
    expect(only(template, 'AWS::KMS::Key').Properties.EnableKeyRotation).toBe(true);
    expect(only(template, 'AWS::SNS::Topic').Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });

  it('lets CloudWatch and EventBridge use the key to publish, and nothing else new', () => {
    const { template } = synth();
    const statements = (only(template, 'AWS::KMS::Key').Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    const forServices = statements.filter((statement) => JSON.stringify(statement.Principal).includes('Service'));
    expect(forServices).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: SERVICES },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    ]);
  });

  it('refuses every request to the topic without TLS', () => {
    expect(topicStatements(synth().template)).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it.each([
    ['cloudwatch.amazonaws.com', ':cloudwatch:', ':alarm:*'],
    ['events.amazonaws.com', ':events:', ':rule/*'],
  ])('lets %s publish only for this account’s own alarms or rules', (service, arnService, arnResource) => {
    const statements = topicStatements(synth().template).filter((statement) =>
      JSON.stringify(statement.Principal).includes(service),
    );
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    const sourceArn = JSON.stringify(statement!.Condition!.ArnLike!['aws:SourceArn']);
    expect(sourceArn).toContain(arnService);
    expect(sourceArn).toContain(arnResource);
    expect(sourceArn).toContain('AWS::AccountId');
  });

  it('subscribes the alarm email when one is given, and nobody otherwise', () => {
    synth('ops@example.com').template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('^AlertsTopic') },
    });
    synth().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('gives alarms the topic as their action', () => {
    const { stack, alerts } = synth();
    const arn = alerts.alarmAction.bind(stack, alerts.topic as never).alarmActionArn;
    expect(stack.resolve(arn)).toEqual({ Ref: expect.stringMatching(/^AlertsTopic/) as unknown });
  });

  it('gives rules a target that publishes the message to the topic without widening its policy', () => {
    const stack = new Stack();
    const alerts = new Alerts(stack, 'Alerts', { stage: 'dev' });
    const rule = new events.Rule(stack, 'Rule', { eventPattern: { source: ['test'] } });
    rule.addTarget(alerts.eventTarget(events.RuleTargetInput.fromObject({ alert: 'x' })));
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      Targets: [{ Arn: { Ref: Match.stringLikeRegexp('^AlertsTopic') }, Id: Match.anyValue(), Input: '{"alert":"x"}' }],
    });
    // Still the one, conditioned, EventBridge statement: aws-events-targets' SnsTopic would add another, open one.
    const forEvents = topicStatements(Template.fromStack(stack)).filter((statement) =>
      JSON.stringify(statement.Principal).includes('events.amazonaws.com'),
    );
    expect(forEvents).toEqual([expect.objectContaining({ Sid: 'RulesOfThisAccountPublish' })]);
  });
});

describe('AlertsStack', () => {
  it('exports the topic ARN for subscribing a pager, and subscribes the stage’s alarmEmail', () => {
    const settings = stageSettings((key) => ({ stage: 'prod', alarmEmail: 'ops@example.com' })[key]);
    const template = Template.fromStack(new AlertsStack(new App(), 'Cruddur-prod-Alerts', { settings }));
    template.hasOutput('AlertsTopicArn', { Value: { Ref: Match.stringLikeRegexp('^AlertsTopic') } });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Cruddur prod alerts' });
  });
});
