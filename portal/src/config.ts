/** The runtime configuration: config.json next to index.html (`npm start` serves it; in AWS, made from the Outputs). */

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
  return config;
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
