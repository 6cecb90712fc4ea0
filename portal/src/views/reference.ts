/**
 * "API reference": every route of the OpenAPI document (openapi.json beside this page, generated from the handlers'
 * schemas) with its auth, parameters, request and response examples, errors, and snippets in curl, JavaScript and
 * Python with the signed-in customer's key filled in (KeyMode SelfIssued: the one this tab saw when it was issued, or
 * pasted: ./paste-key.ts); and "Try it" for each route (path and query parameters, body,
 * any method), showing the status, the response headers the browser may read (request id, Retry-After) and the body;
 * above them the document's description, which says that API Gateway sends no rate-limit headers.
 * A plain page of our own: a rendering library would outweigh the rest of the portal.
 */
import type { RawResponse } from '../api.ts';
import { page, type App, type ViewContext } from '../app.ts';
import { busy, copyText, field, h, mount, notice } from '../dom.ts';
import { describeError } from '../messages.ts';
import {
  buildRequest,
  codeSpans,
  curlSnippet,
  fetchSnippet,
  needsKey,
  needsToken,
  operationsOf,
  pythonSnippet,
  type Credentials,
  type DocOperation,
  type OpenApiDocument,
} from '../reference/snippets.ts';
import { currentKey, type CustomerKey } from '../key.ts';
import { pasteKeyForm } from './paste-key.ts';

const AUTH_TEXT: Record<DocOperation['auth'], string> = {
  none: 'No auth',
  token: 'ID token (Authorization)',
  key: 'API key (x-api-key)',
  'token+key': 'ID token (Authorization) + API key (x-api-key)',
};

/** Response headers worth showing; the rest (content-length…) are noise here. */
const SHOWN_HEADERS = ['x-amzn-requestid', 'x-amz-apigw-id', 'retry-after', 'location', 'content-type', 'cache-control'];

async function loadDocument(): Promise<OpenApiDocument> {
  const response = await fetch('openapi.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`The API reference (openapi.json) could not be loaded (HTTP ${response.status}).`);
  return (await response.json()) as OpenApiDocument;
}

/** The signed-in customer's key, or undefined (signed out, or no key yet while onboarding). */
async function customerKey(app: App): Promise<CustomerKey | undefined> {
  if (!app.session.current()) return undefined;
  try {
    return await currentKey(app);
  } catch {
    return undefined;
  }
}

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function prettyBody(response: RawResponse): string {
  if (!response.body) return '(empty body)';
  try {
    return pretty(JSON.parse(response.body));
  } catch {
    return response.body;
  }
}

/** `noKey`: why a call that needs the key cannot be made (no key yet, or KeyMode SelfIssued's value not pasted). */
function operationCard(app: App, op: DocOperation, key: string | undefined, noKey: string): HTMLElement {
  const status = notice();
  // Snippets show the key itself (the customer's own) and the ID token as $TOKEN: it expires within the hour.
  const shown: Credentials = { token: '$TOKEN', apiKey: key ?? '$API_KEY' };
  const inputs = new Map<string, HTMLInputElement>();
  for (const p of op.parameters) {
    inputs.set(p.name, h('input', { name: p.name, value: p.example ?? '', class: 'mono', spellcheck: 'false', 'data-param': p.name }));
  }
  const bodyInput = op.body ? h('textarea', { name: 'body', rows: 5, spellcheck: 'false', class: 'mono' }) : undefined;
  if (bodyInput && op.body?.example !== undefined) bodyInput.value = pretty(op.body.example);

  const snippets = {
    curl: h('pre', { class: 'curl', 'data-testid': 'snippet-curl' }),
    javascript: h('pre', { class: 'curl', 'data-testid': 'snippet-javascript' }),
    python: h('pre', { class: 'curl', 'data-testid': 'snippet-python' }),
  };
  const values = (): Record<string, string> => Object.fromEntries([...inputs].map(([name, input]) => [name, input.value.trim()]));
  const request = (credentials: Credentials) => buildRequest(op, app.api.baseUrl, values(), bodyInput?.value, credentials);
  const refresh = (): void => {
    try {
      const r = request(shown);
      snippets.curl.textContent = curlSnippet(r);
      snippets.javascript.textContent = fetchSnippet(r);
      snippets.python.textContent = pythonSnippet(r);
    } catch (error) {
      const text = error instanceof SyntaxError ? 'Fix the JSON body to see the snippets.' : describeError(error);
      for (const pre of Object.values(snippets)) pre.textContent = text;
    }
  };
  for (const input of inputs.values()) input.addEventListener('input', refresh);
  bodyInput?.addEventListener('input', refresh);

  const copyButton = (label: string, pre: HTMLElement): HTMLButtonElement => {
    const button = h('button', { type: 'button' }, `Copy ${label}`);
    button.addEventListener('click', () => {
      void copyText(pre.textContent ?? '').then((ok) => status.show(ok ? `Copied the ${label} snippet.` : 'Copy did not work here.', ok ? 'success' : 'error'));
    });
    return button;
  };

  const result = h('div', { class: 'try-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'form', 'aria-label': `Try ${op.method} ${op.path}` },
    [...inputs].map(([name, input]) => {
      const p = op.parameters.find((x) => x.name === name)!;
      return field(`${name} (${p.in}${p.required ? ', required' : ''})`, input);
    }),
    bodyInput ? field('Request body (JSON)', bodyInput) : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, `Send ${op.method}`)),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    status.clear();
    void busy(form, 'Sending…', async () => {
      if (op.auth !== 'none' && !app.session.current()) throw new Error('Sign in to call this route.');
      if (needsKey(op.auth) && !key) throw new Error(noKey);
      const token = needsToken(op.auth) ? await app.session.idToken() : '';
      const r = request({ token, apiKey: key ?? '' });
      const response = await app.api.raw(r.method, r.pathAndQuery, Object.fromEntries(Object.entries(r.headers).filter(([n]) => n !== 'Content-Type')), r.body);
      const headers = SHOWN_HEADERS.filter((name) => response.headers[name] !== undefined).map((name) => `${name}: ${response.headers[name]}`);
      mount(
        result,
        h(
          'div',
          { class: 'response-meta' },
          h('span', { class: `status-pill ${response.status < 400 ? 'ok' : 'bad'}`, 'data-testid': 'try-status' }, String(response.status)),
          h('span', null, response.statusText),
          h('span', { class: 'muted' }, `${response.ms} ms`),
        ),
        h('pre', { class: 'response-headers', 'data-testid': 'try-headers', 'aria-label': 'Response headers' }, headers.join('\n') || '(no readable headers)'),
        h('pre', { class: 'response-body', 'data-testid': 'try-body', tabindex: '0', 'aria-label': 'Response body' }, prettyBody(response)),
      );
    }).catch((error: unknown) => status.show(error instanceof SyntaxError ? 'The request body is not valid JSON.' : describeError(error), 'error'));
  });
  refresh();

  const parameterRows = op.parameters.map((p) =>
    h('tr', null, h('td', { class: 'mono' }, p.name), h('td', null, p.in), h('td', null, p.required ? 'yes' : 'no'), h('td', { class: 'mono' }, JSON.stringify(p.schema ?? {}))),
  );
  return h(
    'details',
    { class: 'card operation', 'data-testid': `op-${op.operationId}`, id: `op-${op.operationId}` },
    h('summary', null, h('span', { class: 'mono method' }, op.method), ' ', h('span', { class: 'mono' }, op.path), ' — ', op.summary),
    h('p', null, h('strong', null, 'Auth: '), h('span', { 'data-testid': 'op-auth' }, AUTH_TEXT[op.auth])),
    op.parameters.length > 0
      ? h('table', { class: 'params' }, h('thead', null, h('tr', null, h('th', null, 'Parameter'), h('th', null, 'In'), h('th', null, 'Required'), h('th', null, 'Schema'))), h('tbody', null, parameterRows))
      : null,
    op.body ? [h('h3', null, `Request body${op.body.required ? '' : ' (optional)'}`), h('pre', { class: 'mono' }, pretty(op.body.schema))] : null,
    h('h3', null, 'Responses'),
    h(
      'ul',
      { class: 'responses' },
      op.responses.map((r) => h('li', { 'data-status': r.status }, h('strong', { class: 'mono' }, r.status), ' ', r.description, r.example !== undefined ? h('pre', null, pretty(r.example)) : null)),
    ),
    h('h3', null, 'Code'),
    h('div', { class: 'card-head' }, h('h4', null, 'curl'), copyButton('curl', snippets.curl)),
    snippets.curl,
    h('div', { class: 'card-head' }, h('h4', null, 'JavaScript (fetch)'), copyButton('JavaScript', snippets.javascript)),
    snippets.javascript,
    h('div', { class: 'card-head' }, h('h4', null, 'Python (requests)'), copyButton('Python', snippets.python)),
    snippets.python,
    h('h3', null, 'Try it'),
    status.el,
    form,
    result,
  );
}

export async function referenceView({ app }: ViewContext): Promise<Node> {
  const [doc, customer] = await Promise.all([loadDocument(), customerKey(app)]);
  const operations = operationsOf(doc);
  const tags = [...new Set(operations.map((op) => op.tag))];
  // SelfIssued: the value only if this tab saw it or it was pasted; the server cannot send it.
  const key = customer?.value;
  const selfIssued = customer?.mode === 'SelfIssued';
  const noKey = selfIssued ? 'Paste your API key at the top of this page first.' : 'Your API key is not ready yet: open the dashboard, then come back.';
  return page(
    'API reference',
    key
      ? 'Every route, with your API key filled in. Where a route takes the ID token, set TOKEN to yours (POST /auth/sign-in answers it); "Try it" sends your own.'
      : selfIssued
        ? 'Every route. Paste your API key below to see it in the snippets and to try the routes that need it.'
        : 'Every route. Sign in to see the snippets with your API key and to try the protected routes.',
    customer?.mode === 'SelfIssued' && key === undefined ? pasteKeyForm(app, customer, () => app.navigate('/reference')) : null,
    // The document's own description: each kind of route's credentials, the request id, no rate-limit headers.
    doc.info?.description
      ? h('p', { 'data-testid': 'reference-about' }, codeSpans(doc.info.description).map((run) => (run.code ? h('code', null, run.text) : run.text)))
      : null,
    h('p', null, h('a', { href: 'openapi.json', download: 'tollgate-openapi.json' }, 'Download the OpenAPI document')),
    tags.map((tag) => h('section', { 'aria-label': tag }, h('h2', null, tag), operations.filter((op) => op.tag === tag).map((op) => operationCard(app, op, key, noKey)))),
  );
}
