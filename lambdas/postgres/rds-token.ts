// IAM database authentication tokens, built from the same parts @aws-sdk/rds-signer uses (SigV4 presign of
// `GET https://host:port/?Action=connect&DBUser=user`, 900 s, service `rds-db`, scheme stripped) but with
// credentials from the environment only. The Signer itself pulls in the whole Node credential chain (SSO,
// INI files, STS, IMDS), ~400 KB of the bundle a Lambda function never uses: the runtime hands the role's
// credentials to the function as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
// test/lambdas/postgres/rds-token.test.ts checks that both produce the same token.
import { formatUrl } from '@aws-sdk/core/util';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/** How long a token may be used to open a connection (RDS accepts at most 15 minutes). */
export const TOKEN_TTL_SECONDS = 900;

export interface AuthTokenSettings {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly region: string;
  /** @default the function's role credentials from the environment (`fromEnv()`), read at every signing */
  readonly credentials?: SignerCredentials;
}

type SignerCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** Returns a function that mints a fresh token per call (one per new connection). */
export function authTokenGenerator(settings: AuthTokenSettings): () => Promise<string> {
  const signer = new SignatureV4({
    service: 'rds-db',
    region: settings.region,
    credentials: settings.credentials ?? fromEnv(),
    sha256: Sha256,
  });
  return async () => {
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: settings.hostname,
      port: settings.port,
      query: { Action: 'connect', DBUser: settings.username },
      headers: { host: `${settings.hostname}:${settings.port}` },
    });
    const presigned = await signer.presign(request, { expiresIn: TOKEN_TTL_SECONDS });
    return formatUrl(presigned).replace('https://', '');
  };
}
