/** The runtime configuration: config.json next to index.html (`npm start` serves it; in AWS, made from the Outputs). */
import type { PasswordPolicy } from '#shared/password-policy';
import type { PortalConfig } from './portal-config.ts';

export type { PortalConfig };

export class ConfigError extends Error {}

const REQUIRED = ['region', 'userPoolId', 'userPoolClientId', 'cognitoEndpoint', 'apiUrl'] as const;

export function parseConfig(raw: unknown): PortalConfig {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError('config.json is not a JSON object.');
  const value = raw as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => typeof value[k] !== 'string' || value[k] === '');
  if (missing.length > 0) throw new ConfigError(`config.json is missing ${missing.join(', ')}.`);
  const config: PortalConfig = {
    region: value.region as string,
    userPoolId: value.userPoolId as string,
    userPoolClientId: value.userPoolClientId as string,
    cognitoEndpoint: value.cognitoEndpoint as string,
    apiUrl: (value.apiUrl as string).replace(/\/+$/, ''),
  };
  if (typeof value.outboxUrl === 'string' && value.outboxUrl !== '') config.outboxUrl = value.outboxUrl;
  // The deployed DataApiAuth: what "Try it", its curl line and the key card send (./data-api-auth.ts). Absent = the
  // template's default; anything else is refused rather than read as token mode.
  if (value.dataApiAuth !== undefined) {
    if (value.dataApiAuth !== 'ApiKey' && value.dataApiAuth !== 'IdTokenAndApiKey') throw new ConfigError('config.json: dataApiAuth is not ApiKey or IdTokenAndApiKey.');
    config.dataApiAuth = value.dataApiAuth;
  }
  if (value.passwordPolicy !== undefined) config.passwordPolicy = parsePasswordPolicy(value.passwordPolicy);
  return config;
}

/** `passwordPolicy` as config.json carries it: PasswordPolicyType's fields, each optional, of the right type. */
function parsePasswordPolicy(raw: unknown): PasswordPolicy {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config.json: passwordPolicy is not an object.');
  const value = raw as Record<string, unknown>;
  const policy: PasswordPolicy = {};
  const length = value.MinimumLength;
  if (length !== undefined) {
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 6 || length > 99) throw new ConfigError('config.json: passwordPolicy.MinimumLength is not a whole number from 6 to 99.');
    policy.MinimumLength = length;
  }
  for (const name of ['RequireUppercase', 'RequireLowercase', 'RequireNumbers', 'RequireSymbols'] as const) {
    const flag = value[name];
    if (flag === undefined) continue;
    if (typeof flag !== 'boolean') throw new ConfigError(`config.json: passwordPolicy.${name} is not true or false.`);
    policy[name] = flag;
  }
  return policy;
}

export async function loadConfig(): Promise<PortalConfig> {
  let response: Response;
  try {
    response = await fetch('config.json', { cache: 'no-store' });
  } catch {
    throw new ConfigError('config.json could not be loaded: the site that serves this page is not answering.');
  }
  if (!response.ok) throw new ConfigError(`config.json could not be loaded (HTTP ${response.status}).`);
  let raw: unknown;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError('config.json is not valid JSON.');
  }
  return parseConfig(raw);
}
