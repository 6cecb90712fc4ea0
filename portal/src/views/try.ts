/**
 * "Try it": one call to the protected API with the customer's ID token and key, showing the status, the latency and
 * the body, and the same call as a copy-paste `curl` line. The page fetches the key itself (GET /me/api-key, token
 * only), so it works opened directly or right after sign-in. In KeyMode SelfIssued the server cannot send the value:
 * the page uses the one this tab saw when it was issued, or asks for it (./paste-key.ts).
 */
import { ApiError, type RawResponse } from '../api.ts';
import { page, type ViewContext } from '../app.ts';
import { busy, copyText, field, h, mount, notice } from '../dom.ts';
import { shellQuote } from '../format.ts';
import { currentKey, type CustomerKey } from '../key.ts';
import { describeError } from '../messages.ts';
import { SessionExpiredError } from '../session.ts';
import { pasteKeyForm } from './paste-key.ts';

interface Endpoint {
  method: 'GET' | 'POST';
  path: string;
  label: string;
  body?: string;
}

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/links', label: 'GET /links — your saved links' },
  { method: 'POST', path: '/links', label: 'POST /links — save a link', body: JSON.stringify({ url: 'https://example.com/docs', title: 'Example docs' }, null, 2) },
  { method: 'GET', path: '/tags', label: 'GET /tags — your tags' },
  { method: 'POST', path: '/tags', label: 'POST /tags — create a tag', body: JSON.stringify({ name: 'reading' }, null, 2) },
  { method: 'GET', path: '/me', label: 'GET /me — your account' },
];

const STATUS_WORDS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'The request was not accepted',
  // The data routes' KeyAuthorizer answers 401 to a request without x-api-key (its identity source), in every mode.
  401: 'No API key, or not signed in, or the token has expired',
  403: 'Refused: an API key that does not work or is not yours',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  429: 'Too many requests: rate limit or quota reached',
  500: 'Server error',
  502: 'Bad gateway',
  503: 'Unavailable',
};

function prettyBody(response: RawResponse): string {
  if (!response.body) return '(empty body)';
  if (response.contentType.includes('json')) {
    try {
      return JSON.stringify(JSON.parse(response.body), null, 2);
    } catch {
      return response.body;
    }
  }
  return response.body;
}

/**
 * The call as a curl line; with `placeholders`, the token and key are the shell variables $TOKEN and $API_KEY.
 * `token` undefined: no Authorization header (the key-only data API).
 */
export function curlLine(method: string, url: string, token: string | undefined, key: string | undefined, body: string | undefined, placeholders = false): string {
  const header = (text: string): string => (placeholders ? `"${text}"` : shellQuote(text));
  const parts = [`curl -i -X ${method} ${shellQuote(url)}`];
  if (token !== undefined) parts.push(`-H ${header(`Authorization: ${token}`)}`);
  if (key !== undefined) parts.push(`-H ${header(`x-api-key: ${key}`)}`);
  if (body !== undefined) parts.push(`-H 'Content-Type: application/json'`, `-d ${shellQuote(JSON.stringify(JSON.parse(body)))}`);
  return parts.join(' \\\n  ');
}

/** KeyMode SelfIssued answers these two differently (functions/key-authorizer: 401 for a bad key, 403 over a limit). */
const SELF_ISSUED_STATUS_WORDS: Record<number, string> = {
  401: 'Refused: no API key, an unknown or revoked one, or an expired token',
  403: 'Refused: over your plan’s rate or quota, or not your key',
};

/** The key, or why there is none yet (onboarding still running: 409 with the account's status). */
async function loadKey(ctx: ViewContext): Promise<{ key?: CustomerKey; problem?: string }> {
  try {
    return { key: await currentKey(ctx.app) };
  } catch (error) {
    if (error instanceof SessionExpiredError) throw error;
    if (error instanceof ApiError && error.status === 409) return { problem: 'Your API key is still being set up (see the dashboard): calls without it are refused with 401.' };
    return { problem: `Your API key could not be loaded: ${describeError(error)} Calls without it are refused with 401.` };
  }
}

export async function tryView(ctx: ViewContext): Promise<Node> {
  const { app } = ctx;
  const { key, problem } = await loadKey(ctx);
  // SelfIssued: the value only if this tab saw it or it was pasted; the server cannot send it.
  const keyValue = key?.value;
  const pasteKey = key?.mode === 'SelfIssued' && keyValue === undefined ? pasteKeyForm(app, key, () => app.navigate('/try')) : null;
  const statusWords = key?.mode === 'SelfIssued' ? { ...STATUS_WORDS, ...SELF_ISSUED_STATUS_WORDS } : STATUS_WORDS;
  const status = notice();
  const select = h('select', { name: 'endpoint' }, ENDPOINTS.map((e, i) => h('option', { value: String(i) }, e.label)));
  const bodyInput = h('textarea', { name: 'body', rows: 5, spellcheck: 'false', class: 'mono' });
  const bodyField = field('Request body (JSON)', bodyInput);
  const result = h('div', { class: 'try-result', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Send a request to see the answer here.'));
  const curl = h('pre', { class: 'curl', 'data-testid': 'curl' });
  const copyCurl = h('button', { type: 'button' }, 'Copy curl');

  const endpoint = (): Endpoint => ENDPOINTS[Number(select.value)] ?? ENDPOINTS[0]!;
  const bodyText = (): string | undefined => (endpoint().method === 'POST' ? bodyInput.value : undefined);
  const url = (): string => `${app.api.baseUrl}${endpoint().path}`;
  const validBody = (): boolean => {
    const body = bodyText();
    if (body === undefined) return true;
    try {
      JSON.parse(body);
      return true;
    } catch {
      return false;
    }
  };
  const showCurl = (): void => {
    // What is shown names the secrets; the Copy button puts the real values in.
    curl.textContent = validBody() ? curlLine(endpoint().method, url(), app.api.sendsIdToken(endpoint().path) ? '$TOKEN' : undefined, keyValue || key?.mode === 'SelfIssued' ? '$API_KEY' : undefined, bodyText(), true) : 'Fix the JSON body to see the curl line.';
  };
  const onEndpoint = (): void => {
    const e = endpoint();
    bodyField.hidden = e.method !== 'POST';
    bodyInput.value = e.body ?? '';
    showCurl();
  };
  select.addEventListener('change', onEndpoint);
  bodyInput.addEventListener('input', showCurl);

  copyCurl.addEventListener('click', () => {
    void (async () => {
      if (!validBody()) return status.show('The request body is not valid JSON.', 'error');
      const token = app.api.sendsIdToken(endpoint().path) ? await app.session.idToken() : undefined;
      const ok = await copyText(curlLine(endpoint().method, url(), token, keyValue, bodyText()));
      status.show(ok ? 'Copied, with your token and key filled in. Do not share it.' : 'Copy did not work here.', ok ? 'success' : 'error');
    })().catch((error: unknown) => status.show(describeError(error), 'error'));
  });

  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Try a request' },
    field('Endpoint', select),
    bodyField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Send request')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    status.clear();
    if (!validBody()) {
      status.show('The request body is not valid JSON.', 'error');
      return;
    }
    void busy(form, 'Sending…', async () => {
      const headers = await app.api.authHeaders(endpoint().path);
      const response = await app.api.raw(endpoint().method, endpoint().path, headers, bodyText());
      const ok = response.status < 400;
      mount(
        result,
        h(
          'div',
          { class: 'response-meta' },
          h('span', { class: `status-pill ${ok ? 'ok' : 'bad'}`, 'data-testid': 'try-status' }, String(response.status)),
          h('span', null, statusWords[response.status] ?? response.statusText),
          h('span', { class: 'muted', 'data-testid': 'try-latency' }, `${response.ms} ms`),
        ),
        h('pre', { class: 'response-body', tabindex: '0', 'aria-label': 'Response body' }, prettyBody(response)),
      );
    }).catch((error: unknown) => status.show(describeError(error), 'error'));
  });

  onEndpoint();
  return page(
    'Try it',
    key ? (app.api.sendsIdToken('/links') ? 'Call the API as yourself: your ID token goes in Authorization, your key in x-api-key.' : 'Call the API as yourself: your key goes in x-api-key; the data API needs no token.') : problem,
    pasteKey,
    status.el,
    form,
    h('section', { class: 'card', 'aria-labelledby': 'response-heading' }, h('h2', { id: 'response-heading' }, 'Response'), result),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'curl-heading' },
      h('div', { class: 'card-head' }, h('h2', { id: 'curl-heading' }, 'The same call with curl'), copyCurl),
      curl,
      h(
        'p',
        { class: 'hint' },
        app.api.sendsIdToken('/links')
          ? 'Set TOKEN to your ID token and API_KEY to your key, or use Copy curl to get the line with both filled in.'
          : 'Set API_KEY to your key (and TOKEN to your ID token for /me), or use Copy curl to get the line filled in.',
      ),
    ),
  );
}
