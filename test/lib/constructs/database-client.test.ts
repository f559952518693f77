import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ProjectFunction } from '../../../lib/constructs/project-function';
import {
  databaseGroupId,
  ingressRulesOf,
  NO_BUNDLING,
  synthApp,
  type Resource,
  type SynthesizedStage,
} from '../../support/cdk';

const USER = 'report_reader';

/** The app of the stage, plus one more function in the Auth stack bound to the database as USER. */
function withBoundClient(context: Record<string, string>): SynthesizedStage {
  return synthApp({ stage: 'dev', ...context, ...NO_BUNDLING }, ({ network, database, auth }) => {
    const fn = new ProjectFunction(auth, 'ReportReader', {
      entry: 'lambdas/pre-sign-up/index.ts',
      description: 'A client bound by the test',
      vpc: network.vpc,
      logRetention: 14,
    });
    database.bindClient(fn, { user: USER, description: 'report reader to PostgreSQL' });
  });
}

function variablesOf(synth: SynthesizedStage): Record<string, unknown> {
  const found = synth.auth.findResources('AWS::Lambda::Function', {
    Properties: { Description: 'A client bound by the test' },
  });
  const fn = Object.values(found)[0] as Resource;
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

function connectStatementsOf(synth: SynthesizedStage, template: 'auth' | 'database', rolePrefix: string): unknown[] {
  const policies = Object.values(synth[template].findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(rolePrefix))
    .flatMap(
      (policy) =>
        (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement,
    )
    .filter((statement) => statement.Action === 'rds-db:connect')
    .map((statement) => statement.Resource);
}

describe('DatabaseStack.bindClient', { timeout: 60_000 }, () => {
  it('gives a function its connection environment, rds-db:connect as its user only, and 5432 to the instance, in one call', () => {
    const synth = withBoundClient({});
    expect(synth.findings).toEqual([]);
    const variables = variablesOf(synth);
    expect(variables).toMatchObject({
      DB_HOST: { 'Fn::ImportValue': expect.stringMatching(/EndpointAddress/) as unknown },
      DB_PORT: { 'Fn::ImportValue': expect.stringMatching(/EndpointPort/) as unknown },
      DB_NAME: 'cruddur',
      DB_USER: USER,
      DB_ENDPOINT_KIND: 'instance',
      CONNECTION_URL: '',
    });
    // The RDS CAs ship with the code; nothing points Node at a CA file on the runtime.
    expect(variables).not.toHaveProperty('NODE_EXTRA_CA_CERTS');
    expect(JSON.stringify(variables)).not.toMatch(/password|secret/i);

    const grants = connectStatementsOf(synth, 'auth', 'ReportReaderRole');
    expect(grants).toHaveLength(1);
    expect(JSON.stringify(grants[0])).toMatch(new RegExp(`DbiResourceId.*"/${USER}"`));

    synth.auth.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      Description: 'report reader to PostgreSQL',
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReportReaderSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('DatabaseSecurityGroup') },
    });
    expect(ingressRulesOf(synth, databaseGroupId(synth))).toContainEqual(
      expect.objectContaining({
        Description: 'report reader to PostgreSQL',
        FromPort: 5432,
        SourceSecurityGroupId: {
          'Fn::GetAtt': [expect.stringMatching(/^ReportReaderSecurityGroup/) as unknown, 'GroupId'],
        },
      }),
    );
  });

  it('connects through the proxy when there is one, and lets the proxy log in to the instance as that user too', () => {
    const synth = withBoundClient({ proxy: 'true' });
    expect(synth.findings).toEqual([]);
    expect(variablesOf(synth)).toMatchObject({
      DB_HOST: { 'Fn::ImportValue': expect.stringMatching(/Proxy/) as unknown },
      DB_PORT: '5432',
      DB_USER: USER,
      DB_ENDPOINT_KIND: 'proxy',
    });

    const grants = connectStatementsOf(synth, 'auth', 'ReportReaderRole');
    expect(grants).toHaveLength(1);
    expect(JSON.stringify(grants[0])).toMatch(new RegExp(`DBProxyArn.*"/${USER}"`));
    synth.auth.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      Description: 'report reader to PostgreSQL',
      FromPort: 5432,
      DestinationSecurityGroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('ProxySecurityGroup') },
    });

    // End-to-end IAM: the proxy's role logs in as each bound user, and as nobody else.
    const proxyGrants = connectStatementsOf(synth, 'database', 'ProxyRole').map((resource) => JSON.stringify(resource));
    const users = ['signup_writer', 'handle_checker', 'sync_writer', 'user_reconciler', 'user_exporter', USER];
    expect(proxyGrants).toHaveLength(users.length);
    expect(proxyGrants).toEqual(
      expect.arrayContaining(users.map((user) => expect.stringMatching(new RegExp(`"/${user}"`)) as unknown)),
    );
  });
});
