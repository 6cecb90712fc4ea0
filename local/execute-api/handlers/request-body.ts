/**
 * Step 1, the request body: API Gateway receives the whole request (at most 10 MB) before anything else. Larger:
 * 413 in plain text, without x-amzn-ErrorType (not a gateway response), and the connection is closed.
 */
import { BodyTooLargeError, readBody } from '../../request-body.ts';
import type { Invocation, Step } from '../context.ts';
import type { Reply } from '../responses.ts';

/** A request without Content-Length and Transfer-Encoding has no body (RFC 9112 §6.3): nothing to wait for. */
export const readRequestBody: Step = (inv, deployment) => {
  const { headers } = inv.req;
  if (headers['transfer-encoding'] === undefined && (headers['content-length'] === undefined || headers['content-length'] === '0')) return undefined;
  return readDeclaredBody(inv, deployment.maxBodyBytes);
};

async function readDeclaredBody(inv: Invocation, maxBodyBytes: number): Promise<Reply | undefined> {
  const declared = Number(inv.req.headers['content-length']);
  try {
    if (Number.isFinite(declared) && declared > maxBodyBytes) throw new BodyTooLargeError(maxBodyBytes);
    inv.body = await readBody(inv.req, { limit: maxBodyBytes, early: true });
    return undefined;
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    inv.req.resume(); // discard the rest; the connection is closed after the answer
    const text = `HTTP content length exceeded ${maxBodyBytes} bytes.`;
    return { status: 413, headers: { 'Content-Type': 'text; charset=utf-8', Connection: 'close' }, body: Buffer.from(text), drain: true };
  }
}
