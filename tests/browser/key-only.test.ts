/**
 * The developer portal on a key-only stack (`DataApiAuth=ApiKey`), in Chromium: the portal follows the deployed mode
 * (config.json `dataApiAuth`). The key card says to send the key alone; "Try it" calls the data API with `x-api-key`
 * and no `Authorization`, and its curl line names no token; the API reference documents the data routes as key-only,
 * and its curl snippet, run as it is with no TOKEN set, gets 200 — as does the reference's own "Try it". /me… still
 * sends the ID token.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import type { Page, Request } from 'playwright-core';
import { PASSWORD, signIn, signUpAndOnboard, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);
const run = promisify(execFile);

describeBrowser('developer portal on a key-only data API (DataApiAuth=ApiKey, Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  const email = uniqueEmail('portal-keyonly');
  let keyValue: string;
  /** Every API call the page made: its path and whether it carried the ID token and the key. */
  const apiCalls: { path: string; token: boolean; key: boolean }[] = [];

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession({ DataApiAuth: 'ApiKey' }));
    const { execution } = await signUpAndOnboard(t, email);
    expect(execution.status).toBe('SUCCEEDED');
    const me = (await (await fetch(`${t.stack.apiUrl}/me`, { headers: { Authorization: (await signIn(t, email)).idToken } })).json()) as { apiKeyId: string };
    keyValue = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: me.apiKeyId, includeValue: true }))).value!;
    page.on('request', (request: Request) => {
      if (request.url().startsWith(t.stack.apiUrl) && request.method() !== 'OPTIONS') {
        const headers = request.headers();
        apiCalls.push({ path: new URL(request.url()).pathname.slice(new URL(t.stack.apiUrl).pathname.length), token: 'authorization' in headers, key: 'x-api-key' in headers });
      }
    });

    await page.goto(`${portalUrl}#/signin`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

  it('the key card says to send the key alone', async () => {
    const hint = page.getByTestId('key-hint');
    await hint.waitFor({ timeout: 30_000 });
    await expect(hint.textContent()).resolves.toBe('Send it as the x-api-key header. Keep it secret.');
  });

  it('"Try it" calls the data API with the key and no token, and its curl line names no token; /me keeps the token', async () => {
    await nav('Try it').click();
    await page.getByRole('heading', { level: 1, name: 'Try it' }).waitFor();
    await page.getByText('your key goes in x-api-key; the data API needs no token').waitFor();
    const curl = (await page.getByTestId('curl').textContent()) ?? '';
    expect(curl).toContain('"x-api-key: $API_KEY"');
    expect(curl).not.toContain('Authorization');

    apiCalls.length = 0;
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    await screenshot(page, 'key-only-01-try-links');
    expect(apiCalls.filter((c) => c.path === '/links')).toEqual([{ path: '/links', token: false, key: true }]);

    apiCalls.length = 0;
    await page.getByLabel('Endpoint').selectOption({ label: 'GET /me — your account' });
    await expect(page.getByTestId('curl').textContent()).resolves.toContain('"Authorization: $TOKEN"');
    await page.getByTestId('try-status').evaluate((el) => el.remove());
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    expect(apiCalls.filter((c) => c.path === '/me').map((c) => c.token)).toEqual([true]);
  });

  it('the API reference documents the data routes as key-only; its curl snippet runs without a token, and so does its "Try it"', async () => {
    await nav('API reference').click();
    await page.getByRole('heading', { level: 1, name: 'API reference' }).waitFor();
    const card = (operationId: string) => page.getByTestId(`op-${operationId}`);
    await expect(card('ListLinks').getByTestId('op-auth').textContent()).resolves.toBe('API key (x-api-key)');
    await expect(card('GetMe').getByTestId('op-auth').textContent()).resolves.toBe('ID token (Authorization)');

    await card('ListLinks').evaluate((el) => el.setAttribute('open', ''));
    const curl = (await card('ListLinks').getByTestId('snippet-curl').textContent()) ?? '';
    expect(curl).toContain(`'x-api-key: ${keyValue}'`);
    expect(curl).not.toContain('Authorization');
    const env = { ...process.env };
    delete env.TOKEN;
    const { stdout } = await run('bash', ['-c', curl], { env });
    expect(stdout).toMatch(/^HTTP\/1\.1 200/);

    apiCalls.length = 0;
    await card('ListLinks').getByRole('button', { name: 'Send GET' }).click();
    await expect(card('ListLinks').getByTestId('try-status').textContent()).resolves.toBe('200');
    expect(apiCalls.filter((c) => c.path === '/links')).toEqual([{ path: '/links', token: false, key: true }]);
  });
});
