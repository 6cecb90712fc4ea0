/**
 * Harness helpers that need only SDK clients, not an in-process stack: the integration tests and the benchmarks use
 * them through ./stack.ts, and `npm run demo` against a running `npm start`.
 */
import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';

/** Anything with a Step Functions client: a TestStack, or `{ clients: { sfn } }`. */
export interface WithSfn {
  clients: { sfn: SFNClient };
}

/** Every history event of an execution, oldest first (all pages of GetExecutionHistory). */
export async function executionHistory(t: WithSfn, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await t.clients.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The payload of a JWT, not verified (the gateway verifies; callers only read claims). Throws when it is no JWT. */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
