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
