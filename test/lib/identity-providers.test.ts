import { describe, expect, it } from 'vitest';
import {
  checkDomainPrefix,
  checkRedirectUrls,
  federationOptions,
  IdentityProviderOptionError,
  parseIdentityProviders,
  providerName,
  type IdentityProviderOption,
} from '../../lib/identity-providers';

const from = (context: Record<string, unknown>) => federationOptions((key) => context[key]);

const GOOGLE = {
  type: 'google',
  clientId: '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
  clientSecretName: 'cruddur/google-client-secret',
};
const FACEBOOK = { type: 'facebook', clientId: '1234567890123456', clientSecretName: 'cruddur/facebook' };
const AMAZON = {
  type: 'amazon',
  clientId: 'amzn1.application-oa2-client.0123456789abcdef',
  clientSecretName: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cruddur/amazon-AbCdEf',
};
const APPLE = {
  type: 'apple',
  servicesId: 'org.example.cruddur.signin',
  teamId: 'ABCDE12345',
  keyId: 'XYZ9876543',
  privateKeySecretName: 'cruddur/apple-key',
};
const OIDC = {
  type: 'oidc',
  name: 'Okta',
  issuer: 'https://example.okta.com',
  clientId: '0oa1b2c3d4',
  clientSecretName: 'cruddur/okta',
};
const SAML = { type: 'saml', name: 'Corp-AD', metadataUrl: 'https://adfs.example.org/FederationMetadata.xml' };
const ALL = [GOOGLE, FACEBOOK, AMAZON, APPLE, OIDC, SAML];

const federated = { domainPrefix: 'cruddur-dev', callbackUrls: 'https://app.example.org/cb' };

/** The error federationOptions throws for this context; fails the test when it throws none. */
function refusal(context: Record<string, unknown>): IdentityProviderOptionError {
  try {
    from(context);
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityProviderOptionError);
    return error as IdentityProviderOptionError;
  }
  throw new Error(`accepted ${JSON.stringify(context)}`);
}

const withEntry = (entry: unknown) => ({ ...federated, identityProviders: JSON.stringify([GOOGLE, entry]) });

describe('federationOptions', () => {
  it('turns federation off when no option is given', () => {
    expect(from({})).toEqual({
      identityProviders: [],
      domainPrefix: undefined,
      callbackUrls: [],
      logoutUrls: [],
      linkFederatedByEmail: false,
    });
  });

  it('parses every provider type from a -c JSON string, keeping exactly the fields given', () => {
    const options = from({ ...federated, identityProviders: JSON.stringify(ALL) });
    expect(options.identityProviders).toEqual(ALL);
    expect(options.identityProviders.map(providerName)).toEqual([
      'Google',
      'Facebook',
      'LoginWithAmazon',
      'SignInWithApple',
      'Okta',
      'Corp-AD',
    ]);
  });

  it.each(ALL.map((entry) => [entry.type, entry] as const))('parses a %s entry on its own', (_type, entry) => {
    expect(from({ ...federated, identityProviders: JSON.stringify([entry]) }).identityProviders).toEqual([entry]);
  });

  it('reads the already-parsed array and lists cdk.json gives', () => {
    const options = from({
      identityProviders: [OIDC],
      domainPrefix: 'cruddur-prod',
      callbackUrls: ['https://app.example.org/cb', 'http://localhost:3000/cb'],
      logoutUrls: ['https://app.example.org/'],
      linkFederatedByEmail: true,
    });
    expect(options).toEqual({
      identityProviders: [OIDC],
      domainPrefix: 'cruddur-prod',
      callbackUrls: ['https://app.example.org/cb', 'http://localhost:3000/cb'],
      logoutUrls: ['https://app.example.org/'],
      linkFederatedByEmail: true,
    });
  });

  it('splits comma-separated URLs from -c, trims them and drops repeats', () => {
    const options = from({
      ...federated,
      callbackUrls: 'https://app.example.org/cb , http://localhost:5173/cb,https://app.example.org/cb',
      logoutUrls: 'https://app.example.org/bye',
      linkFederatedByEmail: 'false',
      identityProviders: JSON.stringify([GOOGLE]),
    });
    expect(options.callbackUrls).toEqual(['https://app.example.org/cb', 'http://localhost:5173/cb']);
    expect(options.logoutUrls).toEqual(['https://app.example.org/bye']);
    expect(options.linkFederatedByEmail).toBe(false);
  });

  it('allows a domain without providers: managed login for the pool’s own users', () => {
    expect(from(federated)).toMatchObject({ identityProviders: [], domainPrefix: 'cruddur-dev' });
  });

  const refusals: [string, Record<string, unknown>, string][] = [
    // How the options combine.
    [
      'providers without a domainPrefix',
      { identityProviders: JSON.stringify([GOOGLE]), callbackUrls: 'https://app.example.org/cb' },
      'context domainPrefix is required with identityProviders: federated sign-in goes through the managed login domain',
    ],
    [
      'providers without callbackUrls',
      { identityProviders: JSON.stringify([GOOGLE]), domainPrefix: 'cruddur-dev' },
      'context callbackUrls is required with identityProviders: the app client needs at least one URL to receive the code',
    ],
    [
      'a domain without callbackUrls',
      { domainPrefix: 'cruddur-dev' },
      'context callbackUrls is required with domainPrefix: the app client needs at least one URL to receive the code',
    ],
    [
      'callbackUrls without a domain',
      { callbackUrls: 'https://app.example.org/cb' },
      'context callbackUrls needs domainPrefix: without a domain OAuth stays off',
    ],
    [
      'logoutUrls without a domain',
      { logoutUrls: 'https://app.example.org/' },
      'context logoutUrls needs domainPrefix: without a domain OAuth stays off',
    ],
    [
      'linking without providers',
      { ...federated, linkFederatedByEmail: 'true' },
      'context linkFederatedByEmail needs identityProviders: there is nobody to link',
    ],
    [
      'a linking flag that is not a boolean',
      { ...federated, identityProviders: [GOOGLE], linkFederatedByEmail: 'yes' },
      'context linkFederatedByEmail must be true or false',
    ],
    // The list itself.
    [
      'identityProviders that are not JSON',
      { ...federated, identityProviders: '[{"type":"google"' },
      'context identityProviders is not valid JSON: ',
    ],
    [
      'identityProviders that are a JSON object, not an array',
      { ...federated, identityProviders: JSON.stringify(GOOGLE) },
      'context identityProviders must be a JSON array of providers such as [{"type":"google",...}]',
    ],
    [
      'an entry that is not an object',
      withEntry('google'),
      'context identityProviders[1] must be an object such as {"type":"google",...}',
    ],
    [
      'an entry without a type',
      withEntry({ clientId: 'x', clientSecretName: 'y' }),
      'context identityProviders[1].type is missing: one of google, facebook, amazon, apple, oidc, saml',
    ],
    [
      'an unknown type',
      withEntry({ type: 'github', clientId: 'x', clientSecretName: 'y' }),
      'context identityProviders[1].type "github" is not one of google, facebook, amazon, apple, oidc, saml',
    ],
    [
      'a type that is not a string',
      withEntry({ type: 7 }),
      'context identityProviders[1].type is not a string and is not one of google, facebook, amazon, apple, oidc, saml',
    ],
    [
      'an extra field',
      withEntry({ ...OIDC, clientSecret: 'plain-text' }),
      'context identityProviders[1].clientSecret is not a field of a oidc provider (its fields: type, name, issuer, clientId, clientSecretName)',
    ],
    [
      'a missing field',
      withEntry({ type: 'saml', name: 'Corp-AD' }),
      'context identityProviders[1].metadataUrl is missing: a saml provider needs it',
    ],
    [
      'a field of the wrong type',
      withEntry({ ...APPLE, keyId: 1234567890 }),
      'context identityProviders[1].keyId must be a string',
    ],
    [
      'an empty field',
      withEntry({ ...AMAZON, clientId: '  ' }),
      'context identityProviders[1].clientId must not be empty',
    ],
    [
      'a non-https OIDC issuer',
      withEntry({ ...OIDC, issuer: 'http://example.okta.com' }),
      'context identityProviders[1].issuer must be an https URL',
    ],
    [
      'an OIDC issuer that is no URL at all',
      withEntry({ ...OIDC, issuer: 'example.okta.com' }),
      'context identityProviders[1].issuer must be an https URL',
    ],
    [
      'a non-https SAML metadata URL',
      withEntry({ ...SAML, metadataUrl: 'http://adfs.example.org/FederationMetadata.xml' }),
      'context identityProviders[1].metadataUrl must be an https URL',
    ],
    [
      'a metadata URL with a fragment',
      withEntry({ ...SAML, metadataUrl: 'https://adfs.example.org/md.xml#top' }),
      'context identityProviders[1].metadataUrl must not have a #fragment',
    ],
    [
      'a provider name that is too short',
      withEntry({ ...SAML, name: 'AD' }),
      'context identityProviders[1].name must be 3 to 32 characters',
    ],
    [
      'a provider name with a space',
      withEntry({ ...OIDC, name: 'Corp Okta' }),
      'context identityProviders[1].name must be letters, digits, symbols or punctuation with no spaces and no underscore',
    ],
    [
      'a provider name with an underscore',
      withEntry({ ...OIDC, name: 'Corp_Okta' }),
      'context identityProviders[1].name must be letters, digits, symbols or punctuation with no spaces and no underscore',
    ],
    [
      'a provider name Cognito keeps for itself',
      withEntry({ ...OIDC, name: 'cognito' }),
      'context identityProviders[1].name "cognito" is reserved for Cognito\'s own or a social provider; choose another',
    ],
    [
      'a provider name a social provider has',
      withEntry({ ...SAML, name: 'Google' }),
      'context identityProviders[1].name "Google" is reserved for Cognito\'s own or a social provider; choose another',
    ],
    [
      'the same social provider twice',
      { ...federated, identityProviders: JSON.stringify([GOOGLE, FACEBOOK, GOOGLE]) },
      'context identityProviders[2] duplicates identityProviders[0]: provider name "Google" can appear once',
    ],
    [
      'two OIDC/SAML providers with the same name, in any case',
      { ...federated, identityProviders: JSON.stringify([OIDC, { ...SAML, name: 'okta' }]) },
      'context identityProviders[1].name duplicates identityProviders[0]: provider name "okta" can appear once',
    ],
    [
      'a secret value where the secret name belongs',
      withEntry({ ...OIDC, clientSecretName: 'abc def ghi' }),
      'context identityProviders[1].clientSecretName must be the name or ARN of a Secrets Manager secret (letters, digits and /_+=.@- only), not the secret itself',
    ],
    [
      'a Google client ID of another shape',
      { ...federated, identityProviders: JSON.stringify([{ ...GOOGLE, clientId: '1234' }]) },
      'context identityProviders[0].clientId must be a Google OAuth client ID ending in .apps.googleusercontent.com',
    ],
    [
      'a Facebook App ID that is not digits',
      withEntry({ ...FACEBOOK, clientId: 'fb-app' }),
      'context identityProviders[1].clientId must be a Facebook App ID (digits)',
    ],
    [
      'an Apple Team ID of the wrong length',
      withEntry({ ...APPLE, teamId: 'ABC' }),
      'context identityProviders[1].teamId must be the 10 upper-case letters or digits Apple issues',
    ],
    [
      'an Apple Services ID that is not reverse-DNS',
      withEntry({ ...APPLE, servicesId: 'cruddur' }),
      'context identityProviders[1].servicesId must be an Apple Services ID such as com.example.app.signin',
    ],
    [
      'a client ID with a space',
      withEntry({ ...OIDC, clientId: 'a b' }),
      'context identityProviders[1].clientId must be 1 to 256 printable characters without spaces',
    ],
    // The domain.
    [
      'an upper-case domain prefix',
      { ...federated, domainPrefix: 'Cruddur' },
      'context domainPrefix must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen',
    ],
    [
      'a domain prefix ending in a hyphen',
      { ...federated, domainPrefix: 'cruddur-' },
      'context domainPrefix must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen',
    ],
    [
      'a domain prefix with a period (a custom domain)',
      { ...federated, domainPrefix: 'auth.example' },
      'context domainPrefix must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen',
    ],
    [
      'a domain prefix of 64 characters',
      { ...federated, domainPrefix: 'a'.repeat(64) },
      'context domainPrefix must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen',
    ],
    [
      'a domain prefix with a reserved word',
      { ...federated, domainPrefix: 'cruddur-cognito-dev' },
      'context domainPrefix must not contain the reserved word "cognito"',
    ],
    [
      'a domain prefix containing aws inside another word',
      { ...federated, domainPrefix: 'laws-app' },
      'context domainPrefix must not contain the reserved word "aws"',
    ],
    // The redirect URLs.
    [
      'a plain-http callback URL that is not localhost',
      { ...federated, callbackUrls: 'https://app.example.org/cb,http://app.example.org/cb' },
      'context callbackUrls has "http://app.example.org/cb", which is not https (plain http is allowed for http://localhost only)',
    ],
    [
      'http on 127.0.0.1',
      { ...federated, callbackUrls: 'http://127.0.0.1:3000/cb' },
      'context callbackUrls has "http://127.0.0.1:3000/cb", which is not https (plain http is allowed for http://localhost only)',
    ],
    [
      'a custom-scheme callback URL',
      { ...federated, callbackUrls: 'myapp://callback' },
      'context callbackUrls has "myapp://callback", which is not https (plain http is allowed for http://localhost only)',
    ],
    [
      'a relative callback URL',
      { ...federated, callbackUrls: '/cb' },
      'context callbackUrls has "/cb", which is not an absolute URL',
    ],
    [
      'a callback URL with a fragment',
      { ...federated, callbackUrls: 'https://app.example.org/cb#done' },
      'context callbackUrls has "https://app.example.org/cb#done", which has a #fragment, which a redirect URI may not have',
    ],
    [
      'an empty entry in a list',
      { ...federated, callbackUrls: 'https://app.example.org/cb,' },
      'context callbackUrls has an empty entry',
    ],
    [
      'callback URLs that are neither a string nor strings',
      { ...federated, callbackUrls: [1] },
      'context callbackUrls must be a comma-separated list of URLs such as https://app.example.org/cb',
    ],
    [
      'a plain-http logout URL',
      { ...federated, logoutUrls: 'http://app.example.org/' },
      'context logoutUrls has "http://app.example.org/", which is not https (plain http is allowed for http://localhost only)',
    ],
    [
      'more callback URLs than Cognito takes',
      {
        ...federated,
        callbackUrls: Array.from({ length: 101 }, (_, i) => `https://app.example.org/cb${i}`).join(','),
      },
      'context callbackUrls has 101 URLs; Cognito takes at most 100',
    ],
  ];

  it.each(refusals)('refuses %s with one line naming the option', (_case, context, message) => {
    const error = refusal(context);
    expect(error.name).toBe('IdentityProviderOptionError');
    if (message.endsWith(': ')) expect(error.message.startsWith(message)).toBe(true);
    else expect(error.message).toBe(message);
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('names the option by its path in the error’s key', () => {
    expect(refusal(withEntry({ ...OIDC, issuer: 'http://x.example' })).key).toBe('identityProviders[1].issuer');
    expect(refusal({ ...federated, domainPrefix: 'AWS' }).key).toBe('domainPrefix');
  });

  it('never repeats a secret-name value back, so a secret pasted there stays out of the log', () => {
    const pasted = 'GOCSPX-not a secret name but looks like one';
    const error = refusal(withEntry({ ...GOOGLE, clientSecretName: pasted }));
    expect(error.message).not.toContain('GOCSPX');
  });

  it('keeps an error on one line even when the offending value holds a newline', () => {
    const error = refusal({ ...federated, callbackUrls: ['https://app.example.org/cb', 'http://evil.example\n/cb'] });
    expect(error.message).toMatch(/^context callbackUrls has /);
    expect(error.message).not.toMatch(/[\r\n]/);
  });
});

describe('the option readers on their own', () => {
  it('read absent and empty values as nothing', () => {
    expect(parseIdentityProviders(undefined)).toEqual([]);
    expect(parseIdentityProviders('')).toEqual([]);
    expect(parseIdentityProviders('[]')).toEqual([]);
    expect(checkDomainPrefix('')).toBeUndefined();
    expect(checkRedirectUrls('logoutUrls', undefined)).toEqual([]);
  });

  it('accept a one-character prefix and one of 63, the bounds Cognito sets', () => {
    expect(checkDomainPrefix('x')).toBe('x');
    expect(checkDomainPrefix(`a${'-'.repeat(61)}b`)).toHaveLength(63);
  });

  it('return entries typed by their type', () => {
    const [entry] = parseIdentityProviders([OIDC]) as [IdentityProviderOption];
    expect(entry.type === 'oidc' && entry.issuer).toBe('https://example.okta.com');
  });
});
