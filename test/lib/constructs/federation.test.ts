import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { Federation } from '../../../lib/constructs/federation';
import { federationOptions, type FederationOptions } from '../../../lib/identity-providers';
import { findingsOf, type Finding, type Resource } from '../../support/cdk';

const PROVIDERS = [
  {
    type: 'google',
    clientId: '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
    clientSecretName: 'cruddur/google',
  },
  { type: 'facebook', clientId: '1234567890123456', clientSecretName: 'cruddur/facebook' },
  {
    type: 'amazon',
    clientId: 'amzn1.application-oa2-client.0123456789abcdef',
    clientSecretName: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cruddur/amazon-AbCdEf',
  },
  {
    type: 'apple',
    servicesId: 'org.example.cruddur.signin',
    teamId: 'ABCDE12345',
    keyId: 'XYZ9876543',
    privateKeySecretName: 'cruddur/apple-key',
  },
  {
    type: 'oidc',
    name: 'Okta',
    issuer: 'https://example.okta.com',
    clientId: '0oa1b2c3',
    clientSecretName: 'cruddur/okta',
  },
  { type: 'saml', name: 'Corp-AD', metadataUrl: 'https://adfs.example.org/FederationMetadata.xml' },
];
const SECRET_NAMES = [
  'cruddur/google',
  'cruddur/facebook',
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cruddur/amazon-AbCdEf',
  'cruddur/apple-key',
  'cruddur/okta',
];
const dynamicReference = (name: string) => `{{resolve:secretsmanager:${name}:SecretString:::}}`;

const OPTIONS = federationOptions(
  (key) =>
    ({
      identityProviders: JSON.stringify(PROVIDERS),
      domainPrefix: 'cruddur-test',
      callbackUrls: 'https://app.example.org/cb,http://localhost:3000/cb',
      logoutUrls: 'https://app.example.org/',
    })[key],
);

interface Built {
  readonly template: Template;
  readonly findings: Finding[];
}

/**
 * A stack with a pool nag has nothing to say about (strong passwords, MFA required, Plus tier with threat
 * protection), the federation, and an app client wired the way lib/auth-stack.ts is to wire it; synthesized with
 * the app's nag pack, so every finding is the federation's (or the pool variation a test asks for).
 */
function build(options: FederationOptions, pool: Partial<cognito.UserPoolProps> = {}): Built {
  const app = new App();
  const stack = new Stack(app, 'FederationTest');
  const userPool = new cognito.UserPool(stack, 'UserPool', {
    signInAliases: { email: true },
    standardAttributes: { email: { required: true, mutable: true } },
    passwordPolicy: {
      minLength: 12,
      requireLowercase: true,
      requireUppercase: true,
      requireDigits: true,
      requireSymbols: true,
    },
    mfa: cognito.Mfa.REQUIRED,
    mfaSecondFactor: { otp: true, sms: false },
    featurePlan: cognito.FeaturePlan.PLUS,
    standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
    ...pool,
  });
  const federation = new Federation(stack, 'Federation', { userPool, options });
  const client = userPool.addClient('AppClient', {
    authFlows: { userSrp: true },
    generateSecret: false,
    preventUserExistenceErrors: true,
    ...federation.clientOptions,
  });
  federation.configureClient(client);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let directory: string;
  try {
    directory = app.synth().directory;
  } catch (error) {
    // A nag error fails the synth; its report names the findings.
    const report = error instanceof Error ? /found in: (\S+)/.exec(error.message)?.[1] : undefined;
    if (report === undefined) throw error;
    return { template: Template.fromJSON({}), findings: findingsOf(report) };
  }
  return { template: Template.fromStack(stack), findings: findingsOf(join(directory, 'validation-report.json')) };
}

function providersByType(template: Template): Record<string, [string, Resource]> {
  const found = Object.entries(template.findResources('AWS::Cognito::UserPoolIdentityProvider')) as [
    string,
    Resource,
  ][];
  return Object.fromEntries(
    found.map(([id, resource]) => [resource.Properties.ProviderType as string, [id, resource]]),
  );
}

describe('Federation with every provider type', { timeout: 60_000 }, () => {
  let built: Built;
  let providers: Record<string, [string, Resource]>;
  beforeAll(() => {
    built = build(OPTIONS);
    providers = providersByType(built.template);
  });

  it('creates one identity provider per entry', () => {
    built.template.resourceCountIs('AWS::Cognito::UserPoolIdentityProvider', 6);
    expect(Object.keys(providers).sort()).toEqual([
      'Facebook',
      'Google',
      'LoginWithAmazon',
      'OIDC',
      'SAML',
      'SignInWithApple',
    ]);
  });

  it('maps email, email_verified and name from Google, and preferred_username from the email, asking for the email scope', () => {
    const [, google] = providers.Google!;
    expect(google.Properties.ProviderName).toBe('Google');
    expect(google.Properties.AttributeMapping).toEqual({
      email: 'email',
      email_verified: 'email_verified',
      name: 'name',
      preferred_username: 'email',
    });
    expect(google.Properties.ProviderDetails).toEqual({
      client_id: '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
      client_secret: dynamicReference('cruddur/google'),
      authorize_scopes: 'openid email profile',
    });
  });

  it('maps email and name from Facebook and Login with Amazon, and preferred_username from the email', () => {
    const [, facebook] = providers.Facebook!;
    expect(facebook.Properties.AttributeMapping).toEqual({ email: 'email', name: 'name', preferred_username: 'email' });
    expect(facebook.Properties.ProviderDetails).toMatchObject({
      client_id: '1234567890123456',
      client_secret: dynamicReference('cruddur/facebook'),
      authorize_scopes: 'public_profile,email',
    });
    const [, amazon] = providers.LoginWithAmazon!;
    expect(amazon.Properties.AttributeMapping).toEqual({ email: 'email', name: 'name', preferred_username: 'email' });
    expect(amazon.Properties.ProviderDetails).toMatchObject({ client_secret: dynamicReference(SECRET_NAMES[2]!) });
  });

  it('gives Apple its Services ID, team, key and the private key as a dynamic reference', () => {
    const [, apple] = providers.SignInWithApple!;
    expect(apple.Properties.AttributeMapping).toEqual({
      email: 'email',
      email_verified: 'email_verified',
      name: 'name',
      preferred_username: 'email',
    });
    expect(apple.Properties.ProviderDetails).toEqual({
      client_id: 'org.example.cruddur.signin',
      team_id: 'ABCDE12345',
      key_id: 'XYZ9876543',
      private_key: dynamicReference('cruddur/apple-key'),
      authorize_scopes: 'name email',
    });
  });

  it('maps preferred_username from OIDC, the one provider type that has it', () => {
    const [, oidc] = providers.OIDC!;
    expect(oidc.Properties.ProviderName).toBe('Okta');
    expect(oidc.Properties.AttributeMapping).toEqual({
      email: 'email',
      email_verified: 'email_verified',
      name: 'name',
      preferred_username: 'preferred_username',
    });
    expect(oidc.Properties.ProviderDetails).toMatchObject({
      oidc_issuer: 'https://example.okta.com',
      client_id: '0oa1b2c3',
      client_secret: dynamicReference('cruddur/okta'),
      authorize_scopes: 'openid email profile',
    });
  });

  it('reads SAML metadata from its URL and maps the standard email and name claims, the email to preferred_username too', () => {
    const [, saml] = providers.SAML!;
    expect(saml.Properties.ProviderName).toBe('Corp-AD');
    expect(saml.Properties.ProviderDetails).toMatchObject({
      MetadataURL: 'https://adfs.example.org/FederationMetadata.xml',
      IDPSignout: false,
    });
    expect(saml.Properties.AttributeMapping).toEqual({
      email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
      name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      preferred_username: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    });
  });

  it('puts every secret in the template only as a Secrets Manager dynamic reference', () => {
    const text = JSON.stringify(built.template.toJSON());
    for (const name of SECRET_NAMES) {
      const everywhere = text.split(name).length - 1;
      const asReference = text.split(dynamicReference(name)).length - 1;
      expect(asReference, name).toBe(1);
      expect(everywhere, `${name} outside a dynamic reference`).toBe(asReference);
    }
    const secretFields = Object.values(providers).flatMap(([, resource]) =>
      Object.entries(resource.Properties.ProviderDetails as Record<string, unknown>).filter(([key]) =>
        ['client_secret', 'private_key'].includes(key),
      ),
    );
    expect(secretFields).toHaveLength(5);
    for (const [, value] of secretFields)
      expect(value).toMatch(/^\{\{resolve:secretsmanager:[^}]+:SecretString:::\}\}$/);
  });

  it('creates the managed login domain with the prefix', () => {
    built.template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
    const [domain] = Object.values(built.template.findResources('AWS::Cognito::UserPoolDomain')) as Resource[];
    expect(domain!.Properties.Domain).toBe('cruddur-test');
    expect(domain!.Properties.CustomDomainConfig).toBeUndefined();
  });

  it('gives the app client the code flow only, the three scopes, the URLs, and COGNITO plus every provider', () => {
    const [client] = Object.values(built.template.findResources('AWS::Cognito::UserPoolClient')) as Resource[];
    expect(client!.Properties).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      CallbackURLs: ['https://app.example.org/cb', 'http://localhost:3000/cb'],
      LogoutURLs: ['https://app.example.org/'],
      SupportedIdentityProviders: [
        'COGNITO',
        'Google',
        'Facebook',
        'LoginWithAmazon',
        'SignInWithApple',
        'Okta',
        'Corp-AD',
      ],
    });
    expect([...(client!.Properties.AllowedOAuthScopes as string[])].sort()).toEqual(['email', 'openid', 'profile']);
    // Public: no secret, so PKCE is what binds the code to the app that asked for it.
    expect(client!.Properties.GenerateSecret).toBe(false);
  });

  it('makes the app client wait for every provider it names', () => {
    const [client] = Object.values(built.template.findResources('AWS::Cognito::UserPoolClient')) as Resource[];
    const providerIds = Object.values(providers).map(([id]) => id);
    expect(providerIds).toHaveLength(6);
    expect(client!.DependsOn).toEqual(expect.arrayContaining(providerIds));
  });

  it('leaves cdk-nag (AwsSolutions) nothing unacknowledged', () => {
    expect(built.findings).toEqual([]);
  });
});

describe('Federation, the other shapes', { timeout: 60_000 }, () => {
  it('with a domain and no providers offers the managed login for the pool’s own users only', () => {
    const options = federationOptions(
      (key) => ({ domainPrefix: 'cruddur-test', callbackUrls: 'https://app.example.org/cb' })[key],
    );
    const { template, findings } = build(options);
    template.resourceCountIs('AWS::Cognito::UserPoolIdentityProvider', 0);
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      SupportedIdentityProviders: ['COGNITO'],
      AllowedOAuthFlows: ['code'],
    });
    expect(findings).toEqual([]);
  });

  it('refuses a provider that cannot send an attribute the pool requires, naming the entry and the attribute', () => {
    const options = federationOptions(
      (key) =>
        ({
          identityProviders: JSON.stringify([PROVIDERS[4], PROVIDERS[0]]),
          domainPrefix: 'cruddur-test',
          callbackUrls: 'https://app.example.org/cb',
        })[key],
    );
    const pool = {
      standardAttributes: {
        email: { required: true, mutable: true },
        fullname: { required: true, mutable: true },
        preferredUsername: { required: true, mutable: true },
        phoneNumber: { required: true, mutable: true },
      },
    };
    expect(() => build(options, pool)).toThrow(
      'context identityProviders[0] (oidc) has no claim for phone_number, which the user pool requires: Cognito would refuse every sign-in through it',
    );
    // The app's own pool (email, name and preferred_username required) takes every provider type.
    const appPool = { ...pool.standardAttributes, phoneNumber: { required: false, mutable: true } };
    expect(build(options, { standardAttributes: appPool }).findings).toEqual([]);
  });

  it('refuses to build without a domain prefix', () => {
    expect(() => build({ ...OPTIONS, domainPrefix: undefined })).toThrow(
      'context domainPrefix is required to create the managed login domain',
    );
  });

  it('hears cdk-nag in this harness: a pool with optional MFA is reported', () => {
    const { findings } = build(OPTIONS, { mfa: cognito.Mfa.OPTIONAL });
    expect(findings).toEqual(
      expect.arrayContaining([expect.objectContaining({ plugin: 'AwsSolutions', rule: 'AwsSolutions-COG2' })]),
    );
  });
});
