/**
 * Billing close at scale, shared by the integration test and the bench: seed accounts straight into DynamoDB
 * (BatchWriteItem, 25 items a call), run the billing-close workflow and follow its chain of continuations.
 */
import { BatchWriteItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { createHash } from 'node:crypto';
import type { CloseProgress } from '../../functions/statement/page.ts';
import { executionHistory, waitForExecution, type ClosedStatus, type TestStack } from '../../local/harness/stack.ts';

/** Every way an execution closes: runClose reports the status, its callers assert it. */
const CLOSED: ClosedStatus[] = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

export interface SeedAccount {
  userId: string;
  status: 'ACTIVE' | 'CLOSED' | 'ONBOARDING' | 'FAILED';
  plan: string;
  monthlyPrice: number;
  /** When the plan started (the PLAN_STARTED ledger entry), ISO. */
  startedAt: string;
  closedAt?: string;
}

/** The physical name of the template's table `logicalId` on the stack; throws when the template has no such table. */
export function tableName(t: TestStack, logicalId: string): string {
  const table = t.stack.model.tables.find((x) => x.logicalId === logicalId);
  if (!table) throw new Error(`no ${logicalId} in the template`);
  return table.name;
}

/** Writes each account and its PLAN_STARTED ledger entry (the shapes onboarding writes), 25 items per call. */
export async function seedAccounts(t: TestStack, accounts: readonly SeedAccount[]): Promise<void> {
  const accountsTable = tableName(t, 'AccountsTable');
  const billingTable = tableName(t, 'BillingTable');
  const requests: { table: string; request: WriteRequest }[] = [];
  for (const a of accounts) {
    requests.push({
      table: accountsTable,
      request: {
        PutRequest: {
          Item: {
            userId: { S: a.userId },
            email: { S: `${a.userId}@example.com` },
            plan: { S: a.plan },
            status: { S: a.status },
            createdAt: { S: a.startedAt },
            activatedAt: { S: a.startedAt },
            version: { N: '1' },
            ...(a.closedAt ? { closedAt: { S: a.closedAt } } : {}),
          },
        },
      },
    });
    const entryId = `${a.startedAt}#PLAN_STARTED#seed-${a.userId}`;
    requests.push({
      table: billingTable,
      request: {
        PutRequest: {
          Item: {
            userId: { S: a.userId },
            entryId: { S: entryId },
            type: { S: 'PLAN_STARTED' },
            plan: { S: a.plan },
            monthlyPrice: { N: String(a.monthlyPrice) },
            currency: { S: 'USD' },
            effectiveAt: { S: a.startedAt },
            executionId: { S: `seed-${a.userId}` },
          },
        },
      },
    });
  }
  for (let i = 0; i < requests.length; i += 25) {
    let items: Record<string, WriteRequest[]> = {};
    for (const { table, request } of requests.slice(i, i + 25)) (items[table] ??= []).push(request);
    for (let round = 0; Object.keys(items).length > 0; round += 1) {
      if (round >= 20) throw new Error('BatchWriteItem kept items unprocessed');
      const result = await t.clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: items }));
      items = result.UnprocessedItems ?? {};
    }
  }
}

export interface CloseRun {
  status: string;
  error?: string;
  cause?: string;
  /** The root execution's output (the last continuation's, passed up). */
  output?: { period: string; status: string; progress: CloseProgress };
  /** Every execution of the chain, root first, with its history length. */
  executions: { executionArn: string; status: string; events: number }[];
}

export function billingCloseArn(t: TestStack): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'BillingCloseStateMachine');
  if (!machine) throw new Error('no BillingCloseStateMachine in the template');
  return machine.arn;
}

/** The name the workflow gives the continuation of execution `name` (ContinueAsNew's Name in billing-close.asl.json). */
export function continuationName(period: string, name: string): string {
  return `close-${period}-${createHash('sha1').update(name).digest('hex')}`;
}

/** Starts the close, waits for the whole chain (the root waits for its continuations), and reads every history. */
export async function runClose(t: TestStack, name: string, input: { period: string } & Record<string, unknown>, timeoutMs = 60_000): Promise<CloseRun> {
  const machineArn = billingCloseArn(t);
  const started = await t.clients.sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, name, input: JSON.stringify(input) }));
  const root = await waitForExecution(t, started.executionArn as string, { timeoutMs, expect: CLOSED });
  const executionPrefix = machineArn.replace(':stateMachine:', ':execution:');
  const executions: CloseRun['executions'] = [];
  for (let current: string | undefined = name; current !== undefined; ) {
    const executionArn: string = `${executionPrefix}:${current}`;
    const events: HistoryEvent[] | undefined = await executionHistory(t, executionArn).catch((error: Error) => {
      if (error.name === 'ExecutionDoesNotExist') return undefined;
      throw error;
    });
    if (!events) break;
    const described = await waitForExecution(t, executionArn, { timeoutMs, expect: CLOSED });
    executions.push({ executionArn, status: described.status as string, events: events.length });
    const continued: boolean = events.some((e) => e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resource === 'startExecution.sync:2');
    current = continued ? continuationName(input.period, current) : undefined;
  }
  return {
    status: root.status as string,
    ...(root.error ? { error: root.error } : {}),
    ...(root.cause ? { cause: root.cause } : {}),
    ...(root.output ? { output: JSON.parse(root.output) as CloseRun['output'] } : {}),
    executions,
  };
}
