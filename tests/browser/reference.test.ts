/**
 * The portal's API reference in Chromium, against the offline stack: it lists every route of the OpenAPI document,
 * its snippets carry the signed-in customer's own key, "Try it" runs a route with a query parameter, a POST and a
 * DELETE with a path parameter, and shows the request id header; the curl and JavaScript snippets, run as they are
 * (with TOKEN set), get the same answer as "Try it".
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import type { Page } from 'playwright-core';
import { OPERATIONS } from '../../functions/openapi/operations.ts';
import { PASSWORD, signIn, signUpAndOnboard, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);
const run = promisify(execFile);

describeBrowser('developer portal: API reference (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  const email = uniqueEmail('reference');
  let keyValue: string;

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession());
    const { execution } = await signUpAndOnboard(t, email);
    expect(execution.status).toBe('SUCCEEDED');
    const me = (await (await fetch(`${t.stack.apiUrl}/me`, { headers: { Authorization: (await signIn(t, email)).idToken } })).json()) as { apiKeyId: string };
    keyValue = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: me.apiKeyId, includeValue: true }))).value!;

    await page.goto(`${portalUrl}#/signin`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API reference', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'API reference' }).waitFor();
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  const card = (operationId: string) => page.getByTestId(`op-${operationId}`);
  /** Opens a route's section (whatever state it is in). */
  const open = (operationId: string) => card(operationId).evaluate((el) => el.setAttribute('open', ''));

  async function send(operationId: string, method: string): Promise<{ status: string; headers: string; body: string }> {
    const op = card(operationId);
    await op.locator('.try-result').evaluate((el) => el.replaceChildren()); // no answer of an earlier call
    await op.getByRole('button', { name: `Send ${method}` }).click();
    const status = op.getByTestId('try-status');
    await status.waitFor();
    return { status: (await status.textContent()) ?? '', headers: (await op.getByTestId('try-headers').textContent()) ?? '', body: (await op.getByTestId('try-body').textContent()) ?? '' };
  }

  it('lists every route of the document, each with its auth', async () => {
    await expect(page.locator('details.operation').count()).resolves.toBe(OPERATIONS.length);
    await expect(card('GetLink').getByTestId('op-auth').textContent()).resolves.toBe('ID token (Authorization) + API key (x-api-key)');
    await expect(card('GetMe').getByTestId('op-auth').textContent()).resolves.toBe('ID token (Authorization)');
    await expect(card('Health').getByTestId('op-auth').textContent()).resolves.toBe('No auth');
    // What rate-limit headers exist, said on the page: none from API Gateway.
    await expect(page.getByTestId('reference-about').textContent()).resolves.toMatch(/API Gateway sends no rate-limit headers/);
  });

  it('runs a snippet\'s request through "Try it": the key filled in, query parameters, request id shown', async () => {
    // A link to list, saved through "Try it" (POST with the example body).
    await open('CreateLink');
    const created = await send('CreateLink', 'POST');
    expect(created.status).toBe('201');
    const link = JSON.parse(created.body) as { id: string; url: string };
    expect(link.url).toBe('https://example.com/docs');

    await open('ListLinks');
    const curl = (await card('ListLinks').getByTestId('snippet-curl').textContent()) ?? '';
    expect(curl).toContain(`'x-api-key: ${keyValue}'`);
    expect(curl).toContain(`${t.stack.apiUrl}/links?limit=10`);
    await expect(card('ListLinks').getByTestId('snippet-python').textContent()).resolves.toContain(`"x-api-key": "${keyValue}"`);
    const listed = await send('ListLinks', 'GET');
    await screenshot(page, 'reference-01-try-list-links');
    expect(listed.status).toBe('200');
    expect(listed.headers).toMatch(/^x-amzn-requestid: \S+$/m);
    expect((JSON.parse(listed.body) as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([link.id]);

    // The snippets themselves, run as they are with TOKEN set, answer the same.
    const env = { ...process.env, TOKEN: (await signIn(t, email)).idToken };
    const { stdout } = await run('bash', ['-c', curl], { env });
    expect(stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(stdout).toContain(link.id);
    const js = (await card('ListLinks').getByTestId('snippet-javascript').textContent()) ?? '';
    const fromJs = await run(process.execPath, ['--input-type=module', '-e', js], { env });
    expect(fromJs.stdout).toMatch(/^200 \S+/);
    expect(fromJs.stdout).toContain(link.id);
  });

  it('"Try it" fills path parameters and sends DELETE', async () => {
    await open('CreateLink');
    const { id } = JSON.parse((await send('CreateLink', 'POST')).body) as { id: string };

    await open('DeleteLink');
    await card('DeleteLink').locator('input[data-param="id"]').fill(id);
    await expect(card('DeleteLink').getByTestId('snippet-curl').textContent()).resolves.toContain(`-X DELETE '${t.stack.apiUrl}/links/${id}'`);
    const deleted = await send('DeleteLink', 'DELETE');
    expect(deleted.status).toBe('204');

    await open('GetLink');
    await card('GetLink').locator('input[data-param="id"]').fill(id);
    const gone = await send('GetLink', 'GET');
    await screenshot(page, 'reference-02-try-get-deleted-link');
    expect(gone.status).toBe('404');
    expect(gone.headers).toMatch(/^x-amzn-requestid: \S+$/m);
  });
});
