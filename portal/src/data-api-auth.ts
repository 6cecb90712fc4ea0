/**
 * Which credentials a call to the API carries in the deployed mode (config.json `dataApiAuth`, the template's
 * DataApiAuth parameter): the data API (links, tags, taglinks) takes the API key alone in `ApiKey` mode, the ID
 * token plus the key in `IdTokenAndApiKey` mode (the default, also when config.json predates the field); account
 * management (/me…) always takes the ID token. "Try it" and its curl line send exactly these.
 */
export type DataApiAuth = 'ApiKey' | 'IdTokenAndApiKey';

/** Whether a call to `path` carries the ID token (Authorization); it carries the key (x-api-key) whenever the portal has it. */
export function sendsIdToken(mode: DataApiAuth | undefined, path: string): boolean {
  const account = path === '/me' || path.startsWith('/me/');
  return account || mode !== 'ApiKey';
}
