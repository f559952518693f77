// The managed login domain and the pool's identity providers (`-c domainPrefix`, `-c identityProviders`), and
// the OAuth settings the app client takes from them. Secrets reach the template only as Secrets Manager dynamic
// references, resolved by CloudFormation at deploy time.
import { SecretValue, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct, type IDependable } from 'constructs';
import {
  IdentityProviderOptionError,
  providerName,
  type FederationOptions,
  type IdentityProviderOption,
  type IdentityProviderType,
} from '../identity-providers';

/** User pool attribute (Cognito's name) to the provider's claim or SAML attribute. */
type ClaimMapping = Readonly<Record<string, string>>;

// SAML has no standard attribute names; these two are the WS-Federation claim types AD FS and Entra ID send by
// default and Okta and others can be told to send. The IdP must release them, or first sign-in fails.
const SAML_EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const SAML_NAME = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';

/**
 * What each provider's users bring into the pool. email_verified is mapped where the provider sends it: a mapped
 * email is otherwise unverified, and a one-time code cannot verify it (Cognito developer guide, "Mapping IdP
 * attributes to profiles and tokens").
 *
 * preferred_username: the pool requires it (a required attribute cannot change on an existing pool), and Cognito
 * refuses a federated sign-in whose provider sends no claim mapped to a required attribute. OIDC has a username
 * claim of its own. The others get the claim their email comes from: it is always there when the sign-in can
 * succeed at all (email is required too), and an address never passes the handle rule (no `@` in a handle), so
 * every sync path reads it as "no handle asked for": a new row gets none, an existing row keeps its own. Cognito
 * rewrites mapped attributes at every sign-in, a linked local user's included ("Linking federated users to an
 * existing user profile"), so the handle of a federated or linked person lives in public.users, never in
 * Cognito. A provider user id would not do: Google's and Facebook's are digits, which pass the handle rule, so
 * they would become public handles and overwrite a linked person's own at the next reconcile.
 */
export const ATTRIBUTE_MAPPINGS: Readonly<Record<IdentityProviderType, ClaimMapping>> = {
  google: {
    email: cognito.ProviderAttribute.GOOGLE_EMAIL.attributeName,
    email_verified: cognito.ProviderAttribute.GOOGLE_EMAIL_VERIFIED.attributeName,
    name: cognito.ProviderAttribute.GOOGLE_NAME.attributeName,
    preferred_username: cognito.ProviderAttribute.GOOGLE_EMAIL.attributeName,
  },
  facebook: {
    email: cognito.ProviderAttribute.FACEBOOK_EMAIL.attributeName,
    name: cognito.ProviderAttribute.FACEBOOK_NAME.attributeName,
    preferred_username: cognito.ProviderAttribute.FACEBOOK_EMAIL.attributeName,
  },
  amazon: {
    email: cognito.ProviderAttribute.AMAZON_EMAIL.attributeName,
    name: cognito.ProviderAttribute.AMAZON_NAME.attributeName,
    preferred_username: cognito.ProviderAttribute.AMAZON_EMAIL.attributeName,
  },
  // Apple sends the name on the first sign-in only; Cognito keeps it from then on.
  apple: {
    email: cognito.ProviderAttribute.APPLE_EMAIL.attributeName,
    email_verified: cognito.ProviderAttribute.APPLE_EMAIL_VERIFIED.attributeName,
    name: cognito.ProviderAttribute.APPLE_NAME.attributeName,
    preferred_username: cognito.ProviderAttribute.APPLE_EMAIL.attributeName,
  },
  oidc: { email: 'email', email_verified: 'email_verified', name: 'name', preferred_username: 'preferred_username' },
  saml: { email: SAML_EMAIL, name: SAML_NAME, preferred_username: SAML_EMAIL },
};

// Without these the providers' defaults leave the email out (Google `profile`, Apple `name`, Facebook
// `public_profile`, OIDC `openid`: aws-cdk-lib's defaults), and email is what the pool signs people in by.
const PROVIDER_SCOPES: Readonly<Record<Exclude<IdentityProviderType, 'saml'>, string[]>> = {
  google: ['openid', 'email', 'profile'],
  facebook: ['public_profile', 'email'],
  // Login with Amazon's `profile` carries the user id, name and email.
  amazon: ['profile'],
  apple: ['name', 'email'],
  oidc: ['openid', 'email', 'profile'],
};

// AttributeMapping's standard keys, by the pool attribute each writes.
const CDK_KEYS: Readonly<Record<string, keyof cognito.AttributeMapping>> = {
  email: 'email',
  email_verified: 'emailVerified',
  name: 'fullname',
  preferred_username: 'preferredUsername',
};

function attributeMapping(claims: ClaimMapping): cognito.AttributeMapping {
  return Object.fromEntries(
    Object.entries(claims).map(([attribute, claim]) => [CDK_KEYS[attribute], cognito.ProviderAttribute.other(claim)]),
  ) as cognito.AttributeMapping;
}

/** The OAuth scopes the app client may ask for: an ID token with email and profile, no admin scope. */
export const CLIENT_SCOPES = [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE];

/**
 * The OAuth half of an app client for these options: the authorization code grant only (no implicit grant, no
 * client credentials). The client stays public (no secret), so the app must send a PKCE code_challenge with
 * every authorization request; Cognito verifies the code_verifier at the token endpoint.
 */
export function oAuthFor(options: Pick<FederationOptions, 'callbackUrls' | 'logoutUrls'>): cognito.OAuthSettings {
  return {
    flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
    scopes: CLIENT_SCOPES,
    callbackUrls: [...options.callbackUrls],
    logoutUrls: [...options.logoutUrls],
  };
}

export interface FederationProps {
  readonly userPool: cognito.IUserPool;
  /** Parsed by `federationOptions` (lib/identity-providers.ts); `domainPrefix` must be set. */
  readonly options: FederationOptions;
}

/** The client settings a Federation hands the pool's app client. */
export type FederatedClientOptions = Required<
  Pick<cognito.UserPoolClientOptions, 'oAuth' | 'supportedIdentityProviders'>
>;

export class Federation extends Construct {
  /** The managed login domain, `<domainPrefix>.auth.<region>.amazoncognito.com`. */
  public readonly domain: cognito.UserPoolDomain;
  /** One per `identityProviders` entry, in the same order. */
  public readonly providers: readonly cognito.IUserPoolIdentityProvider[];
  /** For `userPool.addClient(...)`: OAuth on, code flow only, COGNITO plus the configured providers. */
  public readonly clientOptions: FederatedClientOptions;

  constructor(scope: Construct, id: string, props: FederationProps) {
    super(scope, id);
    const { userPool, options } = props;
    if (options.domainPrefix === undefined) {
      throw new IdentityProviderOptionError('domainPrefix', 'is required to create the managed login domain');
    }
    checkRequiredAttributesMapped(userPool, options.identityProviders);

    this.domain = userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: options.domainPrefix } });
    this.providers = options.identityProviders.map((option) => this.addProvider(userPool, option));
    this.clientOptions = {
      oAuth: oAuthFor(options),
      // Names, not the providers' Ref: the template reads as what it allows; configureClient orders the deploy.
      supportedIdentityProviders: [
        cognito.UserPoolClientIdentityProvider.COGNITO,
        ...options.identityProviders.map((option) =>
          cognito.UserPoolClientIdentityProvider.custom(providerName(option)),
        ),
      ],
    };
  }

  /**
   * Call with the client created from `clientOptions`: it names the providers, and CloudFormation refuses a
   * client that names a provider the pool does not have yet.
   */
  configureClient(client: cognito.IUserPoolClient): void {
    client.node.addDependency(...(this.providers as unknown as IDependable[]));
  }

  private addProvider(userPool: cognito.IUserPool, option: IdentityProviderOption): cognito.IUserPoolIdentityProvider {
    const mapping = attributeMapping(ATTRIBUTE_MAPPINGS[option.type]);
    const secret = (name: string) => SecretValue.secretsManager(name);
    switch (option.type) {
      case 'google':
        return new cognito.UserPoolIdentityProviderGoogle(this, 'Google', {
          userPool,
          clientId: option.clientId,
          clientSecretValue: secret(option.clientSecretName),
          scopes: PROVIDER_SCOPES.google,
          attributeMapping: mapping,
        });
      // Facebook, Amazon and OIDC take the secret as a string only (aws/aws-cdk#29851, #34110): the unwrapped
      // SecretValue is still the `{{resolve:secretsmanager:...}}` reference, never the value.
      case 'facebook':
        return new cognito.UserPoolIdentityProviderFacebook(this, 'Facebook', {
          userPool,
          clientId: option.clientId,
          clientSecret: secret(option.clientSecretName).unsafeUnwrap(),
          scopes: PROVIDER_SCOPES.facebook,
          attributeMapping: mapping,
        });
      case 'amazon':
        return new cognito.UserPoolIdentityProviderAmazon(this, 'Amazon', {
          userPool,
          clientId: option.clientId,
          clientSecret: secret(option.clientSecretName).unsafeUnwrap(),
          scopes: PROVIDER_SCOPES.amazon,
          attributeMapping: mapping,
        });
      case 'apple':
        return new cognito.UserPoolIdentityProviderApple(this, 'Apple', {
          userPool,
          clientId: option.servicesId,
          teamId: option.teamId,
          keyId: option.keyId,
          privateKeyValue: secret(option.privateKeySecretName),
          scopes: PROVIDER_SCOPES.apple,
          attributeMapping: mapping,
        });
      case 'oidc':
        return new cognito.UserPoolIdentityProviderOidc(this, `Oidc${constructSafe(option.name)}`, {
          userPool,
          name: option.name,
          issuerUrl: option.issuer,
          clientId: option.clientId,
          clientSecret: secret(option.clientSecretName).unsafeUnwrap(),
          scopes: PROVIDER_SCOPES.oidc,
          attributeMapping: mapping,
        });
      case 'saml':
        return new cognito.UserPoolIdentityProviderSaml(this, `Saml${constructSafe(option.name)}`, {
          userPool,
          name: option.name,
          metadata: cognito.UserPoolIdentityProviderSamlMetadata.url(option.metadataUrl),
          attributeMapping: mapping,
        });
    }
  }
}

// Construct ids may not contain '/', which a provider name may.
function constructSafe(name: string): string {
  return name.replace(/\//g, '-');
}

/**
 * Cognito refuses a federated sign-in unless every attribute the pool requires is mapped ("a mapping must be
 * present for each user pool attribute that your user pool requires": Cognito developer guide, "Mapping IdP
 * attributes to profiles and tokens"). A provider that can never sign anyone in fails the synth instead.
 */
export function checkRequiredAttributesMapped(
  userPool: cognito.IUserPool,
  providers: readonly IdentityProviderOption[],
): void {
  const required = requiredAttributes(userPool);
  providers.forEach((option, index) => {
    const missing = required.filter((attribute) => ATTRIBUTE_MAPPINGS[option.type][attribute] === undefined);
    if (missing.length > 0) {
      throw new IdentityProviderOptionError(
        `identityProviders[${index}]`,
        `(${option.type}) has no claim for ${missing.join(', ')}, which the user pool requires: Cognito would refuse every sign-in through it`,
      );
    }
  });
}

interface SchemaAttribute {
  readonly name?: string;
  readonly required?: boolean;
}

/** The attributes a pool built in this app requires; none known for an imported pool. */
function requiredAttributes(userPool: cognito.IUserPool): string[] {
  const cfn = userPool.node.defaultChild;
  if (!(cfn instanceof cognito.CfnUserPool)) return [];
  const schema: unknown = Stack.of(userPool).resolve(cfn.schema);
  if (!Array.isArray(schema)) return [];
  return (schema as SchemaAttribute[])
    .filter((attribute) => attribute.required === true && attribute.name !== undefined)
    .map((attribute) => attribute.name!);
}
