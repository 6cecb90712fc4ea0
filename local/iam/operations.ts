/**
 * Which IAM action(s) and resource ARN(s) a request to one of the offline services needs, from what the service
 * itself reads (method, path, `X-Amz-Target`, JSON body). Each entry of the answer must be allowed.
 *
 * Sources (Service Authorization Reference, "Actions, resources, and condition keys for ..."):
 * - DynamoDB: `dynamodb:<Operation>` on `arn:aws:dynamodb:<region>:<account>:table/<TableName>` (an index:
 *   `.../table/<TableName>/index/<IndexName>`); BatchGetItem / BatchWriteItem on each table named; TransactGetItems /
 *   TransactWriteItems need the item-level action (GetItem, PutItem, UpdateItem, DeleteItem, ConditionCheckItem) on
 *   each item's table (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
 * - Cognito user pools: `cognito-idp:<Operation>` on `arn:aws:cognito-idp:<region>:<account>:userpool/<UserPoolId>`;
 *   the operations Cognito authorizes with a token or not at all ({@link COGNITO_UNAUTHENTICATED}) need no IAM
 *   permission (Cognito developer guide, "Understanding API, OIDC, and managed login pages authentication",
 *   https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-public-server-side.html).
 * - Step Functions: `states:<Operation>` on the state machine ARN (StartExecution, ListExecutions, ...) or the
 *   execution ARN (DescribeExecution, StopExecution, GetExecutionHistory, ...).
 * - Lambda: Invoke → `lambda:InvokeFunction` on `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
 * - API Gateway management API: `apigateway:<HTTP method>` on `arn:aws:apigateway:<region>::<path>`
 *   (API Gateway developer guide, "Control access for managing an API",
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-create-and-manage-api.html).
 */

export type IamService = 'dynamodb' | 'cognito' | 'stepfunctions' | 'lambda' | 'apigateway';

export interface RequiredPermission {
  action: string;
  resource: string;
}

/** What a request needs: the operation (for logs) and the permissions, or none for an operation IAM does not guard. */
export interface RequestAuthz {
  operation: string;
  permissions: RequiredPermission[];
}

export interface ArnScope {
  region: string;
  accountId: string;
}

/** Cognito user pool operations that are public or authorized by the user's access token, never by IAM. */
export const COGNITO_UNAUTHENTICATED: ReadonlySet<string> = new Set([
  'AssociateSoftwareToken',
  'ChangePassword',
  'CompleteWebAuthnRegistration',
  'ConfirmDevice',
  'ConfirmForgotPassword',
  'ConfirmSignUp',
  'DeleteUser',
  'DeleteUserAttributes',
  'DeleteWebAuthnCredential',
  'ForgetDevice',
  'ForgotPassword',
  'GetDevice',
  'GetTokensFromRefreshToken',
  'GetUser',
  'GetUserAttributeVerificationCode',
  'GetUserAuthFactors',
  'GlobalSignOut',
  'InitiateAuth',
  'ListDevices',
  'ListWebAuthnCredentials',
  'ResendConfirmationCode',
  'RespondToAuthChallenge',
  'RevokeToken',
  'SetUserMFAPreference',
  'SetUserSettings',
  'SignUp',
  'StartWebAuthnRegistration',
  'UpdateAuthEventFeedback',
  'UpdateDeviceStatus',
  'UpdateUserAttributes',
  'VerifySoftwareToken',
  'VerifyUserAttribute',
]);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The operation of a JSON-protocol request from `X-Amz-Target` (`DynamoDB_20120810.PutItem` → `PutItem`). */
export function targetOperation(target: string | string[] | undefined): string {
  const t = Array.isArray(target) ? target[0] : target;
  return t ? t.slice(t.lastIndexOf('.') + 1) : '';
}

export function dynamodbPermissions(operation: string, body: unknown, scope: ArnScope): RequestAuthz {
  const b = obj(body);
  const table = (name: string, index?: string) =>
    `arn:aws:dynamodb:${scope.region}:${scope.accountId}:table/${name}${index ? `/index/${index}` : ''}`;
  const action = `dynamodb:${operation}`;
  const permissions: RequiredPermission[] = [];
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      for (const name of Object.keys(obj(b.RequestItems))) permissions.push({ action, resource: table(name) });
      break;
    case 'TransactGetItems':
    case 'TransactWriteItems':
      for (const item of Array.isArray(b.TransactItems) ? b.TransactItems : []) {
        for (const [kind, spec] of Object.entries(obj(item))) {
          const itemAction = kind === 'Get' ? 'GetItem' : kind === 'Put' ? 'PutItem' : kind === 'Update' ? 'UpdateItem' : kind === 'Delete' ? 'DeleteItem' : 'ConditionCheckItem';
          const name = str(obj(spec).TableName);
          if (name) permissions.push({ action: `dynamodb:${itemAction}`, resource: table(name) });
        }
      }
      break;
    default: {
      const name = str(b.TableName);
      permissions.push({ action, resource: name ? table(name, str(b.IndexName)) : '*' });
    }
  }
  return { operation, permissions };
}

export function cognitoPermissions(operation: string, body: unknown, scope: ArnScope): RequestAuthz {
  if (COGNITO_UNAUTHENTICATED.has(operation)) return { operation, permissions: [] };
  const pool = str(obj(body).UserPoolId);
  return {
    operation,
    permissions: [{ action: `cognito-idp:${operation}`, resource: pool ? `arn:aws:cognito-idp:${scope.region}:${scope.accountId}:userpool/${pool}` : '*' }],
  };
}

export function stepFunctionsPermissions(operation: string, body: unknown): RequestAuthz {
  const b = obj(body);
  const resource = str(b.executionArn) ?? str(b.stateMachineArn) ?? str(b.mapRunArn) ?? '*';
  return { operation, permissions: [{ action: `states:${operation}`, resource }] };
}

/** The function ARN Invoke acts on, from a name, a partial ARN (`<account>:function:<name>`) or a full ARN. */
export function lambdaFunctionArn(nameOrArn: string, qualifier: string | undefined, scope: ArnScope): string {
  let arn: string;
  if (nameOrArn.startsWith('arn:')) arn = nameOrArn;
  else if (/^\d{12}:function:/.test(nameOrArn)) arn = `arn:aws:lambda:${scope.region}:${nameOrArn}`;
  else arn = `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${nameOrArn}`;
  const hasQualifier = arn.split(':').length > 7;
  return qualifier && !hasQualifier ? `${arn}:${qualifier}` : arn;
}

export function lambdaPermissions(method: string, url: URL, scope: ArnScope): RequestAuthz {
  const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
  if (invoke && method === 'POST') {
    let name = invoke[1]!;
    try {
      name = decodeURIComponent(name);
    } catch {
      // left as sent; the service answers for a malformed name
    }
    const qualifier = url.searchParams.get('Qualifier') ?? undefined;
    return { operation: 'Invoke', permissions: [{ action: 'lambda:InvokeFunction', resource: lambdaFunctionArn(name, qualifier, scope) }] };
  }
  // The offline Lambda service implements Invoke only; it answers anything else itself.
  return { operation: `${method} ${url.pathname}`, permissions: [] };
}

export function apiGatewayPermissions(method: string, url: URL, scope: ArnScope): RequestAuthz {
  return {
    operation: `${method} ${url.pathname}`,
    permissions: [{ action: `apigateway:${method}`, resource: `arn:aws:apigateway:${scope.region}::${url.pathname.replace(/\/+$/, '') || '/'}` }],
  };
}
