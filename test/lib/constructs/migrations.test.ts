import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { databaseGroupId, synthApp, type Resource, type SynthesizedStage } from '../../support/cdk';
import { startTestServer } from '../../support/postgres';

const run = promisify(execFile);
const MIGRATIONS_SOURCE = join(__dirname, '..', '..', '..', 'sql', 'migrations');
const FUNCTIONS_SOURCE = join(__dirname, '..', '..', '..', 'sql', 'functions');

/** Every file below `dir` with its contents, by relative path. */
function filesBelow(dir: string): Record<string, string> {
  const paths = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((path) =>
    statSync(join(dir, path)).isFile(),
  );
  return Object.fromEntries(paths.sort().map((path) => [path, readFileSync(join(dir, path), 'utf8')]));
}

describe.each(['dev', 'prod'] as const)('Migrations in DatabaseStack (%s)', (stage) => {
  let synth: SynthesizedStage;
  beforeAll(() => {
    synth = synthApp({ stage });
  });

  it('lets the migration function out only to the database on 5432 and the Secrets Manager endpoint on 443', () => {
    const egress = (Object.values(synth.database.findResources('AWS::EC2::SecurityGroupEgress')) as Resource[])
      .map((rule) => rule.Properties)
      .filter((rule) => JSON.stringify(rule.GroupId).includes('MigrateFunctionSecurityGroup'));
    expect(egress).toHaveLength(2);
    expect(egress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          FromPort: 5432,
          ToPort: 5432,
          DestinationSecurityGroupId: { 'Fn::GetAtt': [databaseGroupId(synth), 'GroupId'] },
        }),
        expect.objectContaining({
          FromPort: 443,
          ToPort: 443,
          DestinationSecurityGroupId: {
            'Fn::ImportValue': expect.stringMatching(/SecretsManagerEndpointSecurityGroup/) as unknown,
          },
        }),
      ]),
    );
    const group = synth.database.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('^MigrateFunction') },
    });
    expect(JSON.stringify(Object.values(group))).not.toContain('0.0.0.0/0');
  });

  it('runs the migration function in the VPC after the instance, re-running when its code changes', () => {
    const { database } = synth;
    const triggers = Object.values(database.findResources('Custom::Trigger')) as Resource[];
    expect(triggers).toHaveLength(1);
    const trigger = triggers[0]!;
    expect(trigger.Properties.ExecuteOnHandlerChange).toBe(true);
    const dbId = Object.keys(database.findResources('AWS::RDS::DBInstance'))[0]!;
    expect(trigger.DependsOn).toContain(dbId);
    // The handler is the function's current version, whose hash follows the bundle (and so the migrations).
    expect(JSON.stringify(trigger.Properties.HandlerArn)).toMatch(/MigrateFunctionCurrentVersion/);
    database.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('migrations'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          DB_SECRET_ARN: Match.anyValue(),
          DB_NAME: 'cruddur',
          MIGRATIONS_DIR: '/var/task/sql/migrations',
          FUNCTIONS_DIR: '/var/task/sql/functions',
          NODE_EXTRA_CA_CERTS: Match.absent(),
        }),
      },
    });
  });

  function migrationAssetDir(): string {
    const fn = Object.values(
      synth.database.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('migrations') },
      }),
    )[0] as Resource;
    // The asset's directory in the cloud assembly is named after the hash that is also its S3 key.
    const key = (fn.Properties.Code as { S3Key: string }).S3Key;
    return join(synth.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
  }

  it('bundles sql/migrations and the migrator’s own first migration into the migration function', () => {
    const assetDir = migrationAssetDir();
    expect(readdirSync(join(assetDir, 'sql', 'migrations')).sort()).toEqual(readdirSync(MIGRATIONS_SOURCE).sort());
    expect(existsSync(join(assetDir, 'migrations', '0_create-migrations-table.sql'))).toBe(true);
  });

  it('bundles sql/functions byte for byte, so a changed function file changes the asset and re-runs the trigger', () => {
    // NodejsFunction hashes its bundle's output (AssetHashType.OUTPUT): the files in it are what the hash covers.
    const bundled = filesBelow(join(migrationAssetDir(), 'sql', 'functions'));
    expect(Object.keys(bundled)).toContain(join('sync', 'sign_up.sql'));
    expect(bundled).toEqual(filesBelow(FUNCTIONS_SOURCE));
  });

  if (stage === 'dev') {
    it('ships a bundle that, loaded as Lambda loads it, applies the migrations to a real PostgreSQL', async () => {
      const assetDir = migrationAssetDir();
      const server = await startTestServer();
      const tls = await startTlsFront(server.port);
      // The bundle carries its own copy of the AWS SDK, which aws-sdk-client-mock cannot reach: a local endpoint.
      const secrets = await startSecretsManager({ username: 'postgres', password: 'postgres' });
      try {
        const env = {
          DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:master',
          DB_HOST: 'localhost',
          DB_PORT: String(tls.port),
          DB_NAME: 'postgres',
          MIGRATIONS_DIR: join(assetDir, 'sql', 'migrations'),
          FUNCTIONS_DIR: join(assetDir, 'sql', 'functions'),
          AWS_ENDPOINT_URL: secrets.url,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
        };
        // The bundle trusts the RDS CAs it ships and nothing the environment adds: the old NODE_EXTRA_CA_CERTS way is refused.
        await expect(
          invokeBundle(join(assetDir, 'index.js'), { ...env, NODE_EXTRA_CA_CERTS: tls.caFile }),
        ).rejects.toThrow();
        // Standing in for "an RDS CA signed this server": the front's CA added to the bundle's own list.
        const result = await invokeBundle(join(assetDir, 'index.js'), env, tls.caFile);
        expect(result).toEqual({
          applied: readdirSync(join(assetDir, 'sql', 'migrations')).sort(),
          functions: Object.keys(filesBelow(join(assetDir, 'sql', 'functions')))
            .filter((path) => path.endsWith('.sql'))
            .map((path) => path.split(sep).join('/')),
        });
        expect(secrets.targets).toContain('secretsmanager.GetSecretValue');
      } finally {
        await Promise.all([secrets.close(), tls.close()]);
        await server.destroy();
      }
    }, 60_000);
  }

  it('lets the migration function read the master secret and nothing else in Secrets Manager', () => {
    synth.database.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { Ref: Match.stringLikeRegexp('Secret') },
          }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^MigrateFunctionRole') }],
    });
  });
});

/**
 * Loads the bundle in a fresh Node.js process, as Lambda does (environment read at load), and calls its handler.
 * `trustCaFile`: a CA appended to the `ca` list every TLS connection of the process passes (the bundle's RDS CAs).
 */
async function invokeBundle(bundle: string, env: Record<string, string>, trustCaFile?: string): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-bundle-'));
  const resultFile = join(dir, 'result.json');
  // The handler logs to stdout: the result goes to a file of its own.
  const script = `require(${JSON.stringify(bundle)}).handler().then((r) => require('node:fs').writeFileSync(${JSON.stringify(resultFile)}, JSON.stringify(r)))`;
  const preload = join(dir, 'trust.cjs');
  writeFileSync(
    preload,
    [
      "const tls = require('node:tls');",
      `const extra = require('node:fs').readFileSync(${JSON.stringify(trustCaFile ?? '')}, 'utf8');`,
      'const connect = tls.connect;',
      'tls.connect = function (options, ...rest) {',
      '  if (options && Array.isArray(options.ca)) options = { ...options, ca: [...options.ca, extra] };',
      '  return connect.call(this, options, ...rest);',
      '};',
      '',
    ].join('\n'),
  );
  const args = trustCaFile === undefined ? ['-e', script] : ['--require', preload, '-e', script];
  try {
    await run(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, timeout: 45_000 });
    return JSON.parse(readFileSync(resultFile, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A TLS front for the test server, which speaks no TLS: it answers PostgreSQL's SSLRequest, terminates TLS with a
 * throwaway certificate for `localhost`, and relays to the server. The bundle's verified TLS is tested as deployed.
 */
async function startTlsFront(upstreamPort: number): Promise<{ port: number; caFile: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-tls-'));
  const [keyFile, caFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
    '-keyout',
    keyFile,
    '-out',
    caFile,
  ]);
  const [key, cert] = [readFileSync(keyFile), readFileSync(caFile)];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('data', (request) => {
      // SSLRequest: length 8, code 80877103. The bundle must ask for TLS; anything else is cut off.
      if (request.length !== 8 || request.readUInt32BE(4) !== 80877103) return void socket.destroy();
      socket.pause();
      socket.write('S');
      const secure = new TLSSocket(socket, { isServer: true, key, cert });
      const upstream = connect(upstreamPort, '127.0.0.1');
      sockets.add(upstream);
      const end = () => (secure.destroy(), upstream.destroy());
      for (const side of [secure, upstream]) side.on('error', end).on('close', end);
      secure.pipe(upstream).pipe(secure);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caFile,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Answers GetSecretValue with the given credentials, as Secrets Manager's JSON protocol does; records each call. */
async function startSecretsManager(credentials: {
  username: string;
  password: string;
}): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const server: Server = createHttpServer((request, response) => {
    targets.push(String(request.headers['x-amz-target']));
    request.resume().on('end', () => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        JSON.stringify({
          ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:master',
          Name: 'master',
          SecretString: JSON.stringify(credentials),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
