/**
 * The one request-body reader of the offline stack's HTTP services (execute-api, the API Gateway management API,
 * Lambda's Invoke API, the Step Functions API). Each service maps the two errors to its own wire answer.
 *
 * `readBody(req, { limit })` resolves with the whole body (a Buffer) when it is at most `limit` bytes. Past the limit
 * it rejects with BodyTooLargeError:
 * - by default only once the request has ended: the rest is read and dropped so the client, still sending, receives
 *   the error answer instead of a reset connection; past `maxDrainBytes` (if given) the connection is destroyed;
 * - with `early: true` at once; the caller then drains (`req.resume()`) and answers.
 * A request that errors or closes before its end rejects with RequestAbortedError (or the stream's error).
 * Own code, not a library (raw-body, co-body): twenty lines on node:http, and the services need the drain policy.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class RequestAbortedError extends Error {
  constructor() {
    super('request aborted');
    this.name = 'RequestAbortedError';
  }
}

export interface ReadBodyOptions {
  /** Largest body accepted, in bytes. */
  limit: number;
  /** Reject as soon as the limit is passed instead of at the request's end. */
  early?: boolean;
  /** While draining an oversized body: past this many bytes the connection is destroyed (default: never). */
  maxDrainBytes?: number;
}

export function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  const { limit, early = false, maxDrainBytes = Number.POSITIVE_INFINITY } = opts;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const settle = (error?: Error): void => {
      if (done) return;
      done = true;
      chunks.length = 0;
      if (error) reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
      } else if (early) {
        settle(new BodyTooLargeError(limit)); // the rest is discarded by the caller's drain
      } else if (size > maxDrainBytes) {
        settle(new BodyTooLargeError(limit));
        req.destroy();
      } else {
        chunks.length = 0; // keep draining, answer once it ends
      }
    });
    req.on('end', () => {
      if (done) return;
      if (size > limit) return settle(new BodyTooLargeError(limit));
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      done = true;
      resolve(body);
    });
    req.on('error', (error: Error) => settle(error));
    req.on('close', () => settle(new RequestAbortedError()));
  });
}
