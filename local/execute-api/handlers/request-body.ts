/**
 * Step 1, the request body: API Gateway receives the whole request (at most 10 MB) before anything else. Larger:
 * 413 in plain text, without x-amzn-ErrorType (not a gateway response), and the connection is closed.
 */
import { BodyTooLargeError, readBody } from '../../request-body.ts';
import type { Step } from '../context.ts';

export const readRequestBody: Step = async (inv, { maxBodyBytes }) => {
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
};
