// IAM database authentication tokens: a SigV4 presigned `GET https://host:port/?Action=connect&DBUser=user`
// for service `rds-db`, valid 900 s, without the scheme (what @aws-sdk/rds-signer makes). Signed here with
// node:crypto rather than the SDK's signer: @aws-sdk/rds-signer pulls in the whole Node credential chain
// (SSO, INI files, STS, IMDS), and even Smithy's SignatureV4 alone is ~36 KB of a ~140 KB bundle that every
// cold start compiles, for one HMAC chain. The credentials are the function's role's, which the runtime hands
// over as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (query-string signing)
// test/lambdas/postgres/rds-token.test.ts checks that both produce the same token.
import { createHash, createHmac } from 'node:crypto';
/** The credentials the signer needs: the shape the AWS SDK's credential providers resolve to. */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}
export type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>;

/** How long a token may be used to open a connection (RDS accepts at most 15 minutes). */
export const TOKEN_TTL_SECONDS = 900;

export interface AuthTokenSettings {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly region: string;
  /** @default the function's role credentials from the environment, read at every signing */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** No credentials in the environment: nothing can sign the token. */
export class MissingCredentialsError extends Error {
  override readonly name = 'MissingCredentialsError';
  constructor() {
    super('Unable to find environment variable credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  }
}

/** The role credentials Lambda puts in the environment, read when a token is signed (they rotate). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new MissingCredentialsError();
  const sessionToken = env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

const SERVICE = 'rds-db';
const ALGORITHM = 'AWS4-HMAC-SHA256';
// The SHA-256 of an empty body: a GET presign signs no payload.
const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function encodeQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${escape(key)}=${escape(query[key] as string)}`)
    .join('&');
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** `host:port/?…&X-Amz-Signature=…` for `credentials` at `now`. */
export function presignConnect(
  settings: Omit<AuthTokenSettings, 'credentials'>,
  credentials: AwsCredentialIdentity,
  now: Date,
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = stamp.slice(0, 8);
  const scope = `${day}/${settings.region}/${SERVICE}/aws4_request`;
  const host = `${settings.hostname}:${settings.port}`;
  const query: Record<string, string> = {
    Action: 'connect',
    DBUser: settings.username,
    'X-Amz-Algorithm': ALGORITHM,
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': stamp,
    'X-Amz-Expires': String(TOKEN_TTL_SECONDS),
    ...(credentials.sessionToken ? { 'X-Amz-Security-Token': credentials.sessionToken } : {}),
    'X-Amz-SignedHeaders': 'host',
  };
  const canonicalQuery = encodeQuery(query);
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${host}`, '', 'host', EMPTY_BODY_SHA256].join('\n');
  const stringToSign = [ALGORITHM, stamp, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  );
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), settings.region), SERVICE),
    'aws4_request',
  );
  query['X-Amz-Signature'] = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  // The signature takes its place among the sorted keys, as the SDK's formatUrl writes them.
  return `${host}/?${encodeQuery(query)}`;
}

/** Returns a function that mints a fresh token per call (one per new connection). */
export function authTokenGenerator(settings: AuthTokenSettings): () => Promise<string> {
  const { credentials } = settings;
  return async () => {
    const identity =
      credentials === undefined
        ? credentialsFromEnv()
        : typeof credentials === 'function'
          ? await credentials()
          : credentials;
    return presignConnect(settings, identity, new Date());
  };
}
