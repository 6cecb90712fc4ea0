import type { FunctionModel } from './model.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type Endpoints } from './types.ts';

export type ServiceName = 'gateway' | 'lambda' | 'apigateway' | 'stepfunctions' | 'cognito' | 'dynamodb';

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 3000,
  lambda: 3001,
  apigateway: 3002,
  stepfunctions: 8083,
  cognito: 9229,
  dynamodb: 8000,
};

/** AWS_ENDPOINT_URL_<SERVICE> as the SDKs and the CLI read them (service id, upper case, spaces → _). */
export function endpointEnvironment(endpoints: Endpoints): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_API_GATEWAY: endpoints.apigateway,
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: endpoints.cognito,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
    AWS_ENDPOINT_URL_SFN: endpoints.stepfunctions,
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}

/**
 * A function's environment where it runs against local endpoints: the runtime's variables (`base`: endpoints, region,
 * credentials), then the template's, except that a variable the template declares empty and `base` sets takes the
 * local value. template.yaml declares AWS_ENDPOINT_URL_<SERVICE> empty (the SDK ignores an empty one and uses the
 * service's endpoint in AWS) because `sam local invoke --env-vars` overrides only variables the template declares
 * (SAM CLI `EnvironmentVariables.resolve`; SAM developer guide, "Locally invoke Lambda functions", environment
 * variable file); the offline stack applies the same override.
 */
export function functionEnvironment(base: Record<string, string>, declared: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...base, ...declared };
  for (const [name, value] of Object.entries(declared)) if (value === '' && base[name] !== undefined) env[name] = base[name];
  return env;
}

/**
 * SAM CLI's `--env-vars` file for the offline stack: `{ "<FunctionLogicalId>": { "<VAR>": "<value>" } }` (SAM developer
 * guide, "Locally invoke Lambda functions", environment variable file), with every function's resolved environment and
 * the local endpoints as a container reaches them (`http://<containerHost>:<port>`, default host.docker.internal).
 * SAM CLI applies only the variables the template declares; region and credentials come from its own options.
 */
export function samEnvVars(functions: readonly FunctionModel[], endpoints: Endpoints, containerHost = 'host.docker.internal'): Record<string, Record<string, string>> {
  const reachable = Object.fromEntries(
    Object.entries(endpoints).map(([service, url]) => {
      const parsed = new URL(url);
      parsed.hostname = containerHost;
      return [service, parsed.origin];
    }),
  ) as unknown as Endpoints;
  const local = endpointEnvironment(reachable);
  return Object.fromEntries(functions.map((fn) => [fn.logicalId, functionEnvironment(local, fn.environment)]));
}
