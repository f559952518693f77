// The federation stage options (`identityProviders`, `domainPrefix`, `callbackUrls`, `logoutUrls`,
// `linkFederatedByEmail`), read from CDK context and checked before any construct exists, so that a malformed
// option fails the synth with one line naming the option and what is wrong.
import { StageConfigError } from './stage-config-error';

/** A social provider whose client secret lives in Secrets Manager. */
export interface SocialProviderOption {
  readonly type: 'google' | 'facebook' | 'amazon';
  readonly clientId: string;
  /** Name (or ARN) of a Secrets Manager secret whose SecretString is the client secret itself. */
  readonly clientSecretName: string;
}

export interface AppleProviderOption {
  readonly type: 'apple';
  /** The Services ID Apple issues for the web sign-in (Cognito's `client_id`). */
  readonly servicesId: string;
  readonly teamId: string;
  readonly keyId: string;
  /** Name (or ARN) of a Secrets Manager secret whose SecretString is the .p8 private key, PEM as Apple issues it. */
  readonly privateKeySecretName: string;
}

export interface OidcProviderOption {
  readonly type: 'oidc';
  /** The provider name in Cognito: the managed login's button, the `identity_provider` parameter, the user-name prefix. */
  readonly name: string;
  /** https URL; Cognito reads `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecretName: string;
}

export interface SamlProviderOption {
  readonly type: 'saml';
  readonly name: string;
  /** https URL of the IdP's SAML metadata document. */
  readonly metadataUrl: string;
}

export type IdentityProviderOption =
  SocialProviderOption | AppleProviderOption | OidcProviderOption | SamlProviderOption;
export type IdentityProviderType = IdentityProviderOption['type'];

/** The five federation options, checked together. */
export interface FederationOptions {
  /** @default [] */
  readonly identityProviders: readonly IdentityProviderOption[];
  /** The managed login domain `<domainPrefix>.auth.<region>.amazoncognito.com`. @default - no domain, OAuth off */
  readonly domainPrefix?: string;
  /** Where the authorization server may send a code. Required with a domain. @default [] */
  readonly callbackUrls: readonly string[];
  /** Where sign-out may return to. @default [] */
  readonly logoutUrls: readonly string[];
  /** Link a first federated sign-in to the confirmed local user with the same verified email. @default false */
  readonly linkFederatedByEmail: boolean;
}

/** A federation option is wrong: a stage option error whose key names the entry and field. */
export class IdentityProviderOptionError extends StageConfigError {
  override readonly name: string = 'IdentityProviderOptionError';
}

type Context = (key: string) => unknown;

/** The fields each type takes, all required strings, in the order they are checked and named. */
export const PROVIDER_FIELDS: Readonly<Record<IdentityProviderType, readonly string[]>> = {
  google: ['clientId', 'clientSecretName'],
  facebook: ['clientId', 'clientSecretName'],
  amazon: ['clientId', 'clientSecretName'],
  apple: ['servicesId', 'teamId', 'keyId', 'privateKeySecretName'],
  oidc: ['name', 'issuer', 'clientId', 'clientSecretName'],
  saml: ['name', 'metadataUrl'],
};
const TYPES = Object.keys(PROVIDER_FIELDS) as IdentityProviderType[];

/** The names Cognito gives the social providers (the `ProviderName` of each AWS::Cognito::UserPoolIdentityProvider). */
export const SOCIAL_PROVIDER_NAMES = {
  google: 'Google',
  facebook: 'Facebook',
  amazon: 'LoginWithAmazon',
  apple: 'SignInWithApple',
} as const;

/** The name an entry has in Cognito: fixed for the social providers, chosen for OIDC and SAML. */
export function providerName(option: IdentityProviderOption): string {
  return option.type === 'oidc' || option.type === 'saml' ? option.name : SOCIAL_PROVIDER_NAMES[option.type];
}

// Cognito's ProviderName: 1 to 32 characters of this pattern (API reference, CreateIdentityProvider); CDK's
// L2 constructs also refuse fewer than 3. No underscore at all: a federated user's name is `<provider>_<id>`,
// and a name with its own underscore makes that prefix ambiguous to anyone who reads it back.
const PROVIDER_NAME = /^[^_\p{Z}][\p{L}\p{M}\p{S}\p{N}\p{P}][^_\p{Z}]+$/u;
// Names the pool already uses for something else: its own directory and the social providers.
const RESERVED_NAMES = ['COGNITO', ...Object.values(SOCIAL_PROVIDER_NAMES)].map((name) => name.toLowerCase());

// Secrets Manager: names of 1 to 512 characters of these; an ARN is accepted as well (SecretValue.secretsManager
// takes either).
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

// Identifiers the providers issue; a wrong shape is a value pasted into the wrong field.
const GOOGLE_CLIENT_ID = /^[A-Za-z0-9-]+\.apps\.googleusercontent\.com$/;
const FACEBOOK_APP_ID = /^\d{1,32}$/;
// Apple: a Team ID and a Key ID are ten upper-case letters or digits; a Services ID is a reverse-DNS identifier.
const APPLE_TEN = /^[A-Z0-9]{10}$/;
const APPLE_SERVICES_ID = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
// Everything else: what a client id is anywhere, printable and without spaces.
const CLIENT_ID = /^[\x21-\x7e]{1,256}$/;

// A Cognito prefix domain: the CreateUserPoolDomain pattern (lower-case letters, digits, inner hyphens, 1 to 63)
// without the periods only a custom domain may have. Cognito refuses a prefix containing a reserved word ("Domain
// cannot contain reserved word: aws", aws-solutions/content-analysis-on-aws#8; "...: cognito",
// aws-amplify/amplify-cli#3854; amazon likewise), which would otherwise fail only at deploy time.
const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN_RESERVED_WORDS = ['aws', 'amazon', 'cognito'];

/** Cognito's limit on CallbackURLs and LogoutURLs of one app client. */
export const MAX_URLS = 100;
const MAX_URL_LENGTH = 1024;

function quoted(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An https URL with a host, no credentials and no fragment. */
function checkHttpsUrl(key: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new IdentityProviderOptionError(key, 'must be an https URL');
  }
  if (url.protocol !== 'https:' || url.hostname === '')
    throw new IdentityProviderOptionError(key, 'must be an https URL');
  if (url.username !== '' || url.password !== '') {
    throw new IdentityProviderOptionError(key, 'must not carry a user name or password');
  }
  if (url.hash !== '' || value.includes('#')) throw new IdentityProviderOptionError(key, 'must not have a #fragment');
}

function checkSecretName(key: string, value: string): void {
  // The value is not quoted back: a secret pasted here by mistake must not reach a log.
  if (!SECRET_NAME.test(value) && !SECRET_ARN.test(value)) {
    throw new IdentityProviderOptionError(
      key,
      'must be the name or ARN of a Secrets Manager secret (letters, digits and /_+=.@- only), not the secret itself',
    );
  }
}

function checkField(type: IdentityProviderType, key: string, field: string, value: string): void {
  if (field === 'clientSecretName' || field === 'privateKeySecretName') return checkSecretName(key, value);
  if (field === 'issuer' || field === 'metadataUrl') return checkHttpsUrl(key, value);
  if (field === 'name') {
    if ([...value].length < 3 || [...value].length > 32) {
      throw new IdentityProviderOptionError(key, 'must be 3 to 32 characters');
    }
    if (!PROVIDER_NAME.test(value) || value.includes('_')) {
      throw new IdentityProviderOptionError(
        key,
        'must be letters, digits, symbols or punctuation with no spaces and no underscore',
      );
    }
    if (RESERVED_NAMES.includes(value.toLowerCase())) {
      throw new IdentityProviderOptionError(
        key,
        `${quoted(value)} is reserved for Cognito's own or a social provider; choose another`,
      );
    }
    return;
  }
  if (type === 'google' && field === 'clientId' && !GOOGLE_CLIENT_ID.test(value)) {
    throw new IdentityProviderOptionError(
      key,
      'must be a Google OAuth client ID ending in .apps.googleusercontent.com',
    );
  }
  if (type === 'facebook' && field === 'clientId' && !FACEBOOK_APP_ID.test(value)) {
    throw new IdentityProviderOptionError(key, 'must be a Facebook App ID (digits)');
  }
  if ((field === 'teamId' || field === 'keyId') && !APPLE_TEN.test(value)) {
    throw new IdentityProviderOptionError(key, 'must be the 10 upper-case letters or digits Apple issues');
  }
  if (field === 'servicesId' && !APPLE_SERVICES_ID.test(value)) {
    throw new IdentityProviderOptionError(key, 'must be an Apple Services ID such as com.example.app.signin');
  }
  if (!CLIENT_ID.test(value)) {
    throw new IdentityProviderOptionError(key, 'must be 1 to 256 printable characters without spaces');
  }
}

function parseEntry(raw: unknown, index: number): IdentityProviderOption {
  const at = `identityProviders[${index}]`;
  if (!isRecord(raw)) throw new IdentityProviderOptionError(at, 'must be an object such as {"type":"google",...}');
  const type = raw.type;
  if (type === undefined) throw new IdentityProviderOptionError(`${at}.type`, `is missing: one of ${TYPES.join(', ')}`);
  if (typeof type !== 'string' || !TYPES.includes(type as IdentityProviderType)) {
    throw new IdentityProviderOptionError(
      `${at}.type`,
      `${typeof type === 'string' ? quoted(type) : 'is not a string and'} is not one of ${TYPES.join(', ')}`,
    );
  }
  const fields = PROVIDER_FIELDS[type as IdentityProviderType];
  const extra = Object.keys(raw).filter((field) => field !== 'type' && !fields.includes(field));
  if (extra.length > 0) {
    throw new IdentityProviderOptionError(
      `${at}.${extra[0]!}`,
      `is not a field of a ${type} provider (its fields: type, ${fields.join(', ')})`,
    );
  }
  for (const field of fields) {
    const value = raw[field];
    const key = `${at}.${field}`;
    if (value === undefined) throw new IdentityProviderOptionError(key, `is missing: a ${type} provider needs it`);
    if (typeof value !== 'string') throw new IdentityProviderOptionError(key, 'must be a string');
    if (value.trim() === '') throw new IdentityProviderOptionError(key, 'must not be empty');
    checkField(type as IdentityProviderType, key, field, value);
  }
  // Every field is a checked string now, and nothing else is on the object.
  return { ...raw } as unknown as IdentityProviderOption;
}

/** Reads `identityProviders`: a JSON array (`-c`) or an array already parsed (cdk.json); empty or absent: none. */
export function parseIdentityProviders(value: unknown): IdentityProviderOption[] {
  if (value === undefined || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch (error) {
      const detail = error instanceof SyntaxError ? `: ${error.message}` : '';
      throw new IdentityProviderOptionError('identityProviders', `is not valid JSON${detail}`);
    }
  }
  if (!Array.isArray(list)) {
    throw new IdentityProviderOptionError(
      'identityProviders',
      'must be a JSON array of providers such as [{"type":"google",...}]',
    );
  }
  const providers = list.map(parseEntry);
  const seen = new Map<string, number>();
  providers.forEach((provider, index) => {
    const name = providerName(provider).toLowerCase();
    const first = seen.get(name);
    if (first !== undefined) {
      const key =
        provider.type === 'oidc' || provider.type === 'saml'
          ? `identityProviders[${index}].name`
          : `identityProviders[${index}]`;
      throw new IdentityProviderOptionError(
        key,
        `duplicates identityProviders[${first}]: provider name ${quoted(providerName(provider))} can appear once`,
      );
    }
    seen.set(name, index);
  });
  return providers;
}

export function checkDomainPrefix(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !DOMAIN_PREFIX.test(value)) {
    throw new IdentityProviderOptionError(
      'domainPrefix',
      'must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen',
    );
  }
  const reserved = DOMAIN_RESERVED_WORDS.find((word) => value.includes(word));
  if (reserved !== undefined) {
    throw new IdentityProviderOptionError('domainPrefix', `must not contain the reserved word ${quoted(reserved)}`);
  }
  return value;
}

/**
 * Reads `callbackUrls` or `logoutUrls`: comma-separated (`-c`) or an array (cdk.json). Each is https, or
 * http://localhost for local development: the only plain-http redirect Cognito's authorization server accepts.
 */
export function checkRedirectUrls(key: 'callbackUrls' | 'logoutUrls', value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const items = typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value;
  if (!Array.isArray(items) || items.some((item) => typeof item !== 'string')) {
    throw new IdentityProviderOptionError(
      key,
      'must be a comma-separated list of URLs such as https://app.example.org/cb',
    );
  }
  const urls = [...new Set(items as string[])];
  if (urls.length > MAX_URLS)
    throw new IdentityProviderOptionError(key, `has ${urls.length} URLs; Cognito takes at most ${MAX_URLS}`);
  for (const url of urls) {
    if (url === '') throw new IdentityProviderOptionError(key, 'has an empty entry');
    const reason = redirectUrlProblem(url);
    if (reason !== undefined) throw new IdentityProviderOptionError(key, `has ${quoted(url)}, which ${reason}`);
  }
  return urls;
}

function redirectUrlProblem(value: string): string | undefined {
  if (value.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  const localhost = url.protocol === 'http:' && url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !localhost) return 'is not https (plain http is allowed for http://localhost only)';
  if (url.hostname === '') return 'has no host';
  // Fragments: RFC 6749 3.1.2 forbids them in a redirection endpoint.
  if (value.includes('#')) return 'has a #fragment, which a redirect URI may not have';
  if (url.username !== '' || url.password !== '') return 'carries a user name or password';
  return undefined;
}

function flag(key: string, value: unknown): boolean {
  if (value === undefined || value === '' || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new IdentityProviderOptionError(key, 'must be true or false');
}

/** Reads the five federation options from CDK context and checks how they combine. */
export function federationOptions(context: Context): FederationOptions {
  const identityProviders = parseIdentityProviders(context('identityProviders'));
  const domainPrefix = checkDomainPrefix(context('domainPrefix'));
  const callbackUrls = checkRedirectUrls('callbackUrls', context('callbackUrls'));
  const logoutUrls = checkRedirectUrls('logoutUrls', context('logoutUrls'));
  const linkFederatedByEmail = flag('linkFederatedByEmail', context('linkFederatedByEmail'));

  // Federated sign-in runs through the managed login's /oauth2/idpresponse: no domain, no federation.
  if (identityProviders.length > 0 && domainPrefix === undefined) {
    throw new IdentityProviderOptionError(
      'domainPrefix',
      'is required with identityProviders: federated sign-in goes through the managed login domain',
    );
  }
  if (domainPrefix !== undefined && callbackUrls.length === 0) {
    throw new IdentityProviderOptionError(
      'callbackUrls',
      identityProviders.length > 0
        ? 'is required with identityProviders: the app client needs at least one URL to receive the code'
        : 'is required with domainPrefix: the app client needs at least one URL to receive the code',
    );
  }
  // An option that would be ignored is refused, so nobody believes it is in force.
  if (domainPrefix === undefined && callbackUrls.length > 0) {
    throw new IdentityProviderOptionError('callbackUrls', 'needs domainPrefix: without a domain OAuth stays off');
  }
  if (domainPrefix === undefined && logoutUrls.length > 0) {
    throw new IdentityProviderOptionError('logoutUrls', 'needs domainPrefix: without a domain OAuth stays off');
  }
  if (linkFederatedByEmail && identityProviders.length === 0) {
    throw new IdentityProviderOptionError('linkFederatedByEmail', 'needs identityProviders: there is nobody to link');
  }
  return { identityProviders, domainPrefix, callbackUrls, logoutUrls, linkFederatedByEmail };
}
