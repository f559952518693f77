// How a function becomes a client of the database as a least-privilege IAM-authenticated user. The three
// parts (where to connect, the right to log in as that user, the network path) are one call, so that no
// function gets one without the others.
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Port } from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { POSTGRES_PORT } from '../constants';
import type { WirableFunction } from './project-function';

export interface DatabaseClientOptions {
  /** The PostgreSQL role the function logs in as (`rds-db:connect` is granted for this user only). */
  readonly user: string;
  /** Describes the security-group rules it gets (`post-confirmation to PostgreSQL`). */
  readonly description: string;
}

/** What a client function needs from the database: the one way to be bound to it. */
export interface IamDatabase {
  /**
   * Makes `fn` a client that logs in as `options.user` with an IAM token over verified TLS: its environment,
   * `rds-db:connect` as that user only, and 5432 open from `fn` to the database (the proxy, when there is one).
   */
  bindClient(fn: WirableFunction, options: DatabaseClientOptions): void;
}

/** Where IAM-authenticated clients connect: the instance itself, or the RDS Proxy in front of it. */
export interface IamDatabaseEndpoint {
  readonly host: string;
  readonly port: string;
  readonly databaseName: string;
  /** Which authorities sign the host's certificate: the RDS CAs (`instance`) or, for RDS Proxy, Amazon's own roots too. */
  readonly kind: 'instance' | 'proxy';
  /** What the client opens 5432 to. */
  readonly target: ec2.IConnectable;
  /** `rds-db:connect` as `user` only. */
  grantConnect(grantee: iam.IGrantable, user: string): iam.Grant;
}

/** The one implementation of `IamDatabase.bindClient`, for whichever endpoint the database offers. */
export function bindIamClient(
  fn: WirableFunction,
  endpoint: IamDatabaseEndpoint,
  options: DatabaseClientOptions,
): void {
  // The variables lambdas/postgres/connection-source.ts reads to connect with IAM authentication over verified
  // TLS. The CAs come with the code (lambdas/postgres/rds-ca.ts, by AWS_REGION, which Lambda sets), not from
  // NODE_EXTRA_CA_CERTS: a file nobody checked, loaded at every cold start.
  const environment: Record<string, string> = {
    DB_HOST: endpoint.host,
    DB_PORT: endpoint.port,
    DB_NAME: endpoint.databaseName,
    DB_USER: options.user,
    DB_ENDPOINT_KIND: endpoint.kind,
    // Declared empty so that `sam local invoke --env-vars` can set it; empty means unset.
    CONNECTION_URL: '',
  };
  for (const [key, value] of Object.entries(environment)) fn.addEnvironment(key, value);
  endpoint.grantConnect(fn, options.user);
  fn.connections.allowTo(endpoint.target, Port.tcp(POSTGRES_PORT), options.description);
}
