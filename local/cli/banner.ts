/**
 * The text `npm start` prints once the stack is up: endpoints, ids, the template's outputs a client needs, and the
 * environment for the AWS CLI / SDK. Every label/value table is laid out by `alignRows`, so a long output name
 * (e.g. BillingCloseStateMachineArn) widens the column for all rows instead of running into its value.
 */

/** A label and its value. */
export type Row = readonly [label: string, value: string];

/** Gap between the longest label and the values. */
const GAP = 2;

/**
 * Rows as `  <label padded><value>`: all values start in one column, at least `GAP` spaces after the longest label
 * and not before `minWidth` (so short tables keep a familiar layout).
 */
export function alignRows(rows: readonly Row[], minWidth = 0): string[] {
  const width = Math.max(minWidth, ...rows.map(([label]) => label.length + GAP));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}${value}`);
}

export interface BannerInput {
  dir: string;
  portalUrl?: string;
  apiUrl: string;
  endpoints: { lambda: string; apigateway: string; stepfunctions: string; cognito: string; dynamodb: string };
  userPoolId: string;
  userPoolClientId: string;
  /** The stack's outputs; those a client needs (state machine ARNs, table names, usage plan ids) are listed. */
  outputs: Record<string, string>;
  notSimulated: string[];
  clientEnvironment: Record<string, string>;
  samEnvVarsFile: string;
  readySeconds: number;
}

const LISTED_OUTPUTS = ['StateMachineArn', 'TableName', 'UsagePlanId'];

export function renderBanner(b: BannerInput): string {
  const outputs = Object.entries(b.outputs).filter(([k]) => LISTED_OUTPUTS.some((suffix) => k.endsWith(suffix)));
  const endpoints: Row[] = [
    ['API (gateway)', b.apiUrl],
    ['Lambda', b.endpoints.lambda],
    ['API Gateway (control)', b.endpoints.apigateway],
    ['Step Functions', b.endpoints.stepfunctions],
    ['Cognito', b.endpoints.cognito],
    ['DynamoDB', b.endpoints.dynamodb],
  ];
  const ids: Row[] = [['User pool id', b.userPoolId], ['App client id', b.userPoolClientId], ...outputs];
  const portal: Row[] = b.portalUrl ? [['Developer portal', `${b.portalUrl}   (sign up there; codes arrive in its Outbox)`]] : [];
  // One column for every table, at least where it has always been (27).
  const width = Math.max(27, ...[...endpoints, ...ids, ...portal].map(([label]) => label.length + GAP));
  const lines = [
    '',
    `Tollgate offline — state in ${b.dir}`,
    ...(portal.length ? ['', ...alignRows(portal, width)] : []),
    '',
    ...alignRows(endpoints, width),
    '',
    ...alignRows(ids, width),
    ...(b.notSimulated.length ? ['', `  Not simulated offline: ${b.notSimulated.join(', ')}`] : []),
    '',
    'For the AWS CLI / SDK in another shell:',
    ...Object.entries(b.clientEnvironment).map(([k, v]) => `  export ${k}=${v}`),
    `  export TOLLGATE_API_URL=${b.apiUrl} TOLLGATE_USER_POOL_ID=${b.userPoolId} TOLLGATE_CLIENT_ID=${b.userPoolClientId}`,
    '',
    'For `sam local invoke` (Docker) against these services (README "sam local invoke"):',
    `  sam build && sam local invoke PublicFunction -e events/plans.json --region us-east-1 --env-vars ${b.samEnvVarsFile}`,
    '',
    `Ready in ${b.readySeconds.toFixed(1)} s — Ctrl-C to stop.`,
  ];
  return lines.join('\n');
}
