/**
 * Offline IAM: who is calling (the access key id of the request's SigV4 signature) and whether that caller's
 * execution role allows what the request needs.
 *
 * Every function and state machine of the template is a principal with its own access key id (`ASIA…`, given to
 * functions as AWS_ACCESS_KEY_ID and to the Step Functions task clients) and the role SAM would create for it
 * (./roles.ts). Any other caller — the AWS CLI, the portal, tests and scripts signing with the stack's shared local
 * credentials, or an unsigned request — is outside the template and keeps full access, like an administrator.
 *
 * Modes: `enforce` (default) refuses a denied request with the service's AccessDenied answer (./denial.ts);
 * `warn` logs it and lets it through (`npm start -- --iam warn`).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { evaluate, type Decision, type StatementRef } from './policy.ts';
import type { RequiredPermission } from './operations.ts';
import type { AttachedPolicy, ExecutionRole } from './roles.ts';

export type IamMode = 'enforce' | 'warn';

export interface Principal {
  /** Logical id of the function or state machine. */
  logicalId: string;
  kind: ExecutionRole['kind'];
  accessKeyId: string;
  secretAccessKey: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as AWS names the caller in an AccessDenied message. */
  arn: string;
  roleArn: string;
  role: ExecutionRole;
  /** What the role grants now (the role's policies; tests may replace them with {@link IamAuthorizer.setPolicies}). */
  policies: AttachedPolicy[];
}

/** One authorization decision, for logs and the tests that record which statement a path needs. */
export interface AuthzRecord {
  principal: string;
  service: string;
  operation: string;
  action: string;
  resource: string;
  decision: Decision;
  matched: StatementRef[];
  /** True when the decision was a denial that `warn` mode let through. */
  warned: boolean;
}

export interface Denial {
  principal: Principal;
  action: string;
  resource: string;
  explicit: boolean;
  /** AWS's wording (IAM User Guide, "Access denied error messages"). */
  message: string;
}

export interface IamAuthorizerOptions {
  roles: Iterable<ExecutionRole>;
  stackName: string;
  accountId: string;
  mode?: IamMode;
  log?: (line: string) => void;
}

/** AWS's access denied message (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). */
export function accessDeniedMessage(callerArn: string, action: string, resource: string, explicit: boolean): string {
  const why = explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  return `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

/** The access key id of a SigV4-signed request (Authorization header or presigned `X-Amz-Credential`), if any. */
export function accessKeyIdOf(headers: IncomingHttpHeaders, url?: string): string | undefined {
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /Credential=([^/,\s]+)\//.exec(auth) : null;
  if (m) return m[1];
  if (url && url.includes('X-Amz-Credential=')) {
    const credential = new URL(url, 'http://localhost').searchParams.get('X-Amz-Credential');
    return credential?.split('/')[0];
  }
  return undefined;
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function derived(stackName: string, logicalId: string, purpose: string, length: number, alphabet: string): string {
  const digest = createHash('sha256').update(`${stackName}/${logicalId}/${purpose}`).digest();
  return Array.from(digest.subarray(0, length), (b) => alphabet[b % alphabet.length]).join('');
}

export class IamAuthorizer {
  readonly mode: IamMode;
  private readonly byKey = new Map<string, Principal>();
  private readonly byLogicalId = new Map<string, Principal>();
  private readonly listeners = new Set<(record: AuthzRecord) => void>();
  private readonly log: (line: string) => void;

  constructor(opts: IamAuthorizerOptions) {
    this.mode = opts.mode ?? 'enforce';
    this.log = opts.log ?? (() => undefined);
    for (const role of opts.roles) {
      // Temporary (STS) access key ids start with ASIA; a Lambda function's session is named after the function, a
      // state machine's is an opaque id (as in AWS's AccessDenied messages).
      const accessKeyId = `ASIA${derived(opts.stackName, role.logicalId, 'key', 16, KEY_ALPHABET)}`;
      const session = role.kind === 'function' ? `${opts.stackName}-${role.logicalId}` : derived(opts.stackName, role.logicalId, 'session', 32, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
      const principal: Principal = {
        logicalId: role.logicalId,
        kind: role.kind,
        accessKeyId,
        secretAccessKey: derived(opts.stackName, role.logicalId, 'secret', 40, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
        arn: `arn:aws:sts::${opts.accountId}:assumed-role/${role.roleName}/${session}`,
        roleArn: `arn:aws:iam::${opts.accountId}:role/${role.roleName}`,
        role,
        policies: [...role.policies],
      };
      this.byKey.set(accessKeyId, principal);
      this.byLogicalId.set(role.logicalId, principal);
    }
  }

  principals(): Principal[] {
    return [...this.byLogicalId.values()];
  }

  /** The principal of a function or state machine (logical id), or undefined. */
  principal(logicalId: string): Principal | undefined {
    return this.byLogicalId.get(logicalId);
  }

  /** The principal behind an access key id; undefined for a caller outside the template (full access). */
  principalForKey(accessKeyId: string | undefined): Principal | undefined {
    return accessKeyId ? this.byKey.get(accessKeyId) : undefined;
  }

  /** Credentials a function or state machine signs with offline. */
  credentialsFor(logicalId: string): { accessKeyId: string; secretAccessKey: string } | undefined {
    const p = this.byLogicalId.get(logicalId);
    return p ? { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } : undefined;
  }

  /**
   * Checks every permission a request needs, in order; answers the first denial (undefined when all are allowed, or
   * in `warn` mode, where the denial is logged instead). Every decision is reported to {@link onDecision} listeners.
   */
  authorize(principal: Principal, service: string, operation: string, permissions: readonly RequiredPermission[]): Denial | undefined {
    for (const { action, resource } of permissions) {
      const { decision, matched } = evaluate(
        principal.policies.map((p) => ({ name: p.name, document: p.document })),
        { action, resource, context: { 'aws:PrincipalArn': principal.roleArn, 'aws:SecureTransport': 'false' } },
      );
      const denied = decision !== 'Allow';
      const warned = denied && this.mode === 'warn';
      for (const listener of this.listeners) listener({ principal: principal.logicalId, service, operation, action, resource, decision, matched, warned });
      if (!denied) continue;
      const message = accessDeniedMessage(principal.arn, action, resource, decision === 'ExplicitDeny');
      this.log(`iam: ${warned ? 'WARNING (--iam warn, allowed anyway)' : 'DENIED'} ${principal.logicalId} ${service} ${operation}: ${message}`);
      if (warned) continue;
      return { principal, action, resource, explicit: decision === 'ExplicitDeny', message };
    }
    return undefined;
  }

  /** Calls `listener` with every decision until the returned function is called. */
  onDecision(listener: (record: AuthzRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Test only: what a principal's role grants from now on (e.g. the role with one statement removed). */
  setPolicies(logicalId: string, policies: AttachedPolicy[]): void {
    const p = this.byLogicalId.get(logicalId);
    if (!p) throw new Error(`no principal ${logicalId}`);
    p.policies = policies;
  }

  /** Test only: back to the role as the template declares it. */
  resetPolicies(logicalId?: string): void {
    for (const p of logicalId ? [this.byLogicalId.get(logicalId)!] : this.byLogicalId.values()) p.policies = [...p.role.policies];
  }
}
