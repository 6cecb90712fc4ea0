/**
 * The execution roles `sam deploy` creates for the template's functions and state machines, built the way the AWS
 * SAM translator builds them (aws-sam-translator 1.110, Apache-2.0: `samtranslator/model/sam_resources.py`
 * `_construct_role`, `model/stepfunctions/generators.py` `_construct_role`,
 * `model/role_utils/role_constructor.py` `construct_role_for_resource`,
 * `policy_template_processor/template.py` `to_statement`):
 *
 * - Functions: managed policies `service-role/AWSLambdaBasicExecutionRole`, then `AWSXrayWriteOnlyAccess` when
 *   `Tracing` is set and not `Disabled`; state machines: `AWSXrayWriteOnlyAccess` appended to `Policies` when
 *   `Tracing.Enabled` is true.
 * - Each `Policies` entry, by position `i`: a string or an intrinsic → a managed policy ARN (a bare AWS managed
 *   policy name becomes its ARN; duplicates dropped); `{Statement: ...}` → inline policy `<LogicalId>RolePolicy<i>`;
 *   `{<TemplateName>: {params}}` → the SAM policy template (local/iam/sam-policy-templates.json, copied from the
 *   translator's `policy_templates_data/policy_templates.json`) with each `{"Ref": <Param>}` replaced by the value
 *   given, as inline policy `<LogicalId>RolePolicy<i>`.
 *
 * Then every value is resolved like the rest of the offline stack (`ResolveContext` of local/model.ts). A managed
 * policy's document is the template's own `AWS::IAM::ManagedPolicy` or, for the AWS managed policies SAM adds, the
 * document AWS publishes ({@link AWS_MANAGED_POLICIES}); any other managed policy, `Role`, `VpcConfig`,
 * `DeadLetterQueue`, `EventInvokeConfig`, `PermissionsBoundary` or `DurableConfig` throws: the offline stack would
 * otherwise authorize against a role that differs from AWS's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeResources, isNoValue, resolveValue, withFunctionGlobals, type JsonObject, type ResolveContext, type Template } from '../template.ts';
import { checkPolicyDocument, type PolicyDocument } from './policy.ts';

export class RoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoleError';
  }
}

/** One entry of a resource's `Policies` (or one SAM adds), as the remove-one-statement test and the docs name it. */
export interface PolicyEntry {
  /** Position in `Policies` (undefined for a managed policy SAM adds on its own). */
  index?: number;
  kind: 'template' | 'statement' | 'managed';
  /** Template name (`DynamoDBCrudPolicy`), inline policy name, or managed policy ARN. */
  label: string;
}

/** A policy attached to the role: inline (`PolicyName`) or managed (its ARN), with its resolved document. */
export interface AttachedPolicy {
  name: string;
  kind: 'inline' | 'managed';
  document: PolicyDocument;
  entry: PolicyEntry;
}

export interface ExecutionRole {
  /** Logical id of the function or state machine. */
  logicalId: string;
  kind: 'function' | 'stateMachine';
  /** `<LogicalId>Role`, as SAM names the AWS::IAM::Role. */
  roleLogicalId: string;
  /** Physical role name (CloudFormation: `<stack>-<RoleLogicalId>-<suffix>`, at most 64 characters). */
  roleName: string;
  /** As the translator writes them (resolved): ManagedPolicyArns and Policies[{PolicyName, PolicyDocument}]. */
  managedPolicyArns: string[];
  inlinePolicies: { PolicyName: string; PolicyDocument: PolicyDocument }[];
  /** Everything the role grants, for evaluation. */
  policies: AttachedPolicy[];
}

interface SamPolicyTemplate {
  Definition: PolicyDocument;
  Parameters: Record<string, unknown>;
}
const TEMPLATES = (JSON.parse(readFileSync(join(__dirname, 'sam-policy-templates.json'), 'utf8')) as { Templates: Record<string, SamPolicyTemplate> }).Templates;

/** The SAM policy template names (for checks and docs). */
export const SAM_POLICY_TEMPLATE_NAMES: readonly string[] = Object.keys(TEMPLATES);

/**
 * AWS managed policies SAM attaches on its own, with the documents AWS publishes (AWS Managed Policy Reference:
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html and
 * .../AWSXrayWriteOnlyAccess.html). Names map to ARNs as in SAM's bundled managed policy map.
 */
export const AWS_MANAGED_POLICIES: Readonly<Record<string, { arn: string; document: PolicyDocument }>> = {
  AWSLambdaBasicExecutionRole: {
    arn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    document: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
    },
  },
  AWSXrayWriteOnlyAccess: {
    arn: 'arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
          Resource: ['*'],
        },
      ],
    },
  },
};
const MANAGED_BY_ARN = new Map(Object.values(AWS_MANAGED_POLICIES).map((p) => [p.arn, p]));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIntrinsic = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 1 && /^(Ref|Fn::|Condition$)/.test(Object.keys(v)[0]!);

/** `to_statement`: the template's Definition with `{"Ref": <Parameter>}` replaced by the given values. */
export function expandPolicyTemplate(name: string, parameters: unknown, where: string): PolicyDocument {
  const template = TEMPLATES[name];
  if (!template) throw new RoleError(`${where}: '${name}' is not a SAM policy template`);
  const given = isObject(parameters) ? parameters : {};
  if (!isObject(parameters)) throw new RoleError(`${where}: Must specify valid parameter values for policy template '${name}'`);
  const missing = Object.keys(template.Parameters).filter((p) => !(p in given));
  if (missing.length) throw new RoleError(`${where}: Following required parameters of template '${name}' don't have values: [${missing.map((m) => `'${m}'`).join(', ')}]`);
  const replace = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(replace);
    if (!isObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'Ref' && typeof v.Ref === 'string' && v.Ref in template.Parameters) return structuredClone(given[v.Ref]);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replace(x)]));
  };
  return replace(structuredClone(template.Definition)) as PolicyDocument;
}

/** CloudFormation's physical name for a stack's role: `<stack>-<logicalId>-<13 chars>`, cut to 64 characters. */
export function physicalRoleName(stackName: string, roleLogicalId: string): string {
  const suffix = createHash('sha256').update(`${stackName}/${roleLogicalId}`).digest('hex').slice(0, 13).toUpperCase();
  const head = `${stackName}-${roleLogicalId}`.slice(0, 64 - suffix.length - 1);
  return `${head}-${suffix}`;
}

const UNSUPPORTED_FUNCTION_PROPERTIES = ['Role', 'VpcConfig', 'DeadLetterQueue', 'EventInvokeConfig', 'PermissionsBoundary', 'DurableConfig', 'AssumeRolePolicyDocument'];
const UNSUPPORTED_STATE_MACHINE_PROPERTIES = ['Role', 'PermissionsBoundary', 'RolePath'];

/**
 * Every function's and state machine's execution role, by logical id. `ctx` resolves intrinsics (the stack model's
 * `context`). Throws RoleError for what the offline stack cannot reproduce (see the module comment) and PolicyError
 * for a statement the evaluator cannot judge.
 */
export function buildExecutionRoles(template: Template, ctx: ResolveContext, stackName: string): Map<string, ExecutionRole> {
  const resources = activeResources(template, ctx.conditions);
  const managedDocuments = new Map<string, PolicyDocument>();
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const arn = String(resolveValue({ Ref: logicalId }, ctx));
    const document = resolveValue(r.Properties?.PolicyDocument, ctx) as PolicyDocument;
    checkPolicyDocument(document, `managed policy ${logicalId}`);
    managedDocuments.set(arn, document);
  }

  const roles = new Map<string, ExecutionRole>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    let kind: ExecutionRole['kind'];
    let props: JsonObject;
    const managed: (string | unknown)[] = [];
    let policies: unknown[];
    if (resource.Type === 'AWS::Serverless::Function') {
      kind = 'function';
      props = withFunctionGlobals(template, resource.Properties ?? {});
      for (const p of UNSUPPORTED_FUNCTION_PROPERTIES) {
        if (props[p] !== undefined) throw new RoleError(`function ${logicalId}: ${p} changes the execution role; the offline IAM does not model it`);
      }
      managed.push(AWS_MANAGED_POLICIES.AWSLambdaBasicExecutionRole!.arn);
      const tracing = resolveValue(props.Tracing, ctx);
      if (props.Tracing !== undefined && tracing !== 'Disabled') managed.push(AWS_MANAGED_POLICIES.AWSXrayWriteOnlyAccess!.arn);
      policies = policyList(props.Policies);
    } else if (resource.Type === 'AWS::Serverless::StateMachine') {
      kind = 'stateMachine';
      props = resource.Properties ?? {};
      for (const p of UNSUPPORTED_STATE_MACHINE_PROPERTIES) {
        if (props[p] !== undefined) throw new RoleError(`state machine ${logicalId}: ${p} changes the execution role; the offline IAM does not model it`);
      }
      policies = policyList(props.Policies);
      const tracing = props.Tracing as JsonObject | undefined;
      if (isObject(tracing) && tracing.Enabled === true) policies.push('AWSXrayWriteOnlyAccess');
    } else {
      continue;
    }
    const roleLogicalId = `${logicalId}Role`;
    const role: ExecutionRole = {
      logicalId,
      kind,
      roleLogicalId,
      roleName: physicalRoleName(stackName, roleLogicalId),
      managedPolicyArns: [],
      inlinePolicies: [],
      policies: [],
    };
    const attachManaged = (arn: string, entry: PolicyEntry) => {
      if (role.managedPolicyArns.includes(arn)) return;
      role.managedPolicyArns.push(arn);
      const document = MANAGED_BY_ARN.get(arn)?.document ?? managedDocuments.get(arn);
      if (!document) {
        throw new RoleError(
          `${logicalId}: the managed policy ${arn} is neither declared in the template (AWS::IAM::ManagedPolicy) nor one the offline IAM knows (${Object.keys(AWS_MANAGED_POLICIES).join(', ')})`,
        );
      }
      role.policies.push({ name: arn, kind: 'managed', document, entry });
    };
    for (const arn of managed) attachManaged(arn as string, { kind: 'managed', label: arn as string });

    for (const [index, listed] of policies.entries()) {
      const where = `${logicalId} Policies[${index}]`;
      const policyName = `${roleLogicalId}Policy${index}`;
      // SAM wraps the policy made from each branch in the same Fn::If (policy name by list index); the deploy's
      // condition picks one, AWS::NoValue none.
      let raw = listed;
      if (isObject(raw) && Object.keys(raw).length === 1 && 'Fn::If' in raw) {
        const [condition, yes, no] = raw['Fn::If'] as [string, unknown, unknown];
        if (!(condition in ctx.conditions)) throw new RoleError(`${where}: Fn::If names an unknown condition ${condition}`);
        raw = ctx.conditions[condition] ? yes : no;
        if ((isObject(raw) && raw.Ref === 'AWS::NoValue') || isNoValue(raw)) continue;
      }
      if (typeof raw === 'string' || isIntrinsic(raw)) {
        const value = resolveValue(raw, ctx);
        if (typeof value !== 'string') throw new RoleError(`${where}: a managed policy must resolve to an ARN, got ${JSON.stringify(value)}`);
        const arn = AWS_MANAGED_POLICIES[value]?.arn ?? value;
        attachManaged(arn, { index, kind: 'managed', label: arn });
        continue;
      }
      if (!isObject(raw)) throw new RoleError(`${where}: Policy at index ${index} in the 'Policies' property is not valid`);
      let document: PolicyDocument;
      let entry: PolicyEntry;
      if ('Statement' in raw) {
        document = resolveValue(raw, ctx) as PolicyDocument;
        entry = { index, kind: 'statement', label: policyName };
      } else if (Object.keys(raw).length === 1 && Object.keys(raw)[0]! in TEMPLATES) {
        const name = Object.keys(raw)[0]!;
        document = resolveValue(expandPolicyTemplate(name, raw[name], where), ctx) as PolicyDocument;
        entry = { index, kind: 'template', label: name };
      } else {
        throw new RoleError(`${where}: Policy at index ${index} in the 'Policies' property is not valid`);
      }
      checkPolicyDocument(document, where);
      role.inlinePolicies.push({ PolicyName: policyName, PolicyDocument: document });
      role.policies.push({ name: policyName, kind: 'inline', document, entry });
    }
    roles.set(logicalId, role);
  }
  return roles;
}

/** SAM accepts one policy or a list of them. */
function policyList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value];
}
