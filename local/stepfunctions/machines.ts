/**
 * The state-machine registry: the template's state machines, validated by `aws-local-stepfunctions`, each with its
 * Task states, their history descriptors and the runtime definition the engine runs (see ./definition.ts), and the
 * ARN checks every operation applies (InvalidArn, StateMachineDoesNotExist). State machines come from template.yaml
 * only; CreateStateMachine and friends are refused (./responses.ts).
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { StateMachineSpec } from '../types.ts';
import { describeTask, type TaskBridge } from './bridge.ts';
import { collectTaskStates, prepareDefinition, type JsonObject, type TaskStateInfo } from './definition.ts';
import { apiErrors } from './errors.ts';
import type { TaskDescriptor } from './history.ts';

export const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:([^:]*):([^:]*):stateMachine:([^:]+)$/;
export const EXECUTION_ARN = /^arn:aws[a-z-]*:states:([^:]*):([^:]*):(execution|express):([^:]+):([^:]+)$/;

/** InvalidArn unless the text starts with `arn:` (the message AWS gives). */
export function checkArnPrefix(arn: string): void {
  if (!arn.startsWith('arn:')) throw apiErrors.invalidArn(`Invalid ARN prefix: ${arn}`);
}

export interface Machine {
  spec: StateMachineSpec;
  name: string;
  arn: string;
  region: string;
  accountId: string;
  roleArn: string;
  /** Epoch milliseconds (when the service was created). */
  creationDate: number;
  runner: StateMachine;
  runtimeDefinition: JsonObject;
  tasks: Map<string, TaskStateInfo>;
  descriptors: Map<string, TaskDescriptor>;
}

export interface MachineRegistryOptions {
  region: string;
  accountId: string;
  /** Multiplies every Retry pause (see prepareDefinition). */
  retryIntervalScale: number;
  log: (line: string) => void;
}

const VALIDATION_OPTIONS = { checkPaths: true, checkArn: true };
/** Where definitions the validator accepted are remembered between runs (git-ignored; a fresh clone has none). */
const ACCEPTED_DIR = resolve(__dirname, '..', '..', 'node_modules', '.cache', 'tollgate-asl-accepted');
const accepted = new Set<string>();
let dependencyStamp: string | undefined;

/**
 * Validates a definition as `aws-local-stepfunctions` does (asl-validator, paths and ARNs checked); throws its message
 * when invalid. A definition accepted once is not checked again while it and the dependencies (package-lock.json) are
 * unchanged: remembered in memory and as an empty file named by that hash under ACCEPTED_DIR. Own code because
 * asl-validator compiles its JSON schemas anew on every call, which made checking the template's state machines the
 * larger part of every stack start. Validates a copy: the validator fills in QueryLanguage on the object it is given.
 */
function validateDefinition(definition: JsonObject): void {
  dependencyStamp ??= (() => {
    try {
      return createHash('sha256').update(readFileSync(resolve(__dirname, '..', '..', 'package-lock.json'))).digest('hex');
    } catch {
      return 'no-lock';
    }
  })();
  const key = createHash('sha256').update(JSON.stringify({ definition, options: VALIDATION_OPTIONS, dependencyStamp })).digest('hex');
  if (accepted.has(key) || existsSync(join(ACCEPTED_DIR, key))) {
    accepted.add(key);
    return;
  }
  new StateMachine(structuredClone(definition) as unknown as StateMachineDefinition, { validationOptions: VALIDATION_OPTIONS });
  accepted.add(key);
  try {
    mkdirSync(ACCEPTED_DIR, { recursive: true });
    writeFileSync(join(ACCEPTED_DIR, key), '');
  } catch {
    // not remembered on disk: the next process validates it again
  }
}

/** The template's state machines by ARN. The constructor throws (naming the machine) on an invalid definition. */
export class MachineRegistry {
  private readonly machines = new Map<string, Machine>();

  constructor(specs: StateMachineSpec[], bridge: TaskBridge, opts: MachineRegistryOptions) {
    const createdAt = Date.now();
    for (const spec of specs) {
      const definition = spec.definition as JsonObject;
      try {
        validateDefinition(definition);
      } catch (err) {
        throw new Error(`state machine ${spec.logicalId} (${spec.name}): ${(err as Error).message}`);
      }
      let tasks: Map<string, TaskStateInfo>;
      try {
        tasks = collectTaskStates(definition);
      } catch (err) {
        throw new Error(`state machine ${spec.logicalId} (${spec.name}): ${(err as Error).message}`);
      }
      const descriptors = new Map<string, TaskDescriptor>();
      for (const [name, info] of tasks) {
        descriptors.set(name, describeTask(info.resource));
        try {
          bridge.preflight(info.resource);
        } catch (err) {
          opts.log(`stepfunctions: WARNING ${spec.name}.${name}: ${(err as Error).message}; executions reaching it will fail`);
        }
      }
      const m = STATE_MACHINE_ARN.exec(spec.arn);
      const runtimeDefinition = prepareDefinition(definition, { retryIntervalScale: opts.retryIntervalScale });
      this.machines.set(spec.arn, {
        spec,
        name: spec.name,
        arn: spec.arn,
        region: m?.[1] || opts.region,
        accountId: m?.[2] || opts.accountId,
        roleArn: `arn:aws:iam::${m?.[2] || opts.accountId}:role/service-role/${spec.name}-offline`,
        creationDate: createdAt,
        runner: new StateMachine(runtimeDefinition as unknown as StateMachineDefinition, {
          validationOptions: { noValidate: true },
        }),
        runtimeDefinition,
        tasks,
        descriptors,
      });
    }
  }

  /** The machine with this ARN, if the template defines it. */
  get(arn: string): Machine | undefined {
    return this.machines.get(arn);
  }

  /** The machine with this ARN; throws InvalidArn or StateMachineDoesNotExist as the API does. */
  require(arn: string): Machine {
    checkArnPrefix(arn);
    if (!STATE_MACHINE_ARN.test(arn)) throw apiErrors.invalidArn(`Resource type not valid in this context: ${arn}`);
    const machine = this.machines.get(arn);
    if (!machine) throw apiErrors.stateMachineDoesNotExist(arn);
    return machine;
  }

  /** Every machine, by name (ListStateMachines' order). */
  all(): Machine[] {
    return [...this.machines.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
