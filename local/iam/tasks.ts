/**
 * How the offline stack's functions and Step Functions tasks act as their execution roles: each function gets its
 * principal's access key in its environment (as Lambda gives a function its role's temporary credentials,
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), and each state machine's task SDK clients sign with its own key.
 */
import type { FunctionModel } from '../model.ts';
import type { TaskIam } from '../stepfunctions/bridge.ts';
import type { StateMachineSpec } from '../types.ts';
import type { IamAuthorizer } from './authorizer.ts';

/** The functions with their role's credentials in their environment (the template's own variables untouched). */
export function withFunctionCredentials(functions: readonly FunctionModel[], authorizer: IamAuthorizer): FunctionModel[] {
  return functions.map((fn) => {
    const credentials = authorizer.credentialsFor(fn.logicalId);
    if (!credentials) return fn;
    return { ...fn, environment: { ...fn.environment, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey } };
  });
}

/** The bridge's view of the state machines' roles, by state machine name. */
export function taskIam(authorizer: IamAuthorizer, stateMachines: readonly Pick<StateMachineSpec, 'logicalId' | 'name'>[]): TaskIam {
  const logicalIdOf = new Map(stateMachines.map((m) => [m.name, m.logicalId]));
  return {
    credentialsFor: (name) => {
      const logicalId = logicalIdOf.get(name);
      return logicalId ? authorizer.credentialsFor(logicalId) : undefined;
    },
    authorize: (name, permissions) => {
      const principal = authorizer.principal(logicalIdOf.get(name) ?? '');
      if (!principal) return undefined;
      return authorizer.authorize(principal, 'stepfunctions', 'StartExecution (task)', permissions)?.message;
    },
  };
}
