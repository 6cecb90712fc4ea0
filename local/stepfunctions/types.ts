/** Records the offline Step Functions service keeps (and persists) per execution. */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * One history event, as GetExecutionHistory returns it except that `timestamp` is kept in epoch milliseconds
 * (the wire format, epoch seconds, is produced when answering). Exactly one `...EventDetails` member, named as
 * in the Step Functions API (`taskScheduledEventDetails`, `stateEnteredEventDetails`, ...), may be present.
 */
export interface HistoryEventRecord {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** Epoch milliseconds. */
  startDate: number;
  stopDate?: number;
  /** The execution input exactly as given to StartExecution (a JSON text). */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  traceHeader?: string;
  /** How many times the execution was re-run from the start after the process stopped while it was RUNNING. */
  redriveCount: number;
  redriveDate?: number;
  events: HistoryEventRecord[];
}

/** What StartExecution returns (and `startExecution()` resolves to). */
export interface StartExecutionResult {
  executionArn: string;
  /** Epoch milliseconds. */
  startDate: number;
}

/** DescribeExecution's answer with Date objects, as SDK v3's `DescribeExecutionOutput`. */
export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
  redriveCount: number;
}
