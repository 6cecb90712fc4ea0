/** The period-close workflow: the source of billing-close.asl.json (`npm run workflows` writes it; see asl.ts). */
import { STATEMENT_FUNCTION_RETRIES, choice, invoke, machine, on, pass, task, type TaskOptions } from './asl.ts';

/** One call of the StatementFunction; the state's output is the function's answer. */
const statement = (body: Record<string, unknown>, o: TaskOptions) =>
  invoke('${StatementFunctionArn}', body, STATEMENT_FUNCTION_RETRIES, { OutputPath: '$.Payload', ...o });

export default machine(
  'Period close: one STATEMENT billing entry per account billed for the period, written once (a rerun writes nothing). The StatementFunction closes a page of accounts per call; after pagesPerExecution pages the workflow continues as a new execution of itself (startExecution.sync:2), so no execution nears Step Functions\' 25,000-event history quota: ~7 events a page, at most ~25 a page with every retry. Input: {} (the previous month), {"period": "YYYY-MM"}, optionally pageSize (1-250, default 100) and pagesPerExecution (1-900, default 500).',
  'StartClose',
  {
    StartClose: statement(
      { action: 'start-close', input: '$', asOf: '$$.Execution.StartTime' },
      {
        Comment:
          'The close\'s state from the input: {} (the month before the execution started), {"period": "YYYY-MM"}, or a continuation\'s {"close": {...}}. A period that has not ended by the execution\'s start (UTC) fails with Billing.PeriodNotEnded.',
        Catch: [on(['Billing.PeriodNotEnded', 'InvalidPeriod', 'InvalidEvent'], 'DescribeRejection')],
        Next: 'ClosePage',
      },
    ),
    ClosePage: statement(
      { action: 'close-page', close: '$' },
      {
        Comment: 'One page of accounts (a Scan page): statements written once each, by batch read + conditional puts; moves the cursor.',
        Next: 'WhatNext',
      },
    ),
    WhatNext: choice(
      [
        { Variable: '$.next', StringEquals: 'PAGE', Next: 'ClosePage' },
        { Variable: '$.next', StringEquals: 'CONTINUE', Next: 'ContinueAsNew' },
      ],
      'Closed',
    ),
    ContinueAsNew: task(
      'arn:aws:states:::states:startExecution.sync:2',
      {
        StateMachineArn: '${BillingCloseStateMachineArn}',
        Name: "States.Format('close-{}-{}', $.period, States.Hash($$.Execution.Name, 'SHA-1'))",
        Input: { close: '$', AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: '$$.Execution.Id' },
      },
      [],
      {
        Comment:
          "A fresh execution (fresh history) carries on from the cursor; its name derives from this one's, so a repeat cannot start a second chain. This execution ends with the last one's output.",
        OutputPath: '$.Output',
        Catch: [on('StepFunctions.ExecutionAlreadyExistsException', 'ContinuedBefore')],
        End: true,
      },
    ),
    ContinuedBefore: pass({
      Comment: 'This execution ran again after it had started its continuation (which then carried on): nothing more to do here.',
      Parameters: { period: '$.period', status: 'CONTINUED', progress: '$.progress' },
    }),
    Closed: pass({
      Parameters: { period: '$.period', periodStart: '$.periodStart', periodEnd: '$.periodEnd', status: 'CLOSED', progress: '$.progress' },
    }),
    DescribeRejection: pass({
      Comment: "The function's error payload is {errorType, errorMessage, trace}: keep the name and the message only.",
      Parameters: { error: '$.error.Error', details: 'States.StringToJson($.error.Cause)' },
      Next: 'Rejected',
    }),
    Rejected: { Type: 'Fail', ErrorPath: '$.error', CausePath: '$.details.errorMessage' },
  },
);
