// How a function becomes a client of the database as a least-privilege IAM-authenticated user: the same
// environment, grant and security-group rule for every function that talks to PostgreSQL.
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Port } from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';

const POSTGRES_PORT = 5432;

/** What a client function needs from the database stack (the instance, or the proxy when there is one). */
export interface IamDatabase {
  readonly databaseName: string;
  readonly connectEndpoint: { readonly host: string; readonly port: string };
  /** The instance, or the proxy: the function opens 5432 to it. */
  readonly connectTarget: ec2.IConnectable;
  grantDatabaseConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant;
}

/** The variables lambdas/shared/config.ts reads to connect with IAM authentication over verified TLS. */
export function iamDatabaseEnvironment(database: IamDatabase, dbUser: string): Record<string, string> {
  return {
    DB_HOST: database.connectEndpoint.host,
    DB_PORT: database.connectEndpoint.port,
    DB_NAME: database.databaseName,
    DB_USER: dbUser,
    // Node.js 20+ runtimes do not load the Amazon CAs by default; this file holds them, RDS included.
    NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    // Declared empty so that `sam local invoke --env-vars` can set it; empty means unset (config.ts).
    CONNECTION_URL: '',
  };
}

/** `rds-db:connect` as `dbUser` only, and egress to 5432 on the database only. */
export function allowIamDatabaseClient(
  client: iam.IGrantable & ec2.IConnectable,
  database: IamDatabase,
  dbUser: string,
  description: string,
): void {
  database.grantDatabaseConnect(client, dbUser);
  client.connections.allowTo(database.connectTarget, Port.tcp(POSTGRES_PORT), description);
}
