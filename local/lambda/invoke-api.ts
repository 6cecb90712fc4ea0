/**
 * Lambda's Invoke API (REST-JSON, as the SDK and CLI speak it): `POST /2015-03-31/functions/{name}/invocations` with
 * `X-Amz-Invocation-Type` RequestResponse, Event or DryRun and `X-Amz-Log-Type: Tail`; errors as Lambda sends them.
 * API reference: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../request-body.ts';
import type { InvokeResult } from '../types.ts';

/** Lambda's request payload quotas: 6 MB for synchronous invocations, 1 MB for asynchronous ones (Invoke API reference). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;
/** Beyond this a request body is not even drained: the connection is dropped. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
/** X-Amz-Log-Result carries the last 4 KB of the log. */
const MAX_LOG_RESULT_BYTES = 4 * 1024;

/**
 * Errors as Lambda sends them (restJson1): the code in `x-amzn-ErrorType`, the body `{"Type": "User"|"Service", …}`
 * with the message under the member name Lambda's model gives that error — `Message` for ResourceNotFoundException and
 * ServiceException, `message` for the others here (see the shapes in @aws-sdk/client-lambda).
 */
const CAPITALISED_MESSAGE = new Set(['ResourceNotFoundException', 'ServiceException']);

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', [CAPITALISED_MESSAGE.has(type) ? 'Message' : 'message']: message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': randomUUID(),
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Answers one Invoke API request: 404 UnknownOperationException / ResourceNotFoundException, 400
 * InvalidParameterValueException / InvalidRequestContentException, 413 RequestTooLargeException (6 MB synchronous,
 * 1 MB Event), 204 for DryRun, 202 for Event (the invocation runs on), else 200 with the payload or the error
 * (`X-Amz-Function-Error: Unhandled`). Never throws: an internal failure is a 500 ServiceException.
 */
export async function handleInvokeApi(
  req: IncomingMessage,
  res: ServerResponse,
  exists: (name: string) => boolean,
  notFoundMessage: (name: string) => string,
  invoke: (name: string, event: unknown) => Promise<InvokeResult>,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
    if (!match || req.method !== 'POST') {
      sendError(res, 404, 'UnknownOperationException', `Unsupported operation: ${req.method} ${url.pathname}. The offline Lambda service implements Invoke only.`);
      return;
    }
    const name = match[1] as string;
    if (!exists(name)) {
      sendError(res, 404, 'ResourceNotFoundException', notFoundMessage(name));
      return;
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType !== 'RequestResponse' && invocationType !== 'Event' && invocationType !== 'DryRun') {
      sendError(res, 400, 'InvalidParameterValueException', `Unsupported invocation type: ${invocationType}. Valid values are RequestResponse, Event and DryRun.`);
      return;
    }
    const limit = invocationType === 'Event' ? MAX_ASYNC_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES;
    let body: Buffer;
    try {
      body = await readBody(req, { limit, maxDrainBytes: MAX_DRAIN_BYTES });
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      sendError(res, 413, 'RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
      return;
    }
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch (error) {
        sendError(res, 400, 'InvalidRequestContentException', `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`);
        return;
      }
    }
    if (invocationType === 'DryRun') {
      res.writeHead(204, { 'x-amzn-RequestId': randomUUID() });
      res.end();
      return;
    }
    if (invocationType === 'Event') {
      void invoke(name, event).catch(() => undefined);
      res.writeHead(202, { 'x-amzn-RequestId': randomUUID(), 'Content-Length': 0 });
      res.end();
      return;
    }
    const result = await invoke(name, event);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'x-amzn-RequestId': result.requestId,
      'X-Amz-Executed-Version': '$LATEST',
    };
    if (String(req.headers['x-amz-log-type'] ?? '') === 'Tail') {
      const log = Buffer.from(result.logs, 'utf8');
      headers['X-Amz-Log-Result'] = log.subarray(Math.max(0, log.length - MAX_LOG_RESULT_BYTES)).toString('base64');
    }
    let payload: string;
    if (result.error) {
      headers['X-Amz-Function-Error'] = 'Unhandled';
      payload = JSON.stringify(result.error);
    } else {
      payload = JSON.stringify(result.payload ?? null);
    }
    headers['Content-Length'] = Buffer.byteLength(payload);
    res.writeHead(200, headers);
    res.end(payload);
  } catch (error) {
    if (!res.headersSent) sendError(res, 500, 'ServiceException', error instanceof Error ? error.message : 'internal error');
    else res.destroy();
  }
}
