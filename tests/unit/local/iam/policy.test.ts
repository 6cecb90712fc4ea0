/**
 * The offline IAM evaluator (local/iam/policy.ts) against a table of cases from the IAM User Guide's policy
 * evaluation logic, element and condition operator reference: explicit deny wins, wildcards, NotAction / NotResource,
 * ARN matching per component, condition operators with IfExists / ForAllValues / ForAnyValue / Null, and refusal of
 * operators it does not know.
 */
import { actionMatches, arnMatches, checkPolicyDocument, evaluate, PolicyError, type PolicyDocument, type Statement } from '../../../../local/iam/policy.ts';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/tollgate-AccountsTable';
const doc = (...Statement: Statement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
const decide = (d: PolicyDocument, action: string, resource: string, context?: Record<string, string | string[]>) =>
  evaluate([{ name: 'p', document: d }], { action, resource, ...(context ? { context } : {}) }).decision;

describe('IAM policy evaluation', () => {
  it.each([
    ['an exact action and resource', doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }), 'dynamodb:GetItem', TABLE, 'Allow'],
    ['another action', doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }), 'dynamodb:PutItem', TABLE, 'ImplicitDeny'],
    ['another table', doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }), 'dynamodb:GetItem', `${TABLE}2`, 'ImplicitDeny'],
    ['action names case-insensitively', doc({ Effect: 'Allow', Action: 'DynamoDB:getitem', Resource: TABLE }), 'dynamodb:GetItem', TABLE, 'Allow'],
    ['resources case-sensitively', doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE.toLowerCase() }), 'dynamodb:GetItem', TABLE, 'ImplicitDeny'],
    ['an action wildcard', doc({ Effect: 'Allow', Action: 'dynamodb:Get*', Resource: '*' }), 'dynamodb:GetItem', TABLE, 'Allow'],
    ['a ? wildcard', doc({ Effect: 'Allow', Action: 'apigateway:?ET', Resource: '*' }), 'apigateway:GET', 'arn:aws:apigateway:us-east-1::/apikeys', 'Allow'],
    ['a resource wildcard within the resource part', doc({ Effect: 'Allow', Action: 'apigateway:DELETE', Resource: 'arn:aws:apigateway:us-east-1::/apikeys/*' }), 'apigateway:DELETE', 'arn:aws:apigateway:us-east-1::/apikeys/abc', 'Allow'],
    ['/apikeys/* not covering /apikeys', doc({ Effect: 'Allow', Action: 'apigateway:GET', Resource: 'arn:aws:apigateway:us-east-1::/apikeys/*' }), 'apigateway:GET', 'arn:aws:apigateway:us-east-1::/apikeys', 'ImplicitDeny'],
    ['a wildcard not crossing ARN components', doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: 'arn:aws:*:000000000000:table/x' }), 'dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/x', 'ImplicitDeny'],
    ['a function name prefix (LambdaInvokePolicy)', doc({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:f*' }), 'lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:000000000000:function:f:live', 'Allow'],
    ['an explicit deny over an allow', doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: TABLE }), 'dynamodb:DeleteItem', TABLE, 'ExplicitDeny'],
    ['NotAction', doc({ Effect: 'Allow', NotAction: 'dynamodb:DeleteItem', Resource: '*' }), 'dynamodb:PutItem', TABLE, 'Allow'],
    ['NotAction excluding the action', doc({ Effect: 'Allow', NotAction: 'dynamodb:Delete*', Resource: '*' }), 'dynamodb:DeleteItem', TABLE, 'ImplicitDeny'],
    ['NotResource', doc({ Effect: 'Allow', Action: 'dynamodb:*', NotResource: TABLE }), 'dynamodb:GetItem', `${TABLE}/index/byEmail`, 'Allow'],
    ['NotResource excluding the resource', doc({ Effect: 'Allow', Action: 'dynamodb:*', NotResource: `${TABLE}*` }), 'dynamodb:GetItem', TABLE, 'ImplicitDeny'],
    ['a Deny with NotResource', doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: '*', NotResource: TABLE }), 'dynamodb:GetItem', `${TABLE}2`, 'ExplicitDeny'],
    ['no statement', doc(), 'dynamodb:GetItem', TABLE, 'ImplicitDeny'],
  ])('%s', (_name, document, action, resource, expected) => {
    expect(decide(document, action, resource)).toBe(expected);
  });

  const conditional = (Condition: Statement['Condition']) => doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*', Condition });
  it.each([
    ['StringEquals', { StringEquals: { 'aws:PrincipalTag/team': 'billing' } }, { 'aws:PrincipalTag/team': 'billing' }, 'Allow'],
    ['StringEquals, other value', { StringEquals: { 'aws:PrincipalTag/team': 'billing' } }, { 'aws:PrincipalTag/team': 'ops' }, 'ImplicitDeny'],
    ['StringEquals, key absent', { StringEquals: { 'aws:PrincipalTag/team': 'billing' } }, {}, 'ImplicitDeny'],
    ['StringEqualsIfExists, key absent', { StringEqualsIfExists: { 'aws:PrincipalTag/team': 'billing' } }, {}, 'Allow'],
    ['condition key names case-insensitively', { StringEquals: { 'AWS:principaltag/team': 'billing' } }, { 'aws:PrincipalTag/team': 'billing' }, 'Allow'],
    ['StringNotEquals', { StringNotEquals: { 'aws:RequestedRegion': 'eu-west-1' } }, { 'aws:RequestedRegion': 'us-east-1' }, 'Allow'],
    ['StringLike', { StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/tollgate-*' } }, { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:role/tollgate-X' }, 'Allow'],
    ['StringNotLike', { StringNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/tollgate-*' } }, { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:role/tollgate-X' }, 'ImplicitDeny'],
    ['StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { 'aws:RequestedRegion': 'US-EAST-1' } }, { 'aws:RequestedRegion': 'us-east-1' }, 'Allow'],
    ['one of several values', { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } }, { 'aws:RequestedRegion': 'us-east-1' }, 'Allow'],
    ['two keys must both hold', { StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalTag/team': 'x' } }, { 'aws:RequestedRegion': 'us-east-1' }, 'ImplicitDeny'],
    ['Bool', { Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': 'false' }, 'Allow'],
    ['NumericLessThan', { NumericLessThan: { 'dynamodb:Limit': '10' } }, { 'dynamodb:Limit': '5' }, 'Allow'],
    ['NumericLessThan, too big', { NumericLessThan: { 'dynamodb:Limit': '10' } }, { 'dynamodb:Limit': '50' }, 'ImplicitDeny'],
    ['DateGreaterThan', { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, 'Allow'],
    ['ArnLike', { ArnLike: { 'aws:SourceArn': 'arn:aws:cognito-idp:*:*:userpool/*' } }, { 'aws:SourceArn': 'arn:aws:cognito-idp:us-east-1:1:userpool/p' }, 'Allow'],
    ['ArnNotEquals', { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:cognito-idp:us-east-1:1:userpool/p' } }, { 'aws:SourceArn': 'arn:aws:cognito-idp:us-east-1:1:userpool/p' }, 'ImplicitDeny'],
    ['Null true, key absent', { Null: { 'aws:PrincipalTag/team': 'true' } }, {}, 'Allow'],
    ['Null false, key absent', { Null: { 'aws:PrincipalTag/team': 'false' } }, {}, 'ImplicitDeny'],
    ['ForAllValues, all in set', { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a', 'b'] } }, { 'dynamodb:Attributes': ['a'] }, 'Allow'],
    ['ForAllValues, one outside', { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a', 'b'] } }, { 'dynamodb:Attributes': ['a', 'c'] }, 'ImplicitDeny'],
    ['ForAllValues, key absent', { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['a'] } }, {}, 'Allow'],
    ['ForAnyValue, one in set', { 'ForAnyValue:StringEquals': { 'dynamodb:Attributes': ['a'] } }, { 'dynamodb:Attributes': ['c', 'a'] }, 'Allow'],
    ['ForAnyValue, key absent', { 'ForAnyValue:StringEquals': { 'dynamodb:Attributes': ['a'] } }, {}, 'ImplicitDeny'],
  ])('condition: %s', (_name, condition, context, expected) => {
    expect(decide(conditional(condition as Statement['Condition']), 'dynamodb:GetItem', TABLE, context as Record<string, string | string[]>)).toBe(expected);
  });

  it('substitutes policy variables in resources and matches nothing when the key is absent', () => {
    const d = doc({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/${aws:PrincipalTag/table}' });
    expect(decide(d, 'dynamodb:GetItem', TABLE, { 'aws:PrincipalTag/table': 'tollgate-AccountsTable' })).toBe('Allow');
    expect(decide(d, 'dynamodb:GetItem', TABLE)).toBe('ImplicitDeny');
  });

  it('refuses, when a policy is checked, a condition operator it does not know, and malformed statements', () => {
    expect(() => checkPolicyDocument(conditional({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), 'p')).toThrow(PolicyError);
    expect(() => checkPolicyDocument(conditional({ 'ForSomeValues:StringEquals': { k: 'v' } }), 'p')).toThrow(/ForSomeValues/);
    expect(() => checkPolicyDocument(doc({ Effect: 'Allow', Action: 'x:Y', NotAction: 'x:Z', Resource: '*' }), 'p')).toThrow(/exactly one of Action/);
    expect(() => checkPolicyDocument(doc({ Effect: 'Permit' as 'Allow', Action: 'x:Y', Resource: '*' }), 'p')).toThrow(/Effect/);
    expect(() => checkPolicyDocument(doc({ Effect: 'Allow', Action: 'x:Y', Resource: { 'Fn::GetAtt': ['T', 'Arn'] } as unknown as string }), 'p')).toThrow(/unresolved/);
    expect(() => checkPolicyDocument(conditional({ StringLikeIfExists: { k: 'v' } }), 'p')).not.toThrow();
  });

  it('matches actions and ARNs as IAM does', () => {
    expect(actionMatches('states:*', 'states:StartExecution')).toBe(true);
    expect(actionMatches('states:Start', 'states:StartExecution')).toBe(false);
    expect(arnMatches('arn:aws:states:us-east-1:000000000000:execution:tollgate-onboarding:*', 'arn:aws:states:us-east-1:000000000000:execution:tollgate-onboarding:onboard-1')).toBe(true);
    expect(arnMatches('arn:aws:states:us-east-1:000000000000:stateMachine:tollgate-onboarding', 'arn:aws:states:us-east-1:000000000000:stateMachine:tollgate-onboarding-x')).toBe(false);
  });
});
