/**
 * `npm run admin -- invite <email> [--pool-id <id>] [--endpoint <url>] [--region <region>] [--dir .local]`
 *
 * Invites a user (the way into an InviteOnly=true pool, and allowed in any pool): AdminCreateUser with the email as
 * username, `email_verified=true`, and the temporary password sent by EMAIL. The user is onboarded (API key, free
 * plan) at their first sign-in, by the PostAuthentication trigger.
 *
 * Where: `--pool-id`, else the offline stack's `.local/stack.json` (`cognito.pools.UserPool`). Endpoint: `--endpoint`,
 * else AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, else http://127.0.0.1:9229 when `.local/stack.json` exists, else
 * AWS itself (region and credentials from the usual AWS_* variables or profile).
 */
import { AdminCreateUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS } from '../local/endpoints.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types.ts';

export interface AdminTarget {
  poolId: string;
  /** undefined: the SDK's own resolution (AWS). */
  endpoint?: string;
  region?: string;
  /** The endpoint is on this machine: the offline stack. */
  offline: boolean;
  /** Offline: where cognito-local's messages (the temporary password) land. */
  outbox?: string;
}

export interface TargetOptions {
  poolId?: string;
  endpoint?: string;
  region?: string;
  /** The offline stack's state directory (`npm start --dir`), default .local. */
  dir: string;
  env: Record<string, string | undefined>;
}

interface StackState {
  cognito?: { pools?: Record<string, string> };
}

function isLoopback(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** Which pool and which Cognito endpoint a command talks to. Throws with a usage hint when no pool is known. */
export function resolveTarget(opts: TargetOptions): AdminTarget {
  const dir = resolve(opts.dir);
  const stateFile = join(dir, 'stack.json');
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StackState) : undefined;
  const pools = state?.cognito?.pools ?? {};
  const poolId = opts.poolId ?? pools.UserPool ?? Object.values(pools)[0];
  if (!poolId) {
    throw new Error(
      `No user pool id: pass --pool-id <id> (in AWS, the stack output UserPoolId), or run the offline stack (npm start) so that ${stateFile} names it`,
    );
  }
  const endpoint =
    opts.endpoint ??
    opts.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER ??
    (state ? `http://127.0.0.1:${DEFAULT_PORTS.cognito}` : undefined);
  const offline = endpoint !== undefined && isLoopback(endpoint);
  const region = opts.region ?? opts.env.AWS_REGION ?? opts.env.AWS_DEFAULT_REGION ?? (offline ? LOCAL_REGION : undefined);
  return {
    poolId,
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    offline,
    ...(offline ? { outbox: join(dir, 'cognito', 'outbox.jsonl') } : {}),
  };
}

export function cognitoClientFor(target: AdminTarget, env: Record<string, string | undefined>): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.region ? { region: target.region } : {}),
    // cognito-local accepts any credentials; do not make people configure some for it.
    ...(target.offline && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
}

export interface Invitation {
  email: string;
  /** Cognito's username for the user: the sub, in this email-as-username pool. */
  username: string;
  sub?: string;
  status?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** AdminCreateUser: email as username, email verified, the temporary password sent by EMAIL. */
export async function inviteUser(client: CognitoIdentityProviderClient, poolId: string, rawEmail: string): Promise<Invitation> {
  // Lower-cased like the REST auth endpoints do, so the invited user signs in with any capitalisation.
  const email = rawEmail.trim().toLowerCase();
  if (!EMAIL.test(email)) throw new Error(`Not an email address: ${rawEmail}`);
  const { User } = await client.send(
    new AdminCreateUserCommand({
      UserPoolId: poolId,
      Username: email,
      UserAttributes: [
        { Name: 'email', Value: email },
        { Name: 'email_verified', Value: 'true' },
      ],
      DesiredDeliveryMediums: ['EMAIL'],
    }),
  );
  const sub = User?.Attributes?.find((a) => a.Name === 'sub')?.Value;
  return {
    email,
    username: User?.Username ?? email,
    ...(sub ? { sub } : {}),
    ...(User?.UserStatus ? { status: User.UserStatus } : {}),
  };
}

const USAGE = `Usage: npm run admin -- invite <email> [--pool-id <id>] [--endpoint <url>] [--region <region>] [--dir .local]`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'pool-id': { type: 'string' },
        endpoint: { type: 'string' },
        region: { type: 'string' },
        dir: { type: 'string', default: '.local' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, email] = positionals;
  if (values.help || command !== 'invite' || !email || positionals.length !== 2) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }

  let target: AdminTarget;
  try {
    target = resolveTarget({
      ...(values['pool-id'] ? { poolId: values['pool-id'] } : {}),
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
      ...(values.region ? { region: values.region } : {}),
      dir: String(values.dir),
      env: process.env,
    });
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }

  const client = cognitoClientFor(target, process.env);
  try {
    const invitation = await inviteUser(client, target.poolId, email);
    console.log(`Invited ${invitation.email} to pool ${target.poolId}${target.endpoint ? ` at ${target.endpoint}` : ''}.`);
    console.log(`  user ${invitation.username}${invitation.status ? ` (${invitation.status})` : ''}`);
    if (target.outbox) {
      console.log(`  The temporary password did not go to a mailbox: it is in the offline outbox, ${target.outbox}`);
      console.log(`  (tail -1 ${target.outbox}: "code" is the temporary password).`);
    } else {
      console.log(`  Cognito sent the temporary password by email to ${invitation.email}.`);
    }
    console.log(
      '  At the first sign-in the user sets a password (POST /auth/sign-in with "newPassword") and is onboarded: API key, free plan.',
    );
    return 0;
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'UsernameExistsException') console.error(`${email} already has an account in pool ${target.poolId}.`);
    else console.error(`Could not invite ${email}: ${name}: ${(error as Error).message}`);
    return 1;
  } finally {
    client.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
