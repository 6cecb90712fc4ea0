/**
 * The AWS JSON 1.0 wire protocol of Step Functions, as SDK v3 `@aws-sdk/client-sfn` and `aws stepfunctions`
 * (botocore) speak it: `POST /` with `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body; answers are
 * `application/x-amz-json-1.0` JSON with timestamps as epoch seconds (numbers). Errors are HTTP 400 with
 * `{"__type": "com.amazonaws.swf.service.v2.model#<Code>", "message": "..."}` (SDKs keep the part after `#`).
 * Request signatures are not checked. Nothing a client sends can crash the server: every failure becomes an
 * error answer.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { BodyTooLargeError, readBody } from '../request-body.ts';
import type { Listener } from '../types.ts';
import { SfnApiError } from './errors.ts';

export const TARGET_PREFIX = 'AWSStepFunctions.';
/** Largest request body read (StartExecution input is at most 256 KiB, but JSON escaping can grow it). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export type Operation = (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
  });
  res.end(text);
}

export interface ListenerOptions {
  operations: Record<string, Operation>;
  log: (line: string) => void;
  /** When true, every request is answered 503 ServiceUnavailable. */
  isClosing: () => boolean;
}

export function createListener(options: ListenerOptions): Listener {
  const { operations, log } = options;
  return (req, res) => {
    const requestId = randomUUID();
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof SfnApiError) {
        const body = err.toBody();
        if (err.code === 'SerializationException' || err.code === 'UnknownOperationException') {
          body.__type = `com.amazon.coral.service#${err.code}`;
        }
        send(res, err.statusCode, body, requestId);
        return;
      }
      log(`stepfunctions: internal error: ${(err as Error)?.stack ?? String(err)}`);
      send(res, 500, { __type: 'com.amazon.coral.service#InternalFailure', message: 'Internal failure' }, requestId);
    };
    void (async () => {
      if (req.method !== 'POST') {
        req.resume();
        throw new SfnApiError('UnknownOperationException', `Step Functions answers POST / only (got ${req.method})`);
      }
      const raw = await readBody(req, { limit: MAX_BODY_BYTES }).catch((error: unknown) => {
        if (error instanceof BodyTooLargeError) {
          throw new SfnApiError('SerializationException', `Request body larger than ${MAX_BODY_BYTES} bytes`, 413);
        }
        throw error;
      });
      if (options.isClosing()) throw new SfnApiError('ServiceUnavailable', 'The offline Step Functions service is shutting down', 503);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.startsWith(TARGET_PREFIX)) {
        throw new SfnApiError('UnknownOperationException', `Missing or unknown X-Amz-Target header: '${target}'`);
      }
      const op = target.slice(TARGET_PREFIX.length);
      const handler = Object.prototype.hasOwnProperty.call(operations, op) ? operations[op] : undefined;
      if (!handler) {
        throw new SfnApiError('UnknownOperationException', `The offline Step Functions does not implement ${op}`);
      }
      let body: unknown;
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new SfnApiError('SerializationException', 'Request body is not valid JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new SfnApiError('SerializationException', 'Request body must be a JSON object');
      }
      const result = await handler(body as Record<string, unknown>);
      send(res, 200, result, requestId);
    })().catch(fail);
  };
}

/** Reads an optional string member; anything else than a string or absent → ValidationException. */
export function optString(body: Record<string, unknown>, member: string): string | undefined {
  const v = body[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new SfnApiError('ValidationException', `1 validation error detected: Value at '${member}' must be a string`);
  }
  return v;
}

export function reqString(body: Record<string, unknown>, member: string): string {
  const v = optString(body, member);
  if (v === undefined) {
    throw new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

/** `maxResults`: 0 or absent means the default page size (100); at most 1000. */
export function pageSize(body: Record<string, unknown>): number {
  const v = body.maxResults;
  if (v === undefined || v === null || v === 0) return 100;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new SfnApiError('ValidationException', `1 validation error detected: Value '${String(v)}' at 'maxResults' must be an integer`);
  }
  if (v > 1000) {
    throw new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`,
    );
  }
  return v;
}

/** Opaque pagination tokens: which listing they belong to and where to resume. */
export function encodeToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ s: scope, o: offset })).toString('base64url');
}

export function decodeToken(token: string | undefined, scope: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; o?: unknown };
    if (parsed.s === scope && typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through
  }
  throw new SfnApiError('InvalidToken', `Invalid Token: '${token}'`);
}
