/**
 * The Step Functions API's operations over the registry (./machines.ts) and the executions (./executions.ts): each
 * reads its request members (./api.ts) and renders its answer as the API reference shapes it (timestamps in epoch
 * seconds, `inputDetails` / `outputDetails`, redrive fields, paginated lists with opaque `nextToken`s).
 * API reference: https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html
 */
import { decodeToken, encodeToken, optString, pageSize, reqString, type Operation } from './api.ts';
import { apiErrors } from './errors.ts';
import type { ExecutionEngine } from './executions.ts';
import { renderEvent } from './history.ts';
import type { Machine, MachineRegistry } from './machines.ts';
import type { ExecutionRecord } from './types.ts';

const STATUS_FILTERS = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/** The operation table the listener (./api.ts) dispatches `X-Amz-Target: AWSStepFunctions.<Operation>` to. */
export function createOperations(registry: MachineRegistry, executions: ExecutionEngine): Record<string, Operation> {
  const renderExecution = (rec: ExecutionRecord, includeData: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      executionArn: rec.executionArn,
      stateMachineArn: rec.stateMachineArn,
      name: rec.name,
      status: rec.status,
      startDate: seconds(rec.startDate),
      inputDetails: { included: includeData },
      redriveCount: rec.redriveCount,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason:
        rec.status === 'RUNNING' ? 'Execution is RUNNING and cannot be redriven' : 'Redrive is not supported offline',
    };
    if (includeData) out.input = rec.input;
    if (rec.stopDate !== undefined) out.stopDate = seconds(rec.stopDate);
    if (rec.output !== undefined) {
      out.outputDetails = { included: includeData };
      if (includeData) out.output = rec.output;
    }
    if (rec.error !== undefined) out.error = rec.error;
    if (rec.cause !== undefined) out.cause = rec.cause;
    if (rec.redriveDate !== undefined) out.redriveDate = seconds(rec.redriveDate);
    return out;
  };

  const machineSummary = (m: Machine) => ({
    stateMachineArn: m.arn,
    name: m.name,
    type: m.spec.type,
    creationDate: seconds(m.creationDate),
  });

  const machineDetails = (m: Machine) => ({
    stateMachineArn: m.arn,
    name: m.name,
    definition: JSON.stringify(m.spec.definition),
    roleArn: m.roleArn,
    loggingConfiguration: { level: 'OFF', includeExecutionData: false },
    tracingConfiguration: { enabled: false },
  });

  const notFromTemplate: Operation = () => {
    throw apiErrors.validation(
      'The offline Step Functions serves the state machines defined in template.yaml; change the template and restart instead',
    );
  };

  const includedData = (body: Record<string, unknown>): boolean => {
    const v = optString(body, 'includedData');
    if (v !== undefined && v !== 'ALL_DATA' && v !== 'METADATA_ONLY') {
      throw apiErrors.validation(`1 validation error detected: Value '${v}' at 'includedData' failed to satisfy enum value set: [ALL_DATA, METADATA_ONLY]`);
    }
    return v !== 'METADATA_ONLY';
  };

  const operations: Record<string, Operation> = {
    StartExecution: async (body) => {
      const name = optString(body, 'name');
      const input = optString(body, 'input');
      const traceHeader = optString(body, 'traceHeader');
      const r = await executions.start({
        stateMachineArn: reqString(body, 'stateMachineArn'),
        ...(name !== undefined ? { name } : {}),
        ...(input !== undefined ? { input } : {}),
      });
      const rec = executions.get(r.executionArn);
      if (rec && traceHeader !== undefined && rec.traceHeader === undefined) rec.traceHeader = traceHeader;
      return { executionArn: r.executionArn, startDate: seconds(r.startDate) };
    },
    DescribeExecution: (body) => renderExecution(executions.require(reqString(body, 'executionArn')), includedData(body)),
    StopExecution: (body) => ({
      stopDate: seconds(executions.stop(reqString(body, 'executionArn'), optString(body, 'error'), optString(body, 'cause'))),
    }),
    ListExecutions: (body) => {
      const arn = optString(body, 'stateMachineArn');
      if (arn === undefined) throw apiErrors.validation('Must provide a StateMachine ARN or MapRun ARN');
      const machine = registry.require(arn);
      const statusFilter = optString(body, 'statusFilter');
      if (statusFilter !== undefined && !STATUS_FILTERS.includes(statusFilter)) {
        throw apiErrors.validation(
          `1 validation error detected: Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${STATUS_FILTERS.join(', ')}]`,
        );
      }
      const limit = pageSize(body);
      const scope = `executions:${machine.arn}:${statusFilter ?? ''}`;
      const offset = decodeToken(optString(body, 'nextToken'), scope);
      const all = executions.all()
        .filter((e) => e.stateMachineArn === machine.arn && (statusFilter === undefined || e.status === statusFilter))
        .sort((a, b) => b.startDate - a.startDate || (a.executionArn < b.executionArn ? -1 : 1));
      const page = all.slice(offset, offset + limit).map((rec) => {
        const item: Record<string, unknown> = {
          executionArn: rec.executionArn,
          stateMachineArn: rec.stateMachineArn,
          name: rec.name,
          status: rec.status,
          startDate: seconds(rec.startDate),
          redriveCount: rec.redriveCount,
        };
        if (rec.stopDate !== undefined) item.stopDate = seconds(rec.stopDate);
        if (rec.redriveDate !== undefined) item.redriveDate = seconds(rec.redriveDate);
        return item;
      });
      const out: Record<string, unknown> = { executions: page };
      if (offset + limit < all.length) out.nextToken = encodeToken(scope, offset + limit);
      return out;
    },
    GetExecutionHistory: (body) => {
      const rec = executions.require(reqString(body, 'executionArn'));
      const reverse = body.reverseOrder === true;
      const includeData = body.includeExecutionData !== false;
      const limit = pageSize(body);
      const scope = `history:${rec.executionArn}:${reverse}`;
      const offset = decodeToken(optString(body, 'nextToken'), scope);
      const events = reverse ? [...rec.events].reverse() : rec.events;
      const out: Record<string, unknown> = {
        events: events.slice(offset, offset + limit).map((e) => renderEvent(e, includeData)),
      };
      if (offset + limit < events.length) out.nextToken = encodeToken(scope, offset + limit);
      return out;
    },
    ListStateMachines: (body) => {
      const limit = pageSize(body);
      const offset = decodeToken(optString(body, 'nextToken'), 'stateMachines');
      const all = registry.all();
      const out: Record<string, unknown> = { stateMachines: all.slice(offset, offset + limit).map(machineSummary) };
      if (offset + limit < all.length) out.nextToken = encodeToken('stateMachines', offset + limit);
      return out;
    },
    DescribeStateMachine: (body) => {
      const m = registry.require(reqString(body, 'stateMachineArn'));
      return { ...machineDetails(m), type: m.spec.type, status: 'ACTIVE', creationDate: seconds(m.creationDate) };
    },
    DescribeStateMachineForExecution: (body) => {
      const rec = executions.require(reqString(body, 'executionArn'));
      const m = registry.get(rec.stateMachineArn);
      if (!m) throw apiErrors.stateMachineDoesNotExist(rec.stateMachineArn);
      return { ...machineDetails(m), updateDate: seconds(m.creationDate) };
    },
    CreateStateMachine: notFromTemplate,
    UpdateStateMachine: notFromTemplate,
    DeleteStateMachine: notFromTemplate,
  };

  return operations;
}
