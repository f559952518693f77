// A local Lambda Invoke API (the one `sam local start-lambda` serves): enough for cognito-local's trigger
// calls, `aws lambda invoke --endpoint-url` and the AWS SDKs, with Lambda's own success and error shapes.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { LOOPBACK } from './ports';

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface InvokeServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Function name -> handler. */
  readonly functions: Readonly<Record<string, LocalHandler>>;
  /** What `context.getRemainingTimeInMillis()` counts down from, like the function's timeout. @default 6000 */
  readonly timeoutMs?: number;
  readonly region?: string;
}

export interface InvokeServer {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024; // Lambda's synchronous request payload limit.
const ACCOUNT = '000000000000';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text).toString(),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(text);
}

/** An API error as Lambda reports it: the SDKs read the code from `x-amzn-ErrorType`. */
function apiError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { Type: 'User', Message: message }, { 'x-amzn-ErrorType': type });
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_PAYLOAD_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_PAYLOAD_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `name`, `name:$LATEST` or a full function ARN, as Lambda accepts. */
function functionNameOf(raw: string): string {
  const decoded = decodeURIComponent(raw);
  const arn = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(decoded);
  if (arn?.[1]) return arn[1];
  return decoded.replace(/:\$LATEST$/, '');
}

/** A Lambda context for one local invocation: a fresh request id, a deadline like the function timeout. */
export function localContext(name: string, region: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function errorPayload(error: unknown): { errorType: string; errorMessage: string } {
  if (error instanceof Error) return { errorType: error.name, errorMessage: error.message };
  return { errorType: typeof error, errorMessage: String(error) };
}

export async function startInvokeServer(options: InvokeServerOptions): Promise<InvokeServer> {
  const region = options.region ?? 'us-east-1';
  const timeoutMs = options.timeoutMs ?? 6000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const match = INVOKE_PATH.exec(path);
    if (!match?.[1]) return apiError(res, 404, 'ResourceNotFoundException', `No route for ${req.method} ${path}`);
    if (req.method !== 'POST') return apiError(res, 405, 'MethodNotAllowedException', `${req.method} is not allowed`);
    const name = functionNameOf(match[1]);
    const fn = Object.hasOwn(options.functions, name) ? options.functions[name] : undefined;
    if (!fn) {
      return apiError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`);
    }
    const body = await readBody(req);
    if (body === undefined) return apiError(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes');
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        return apiError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
      }
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') return send(res, 204, undefined);
    const context = localContext(name, region, timeoutMs);
    if (invocationType === 'Event') {
      // Asynchronous invocation: accepted at once; the outcome shows only in the function's own log lines.
      fn(event, context).catch(() => undefined);
      return send(res, 202, undefined);
    }
    try {
      const result = await fn(event, context);
      send(res, 200, result ?? null, { 'X-Amz-Executed-Version': '$LATEST' });
    } catch (error) {
      // A function error is a successful invocation whose payload describes the error, as in Lambda.
      send(res, 200, errorPayload(error), { 'X-Amz-Function-Error': 'Unhandled', 'X-Amz-Executed-Version': '$LATEST' });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) apiError(res, 500, 'ServiceException', errorPayload(error).errorMessage);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${options.host ?? LOOPBACK}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets from the SDK clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
