// The IdentityLinker port over Cognito: ListUsers by email, AdminLinkProviderForUser. Permitted on this pool
// only (lib/constructs/pre-sign-up.ts), and only with `-c linkFederatedByEmail=true`.
import {
  AdminLinkProviderForUserCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import type { IdentityLinker, LinkCandidate } from './linking';

/**
 * One client per container, bounded to fit the trigger's 5 s: one attempt more on a throttle at most. No
 * region, endpoint or credentials are passed: the SDK reads AWS_REGION, the credential chain and
 * AWS_ENDPOINT_URL itself.
 */
export function createLinkingClient(): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
}

function attribute(user: UserType, name: string): string | undefined {
  return user.Attributes?.find((item) => item.Name === name)?.Value;
}

function candidate(user: UserType): LinkCandidate {
  return {
    username: user.Username ?? '',
    sub: attribute(user, 'sub'),
    email: attribute(user, 'email'),
    emailVerified: attribute(user, 'email_verified') === 'true',
    status: user.UserStatus ?? 'UNKNOWN',
  };
}

export function cognitoLinker(client: CognitoIdentityProviderClient): IdentityLinker {
  return {
    async usersWithEmail(userPoolId, email, signal) {
      // Exact match on the email attribute; a handful of users at most share one address (local and
      // federated), so Limit 10 with no paging: more than that is no basis for a link anyway.
      const result = await client.send(
        new ListUsersCommand({ UserPoolId: userPoolId, Filter: `email = "${email}"`, Limit: 10 }),
        { abortSignal: signal },
      );
      return (result.Users ?? []).filter((user) => user.Username !== undefined).map(candidate);
    },
    async link(userPoolId, username, identity, signal) {
      // Social providers, OIDC and SAML alike: Cognito_Subject is the provider's user id, the part of the
      // federated user name after `<provider>_` (API reference, AdminLinkProviderForUser "SourceUser").
      await client.send(
        new AdminLinkProviderForUserCommand({
          UserPoolId: userPoolId,
          DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: username },
          SourceUser: {
            ProviderName: identity.providerName,
            ProviderAttributeName: 'Cognito_Subject',
            ProviderAttributeValue: identity.providerUserId,
          },
        }),
        { abortSignal: signal },
      );
    },
  };
}
