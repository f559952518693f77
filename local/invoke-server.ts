// A local Lambda Invoke API (the one `sam local start-lambda` serves): enough for cognito-local's trigger
// calls, `aws lambda invoke --endpoint-url` and the AWS SDKs, with Lambda's own success and error shapes.
// It runs real handlers against the developer's database, so a web page the developer visits must not be able
// to call it: see acceptHeaders.
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
  /** The largest request body accepted. @default 6 MiB, Lambda's synchronous payload limit */
  readonly maxPayloadBytes?: number;
}

export interface InvokeServer {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/**
 * The body types the callers send: JSON; SDK v3 application/octet-stream; cognito-local's SDK v2
 * binary/octet-stream. A browser can send none of them cross-site without a CORS preflight, which this server
 * never approves. The AWS CLI sends no Content-Type at all; a browser never sends a POST without an Origin
 * header, which has its own rule.
 */
const BODY_TYPES = new Set(['application/json', 'application/octet-stream', 'binary/octet-stream']);
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

/** The body, or undefined as soon as it grows past `limit`: nothing more of it is kept or waited for. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Refusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/**
 * The rules that keep a browser out, read from the headers alone. A page on another site may POST here (its
 * Origin header gives it away) and a rebound DNS name may point here (its Host header does); either could
 * otherwise write rows through the handlers.
 */
function acceptHeaders(req: IncomingMessage, port: number): Refusal | undefined {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, ...(port === 80 ? ['127.0.0.1', 'localhost'] : [])];
  const host = (req.headers.host ?? '').toLowerCase();
  if (!hosts.includes(host)) {
    return {
      status: 421,
      type: 'MisdirectedRequestException',
      message: `Host must be 127.0.0.1:${port} or localhost:${port}`,
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !hosts.some((allowed) => origin.toLowerCase() === `http://${allowed}`)) {
    return { status: 403, type: 'AccessDeniedException', message: 'Cross-origin requests are not accepted' };
  }
  return undefined;
}

function acceptBodyType(req: IncomingMessage): Refusal | undefined {
  const header = req.headers['content-type'];
  if (header === undefined) return undefined;
  const essence = (header.split(';')[0] ?? '').trim().toLowerCase();
  if (BODY_TYPES.has(essence)) return undefined;
  return {
    status: 415,
    type: 'UnsupportedMediaTypeException',
    message: `Content-Type must be one of ${[...BODY_TYPES].join(', ')}`,
  };
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
  const limit = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  let port = options.port;

  /** A refused request's body is never read: the connection closes after the answer instead. */
  const refuse = (res: ServerResponse, refusal: Refusal) => {
    send(
      res,
      refusal.status,
      { Type: 'User', Message: refusal.message },
      { 'x-amzn-ErrorType': refusal.type, Connection: 'close' },
    );
  };
  const tooLarge: Refusal = {
    status: 413,
    type: 'RequestTooLargeException',
    message: `Request must be at most ${limit} bytes for the InvokeFunction operation`,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const denied = acceptHeaders(req, port);
    if (denied) return refuse(res, denied);
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const match = INVOKE_PATH.exec(path);
    if (!match?.[1]) return apiError(res, 404, 'ResourceNotFoundException', `No route for ${req.method} ${path}`);
    if (req.method !== 'POST') return apiError(res, 405, 'MethodNotAllowedException', `${req.method} is not allowed`);
    const name = functionNameOf(match[1]);
    const fn = Object.hasOwn(options.functions, name) ? options.functions[name] : undefined;
    if (!fn) {
      return apiError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`,
      );
    }
    const unsupported = acceptBodyType(req);
    if (unsupported) return refuse(res, unsupported);
    if (Number(req.headers['content-length'] ?? 0) > limit) return refuse(res, tooLarge);
    const body = await readBody(req, limit);
    if (body === undefined) return refuse(res, tooLarge);
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
  port = (server.address() as AddressInfo).port;
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
