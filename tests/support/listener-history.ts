/**
 * The execution history of an offline Step Functions service that is not part of a stack (unit tests, the bench's
 * baseline): its listener served on a free port for the call, read with GetExecutionHistory over AWS JSON 1.0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Listener } from '../../local/types.ts';

/** Every history event of the execution, oldest first (all pages), execution data left out. */
export async function listenerHistory(listener: Listener, executionArn: string): Promise<{ id: number; type: string }[]> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const events: { id: number; type: string }[] = [];
    let nextToken: string | undefined;
    do {
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.GetExecutionHistory' },
        body: JSON.stringify({ executionArn, maxResults: 1000, includeExecutionData: false, ...(nextToken ? { nextToken } : {}) }),
      });
      if (!response.ok) throw new Error(`GetExecutionHistory answered ${response.status}: ${await response.text()}`);
      const page = (await response.json()) as { events: { id: number; type: string }[]; nextToken?: string };
      events.push(...page.events);
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
