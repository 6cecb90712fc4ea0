/**
 * `npm start`: the whole system offline from template.yaml. State lives in ./.local (kept across restarts).
 *   npm start -- --port-gateway 4000 --dir /tmp/tg --parameter-overrides "FreeQuotaLimit=50 AutoConfirmSignUp=true"
 * Every port can also be set with TOLLGATE_PORT_<SERVICE> (GATEWAY, LAMBDA, APIGATEWAY, STEPFUNCTIONS, COGNITO, DYNAMODB).
 * The developer portal is served too (built first if missing or stale): --port-portal / TOLLGATE_PORT_PORTAL (default
 * 5173), or --no-portal to leave it out. `--iam warn` logs calls the template's IAM policies would refuse instead of
 * refusing them (default `--iam enforce`: refused as in AWS; see README "How offline differs from AWS").
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS, type ServiceName } from '../endpoints.ts';
import { renderBanner } from './banner.ts';
import { startLocalStack } from '../stack.ts';
import { DEFAULT_PORTAL_PORT } from '../portal/index.ts';

const services = Object.keys(DEFAULT_PORTS) as ServiceName[];

function parsePort(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid port for ${name}: ${raw}`);
    process.exit(2);
  }
  return port;
}

export function parseOverrides(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      console.error(`Invalid parameter override "${pair}" (expected Name=Value)`);
      process.exit(2);
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '.local' },
      host: { type: 'string', default: '127.0.0.1' },
      quiet: { type: 'boolean', default: false },
      'parameter-overrides': { type: 'string' },
      ...Object.fromEntries(services.map((s) => [`port-${s}`, { type: 'string' as const }])),
      'port-portal': { type: 'string' },
      'no-portal': { type: 'boolean', default: false },
      iam: { type: 'string', default: 'enforce' },
    },
  });
  const iam = String(values.iam);
  if (iam !== 'enforce' && iam !== 'warn') throw new Error(`--iam must be enforce (the default) or warn, not '${iam}'`);
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const s of services) {
    const port = parsePort(s, (values as unknown as Record<string, string | undefined>)[`port-${s}`] ?? process.env[`TOLLGATE_PORT_${s.toUpperCase()}`]);
    if (port !== undefined) ports[s] = port;
  }
  const portalPort = parsePort('portal', (values['port-portal'] as string | undefined) ?? process.env.TOLLGATE_PORT_PORTAL) ?? DEFAULT_PORTAL_PORT;
  const quiet = values.quiet === true;
  const dir = resolve(String(values.dir));
  const started = Date.now();
  const stack = await startLocalStack({
    dir,
    host: String(values.host),
    ports,
    parameterOverrides: parseOverrides(values['parameter-overrides'] as string | undefined),
    iam,
    ...(values['no-portal'] === true ? {} : { portal: { port: portalPort } }),
    log: (line) => {
      if (!quiet) console.log(line);
    },
  });
  console.log(
    renderBanner({
      dir,
      ...(stack.portal ? { portalUrl: stack.portal.url } : {}),
      apiUrl: stack.apiUrl,
      endpoints: stack.endpoints,
      userPoolId: stack.userPoolId,
      userPoolClientId: stack.userPoolClientId,
      outputs: stack.outputs,
      notSimulated: stack.model.notSimulated,
      clientEnvironment: stack.clientEnvironment,
      samEnvVarsFile: stack.samEnvVarsFile,
      readySeconds: (Date.now() - started) / 1000,
    }),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.close();
    console.log('Stopped; state kept in', dir);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
