import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SMOKE_OUTPUTS } from '../../bin/cli/smoke-aws';
import { AuthStack } from '../../lib/auth-stack';
import { DatabaseStack, SIGNUP_WRITER } from '../../lib/database-stack';
import { NetworkStack } from '../../lib/network-stack';
import { NO_BUNDLING, synthApp, type SynthesizedStage } from '../support/cdk';
import { stageSettings } from '../../lib/stage';

type Resource = { Type: string; Properties: Record<string, unknown> };

describe.each(['dev', 'prod'] as const)('AuthStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  const settings = stageSettings((key) => (key === 'stage' ? stage : undefined));
  beforeAll(() => {
    synth = synthApp({ stage });
  });

  function postConfirmation(): { id: string; resource: Resource } {
    const found = synth.auth.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('Post Confirmation') },
    });
    const [id, resource] = Object.entries(found)[0]!;
    return { id, resource: resource as Resource };
  }

  it('keeps the stable construct id PostConfirmationFunction that sam local invoke names', () => {
    expect(postConfirmation().id).toMatch(/^PostConfirmationFunction[0-9A-F]{8}$/);
    expect(synth.stacks.auth.postConfirmationFunction.node.id).toBe('PostConfirmationFunction');
  });

  it('runs the post-confirmation function on Node.js 24, ARM64, in the isolated subnets, within Cognito’s 5 s', () => {
    synth.auth.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Post Confirmation'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 5,
      ReservedConcurrentExecutions: settings.reservedConcurrency,
      VpcConfig: Match.objectLike({
        SubnetIds: Match.arrayWith([{ 'Fn::ImportValue': Match.stringLikeRegexp('isolatedSubnet1') }]),
      }),
      LoggingConfig: Match.objectLike({
        LogGroup: { Ref: Match.stringLikeRegexp('^PostConfirmationFunctionLogGroup') },
      }),
    });
  });

  it('connects with IAM authentication as signup_writer over verified TLS, with no password in its environment', () => {
    const variables = (postConfirmation().resource.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables).toMatchObject({
      DB_NAME: 'cruddur',
      DB_USER: 'signup_writer',
      CONNECTION_URL: '',
    });
    expect(variables).not.toHaveProperty('NODE_EXTRA_CA_CERTS');
    expect(variables.DB_HOST).toBeDefined();
    expect(JSON.stringify(variables)).not.toMatch(/password|secret/i);
    synth.auth.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'rds-db:connect',
            Resource: { 'Fn::Join': ['', Match.arrayWith(['/signup_writer'])] },
          }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^PostConfirmationFunctionRole') }],
    });
  });

  it('writes its logs to its own log group with a retention, and nowhere else', () => {
    synth.auth.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
    const days = (Object.values(synth.auth.findResources('AWS::Logs::LogGroup'))[0] as Resource).Properties
      .RetentionInDays;
    expect(days).toBe(settings.logRetention);
    synth.auth.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PostConfirmationFunctionLogGroup'), 'Arn'] },
          }),
        ]),
      },
    });
    synth.auth.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('opens egress only to PostgreSQL on 5432 and, for the trigger, the SQS endpoint on 443 (nothing else)', () => {
    // allowAllOutbound: false: no inline "allow all" rule on any function's group; egress rules are resources.
    for (const group of Object.values(synth.auth.findResources('AWS::EC2::SecurityGroup')) as Resource[]) {
      expect(JSON.stringify(group.Properties.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
    }
    const egress = (
      Object.entries(synth.auth.findResources('AWS::EC2::SecurityGroupEgress')) as [string, Resource][]
    ).map(([id, rule]) => ({ id, FromPort: rule.Properties.FromPort, ...rule.Properties }));
    const toDatabase = {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      DestinationSecurityGroupId: { 'Fn::ImportValue': expect.stringMatching(/DatabaseSecurityGroup/) as unknown },
    };
    const toSqs = {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: { 'Fn::ImportValue': expect.stringMatching(/SqsEndpoint/) as unknown },
    };
    // The trigger, the PreSignUp, replay, reconcile store and export functions reach the database; the trigger
    // reaches SQS (the user-events function and the reconcile runner run outside the VPC and have no security group).
    expect(egress.filter((rule) => rule.FromPort === 5432)).toHaveLength(5);
    for (const rule of egress) {
      expect(rule).toMatchObject(rule.FromPort !== 443 ? toDatabase : toSqs);
    }
    expect(
      egress
        .filter((rule) => rule.FromPort === 443)
        .map((rule) => rule.id)
        .sort(),
    ).toEqual([expect.stringMatching(/^PostConfirmationFunctionSecurityGroup/)]);
    // ...and the database admits the trigger on 5432.
    synth.auth.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('DatabaseSecurityGroup') },
      SourceSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^PostConfirmationFunctionSecurityGroup'), 'GroupId'],
      },
    });
  });

  it('wires the function as the user pool’s Post Confirmation trigger', () => {
    synth.auth.hasResourceProperties('AWS::Cognito::UserPool', {
      LambdaConfig: { PostConfirmation: { 'Fn::GetAtt': [postConfirmation().id, 'Arn'] } },
    });
    synth.auth.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'cognito-idp.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [postConfirmation().id, 'Arn'] },
    });
  });

  it('signs in with email, case-insensitively, requires name and preferred_username, verifies email, and a strong password', () => {
    synth.auth.hasResourceProperties('AWS::Cognito::UserPool', {
      UsernameAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      AutoVerifiedAttributes: ['email'],
      Schema: Match.arrayWith([
        Match.objectLike({ Name: 'email', Required: true }),
        Match.objectLike({ Name: 'name', Required: true }),
        Match.objectLike({ Name: 'preferred_username', Required: true }),
      ]),
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
      DeletionProtection: stage === 'prod' ? 'ACTIVE' : 'INACTIVE',
    });
    synth.auth.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  function appClient(): Record<string, unknown> {
    const clients = Object.values(synth.auth.findResources('AWS::Cognito::UserPoolClient')) as Resource[];
    expect(clients).toHaveLength(1);
    return clients[0]!.Properties;
  }

  it('keeps OAuth off on the app client until the pool has a domain: no flows, scopes or callbacks', () => {
    const client = appClient();
    expect(client.AllowedOAuthFlowsUserPoolClient).toBe(false);
    for (const key of ['AllowedOAuthFlows', 'AllowedOAuthScopes', 'CallbackURLs', 'LogoutURLs'])
      expect(client[key], key).toBeUndefined();
    synth.auth.resourceCountIs('AWS::Cognito::UserPoolDomain', 0);
    expect(client.ExplicitAuthFlows).toEqual(['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']);
  });

  it('lets the app write only email, name and preferred_username, and read those and email_verified', () => {
    const client = appClient();
    expect((client.WriteAttributes as string[]).slice().sort()).toEqual(['email', 'name', 'preferred_username']);
    expect((client.ReadAttributes as string[]).slice().sort()).toEqual([
      'email',
      'email_verified',
      'name',
      'preferred_username',
    ]);
  });

  it('makes every attribute sign-up requires writable by the app, or Cognito would refuse the client', () => {
    const pool = Object.values(synth.auth.findResources('AWS::Cognito::UserPool'))[0] as Resource;
    const required = (pool.Properties.Schema as { Name: string; Required?: boolean }[])
      .filter((a) => a.Required)
      .map((a) => a.Name);
    expect(appClient().WriteAttributes).toEqual(expect.arrayContaining(required));
  });

  it('alarms on any error of the PreSignUp function', () => {
    const found = synth.auth.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Cognito PreSignUp') },
    });
    synth.auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Statistic: 'Sum',
      Threshold: 1,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Object.keys(found)[0] } }],
    });
  });

  it.each(['PostConfirmationFunction', 'PreSignUpFunction', 'SignupFallbackReplayFunction', 'ReconcileFunction'])(
    'alarms on the first permanent database failure in the log of %s',
    (fnId) => {
      const filters = Object.values(synth.auth.findResources('AWS::Logs::MetricFilter')) as Resource[];
      const filter = filters.find((f) => JSON.stringify(f.Properties.LogGroupName).includes(`"${fnId}LogGroup`));
      expect(filter?.Properties.FilterPattern).toBe('{ $.failureClass = "permanent" }');
      const { MetricName, MetricNamespace } = (
        filter!.Properties.MetricTransformations as Record<string, string>[]
      )[0]!;
      synth.auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName,
        Namespace: MetricNamespace,
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
      });
    },
  );

  it.each(['Errors', 'Throttles'])('alarms on any %s of the post-confirmation function', (metric) => {
    synth.auth.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: metric,
      Namespace: 'AWS/Lambda',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: postConfirmation().id } }],
    });
  });

  it('ships a minified bundle with its source map and leaves pg-native out', () => {
    const key = (postConfirmation().resource.Properties.Code as { S3Key: string }).S3Key;
    const assetDir = join(synth.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
    // rds-ca/: the RDS CA certificates beside the bundle, read at the first connection (lambdas/postgres/rds-ca.ts).
    expect(readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map', 'rds-ca']);
    const code = readFileSync(join(assetDir, 'index.js'), 'utf8');
    // Minified: no indented lines (esbuild's readable output indents every block), and long lines.
    expect(code).not.toMatch(/\n {2,}[A-Za-z_$]/);
    expect(code.split('\n').reduce((longest, line) => Math.max(longest, line.length), 0)).toBeGreaterThan(10_000);
    // The certificates stay out of the JavaScript, and so does pg-native: the function loads pg's Client alone,
    // which never asks for the native binding (and ProjectFunction marks it external should anything else).
    expect(code).not.toContain('BEGIN CERTIFICATE');
    expect(code).not.toMatch(/require\("pg-native"\)|PQconnectdb/);
  });

  it('exports the outputs other tools read', () => {
    // The smoke command's outputs come from its own table, so the two cannot drift apart.
    const outputs = new Set([
      'UserPoolId',
      'UserPoolClientId',
      'PostConfirmationFunctionName',
      'ReconcileFunctionName',
      ...Object.values(SMOKE_OUTPUTS),
    ]);
    for (const id of outputs) synth.auth.hasOutput(id, {});
  });
});

describe('AuthStack with RDS Proxy', { timeout: 60_000 }, () => {
  it('connects the function to the proxy endpoint and grants connect on the proxy', () => {
    const synth = synthApp({ stage: 'dev', proxy: 'true' });
    synth.auth.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Post Confirmation'),
      Environment: { Variables: Match.objectLike({ DB_HOST: { 'Fn::ImportValue': Match.stringLikeRegexp('Proxy') } }) },
    });
    synth.auth.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'rds-db:connect',
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/signup_writer$')])] },
          }),
        ]),
      },
    });
    synth.auth.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 5432,
      DestinationSecurityGroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('ProxySecurityGroup') },
    });
  });
});

describe('AuthStack alarm action', () => {
  it('notifies the action on ALARM and OK from every alarm of the stack, the sign-up fallback’s included', () => {
    const topic = 'arn:aws:sns:us-east-1:111111111111:alerts';
    const app = new App({ context: NO_BUNDLING });
    const settings = stageSettings(() => undefined);
    const alarmAction = { bind: () => ({ alarmActionArn: topic }) };
    const alerts = { alarmAction, eventTarget: () => ({ bind: () => ({ arn: topic }) }) };
    const network = new NetworkStack(app, 'Network');
    const database = new DatabaseStack(app, 'Database', {
      settings,
      vpc: network.vpc,
      secretsManagerEndpoint: network.secretsManagerEndpoint,
      alerts,
    });
    const auth = new AuthStack(app, 'Auth', {
      settings,
      vpc: network.vpc,
      database,
      databaseUser: SIGNUP_WRITER,
      sqsEndpoint: network.sqsEndpoint,
      alarmAction,
    });
    const alarms = Object.entries(Template.fromStack(auth).findResources('AWS::CloudWatch::Alarm')) as [
      string,
      Resource,
    ][];
    expect(alarms.map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(
      expect.arrayContaining([
        'PostConfirmationErrors',
        'PostConfirmationThrottles',
        'PostConfirmationPermanentFailures',
        'PreSignUpErrors',
        'PreSignUpPermanentFailures',
        'ReplayErrors',
        'ReplayPermanentFailures',
        'SignupFallbackBacklogAlarm',
        'SignupFallbackDeadLetterAlarm',
      ]),
    );
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
    }
  });
});

/** The federated contexts of the done-when: Google on dev, OIDC with linking on prod. */
const GOOGLE_DEV = {
  stage: 'dev',
  domainPrefix: 'cruddur-dev-example',
  callbackUrls: 'https://app.example.org/cb',
  identityProviders: JSON.stringify([
    { type: 'google', clientId: '1234-abc.apps.googleusercontent.com', clientSecretName: 'cruddur/dev/google' },
  ]),
};
const OIDC_LINKING_PROD = {
  stage: 'prod',
  domainPrefix: 'cruddur-prod-example',
  callbackUrls: 'https://app.example.org/cb',
  logoutUrls: 'https://app.example.org/',
  linkFederatedByEmail: 'true',
  identityProviders: JSON.stringify([
    {
      type: 'oidc',
      name: 'Okta',
      issuer: 'https://example.okta.com',
      clientId: '0oa1b2c3',
      clientSecretName: 'cruddur/prod/okta',
    },
  ]),
};

type Statement = { Action: string | string[]; Resource: unknown };

/** Every IAM statement attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): Statement[] {
  return (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${rolePrefix}`))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function functionOf(template: Template, idPrefix: string): Resource {
  const [found] = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith(idPrefix),
  );
  expect(found, `no function ${idPrefix}`).toBeDefined();
  return found![1] as Resource;
}

describe('AuthStack with federation (Google, dev)', { timeout: 120_000 }, () => {
  let auth: Template;
  beforeAll(() => {
    auth = synthApp({ ...GOOGLE_DEV, ...NO_BUNDLING }).auth;
  });

  it('creates the domain and the provider, and the ManagedLoginUrl output', () => {
    auth.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'cruddur-dev-example' });
    auth.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', {
      ProviderName: 'Google',
      AttributeMapping: Match.objectLike({ preferred_username: 'email' }),
    });
    auth.hasOutput('ManagedLoginUrl', {});
  });

  it('turns OAuth on for the app client: code flow only, COGNITO and Google, the callback URL', () => {
    auth.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: ['https://app.example.org/cb'],
      SupportedIdentityProviders: ['COGNITO', 'Google'],
    });
  });

  it('keeps PreSignUp in the VPC and grants no linking without linkFederatedByEmail', () => {
    expect(functionOf(auth, 'PreSignUpFunction').Properties.VpcConfig).toBeDefined();
    // (The event rule names AdminLinkProviderForUser as an event to hear; no role may call it.)
    expect(JSON.stringify(auth.findResources('AWS::IAM::Policy'))).not.toContain(
      'cognito-idp:AdminLinkProviderForUser',
    );
    expect(
      Object.keys(auth.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('HandleCheck')),
    ).toEqual([]);
  });
});

describe('AuthStack with federation and linking (OIDC, prod)', { timeout: 120_000 }, () => {
  let auth: Template;
  beforeAll(() => {
    auth = synthApp({ ...OIDC_LINKING_PROD, ...NO_BUNDLING }).auth;
  });

  it('keeps the logical id PreSignUpFunction and moves the function out of the VPC, with no database login', () => {
    const preSignUp = functionOf(auth, 'PreSignUpFunction');
    expect(preSignUp.Properties.VpcConfig).toBeUndefined();
    expect((preSignUp.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      LINK_FEDERATED_BY_EMAIL: 'true',
      HANDLE_CHECK_FUNCTION_NAME: { Ref: expect.stringMatching(/^HandleCheckFunction/) as unknown },
    });
    expect(JSON.stringify(statementsOf(auth, 'PreSignUpFunctionRole'))).not.toContain('rds-db:connect');
  });

  it('lets PreSignUp list users and link identities in this pool only, and invoke the handle check only', () => {
    const statements = statementsOf(auth, 'PreSignUpFunctionRole');
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['cognito-idp:ListUsers', 'cognito-idp:AdminLinkProviderForUser'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^UserPool[0-9A-F]{8}$/), 'Arn'] },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^HandleCheckFunction/), 'Arn'] },
      }),
    );
  });

  it('runs the handle check in the VPC as handle_checker, with PreSignUp’s concurrency', () => {
    const settings = stageSettings((key) => (OIDC_LINKING_PROD as Record<string, string>)[key]);
    const handleCheck = functionOf(auth, 'HandleCheckFunction');
    expect(handleCheck.Properties.VpcConfig).toBeDefined();
    expect(handleCheck.Properties.ReservedConcurrentExecutions).toBe(settings.preSignUpConcurrency);
    expect(JSON.stringify(statementsOf(auth, 'HandleCheckFunctionRole'))).toContain('/handle_checker');
  });

  it('gives no function in the VPC a Cognito permission', () => {
    const inVpc = Object.entries(auth.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => (fn as Resource).Properties.VpcConfig !== undefined)
      .map(([, fn]) => ((fn as Resource).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
    expect(inVpc.length).toBeGreaterThan(0);
    for (const role of inVpc) expect(JSON.stringify(statementsOf(auth, role))).not.toContain('cognito-idp:');
  });
});
