/** What every page gets: the configuration, the two clients, the session, and navigation. */
import type { ApiClient, Plan } from './api.ts';
import type { CognitoClient } from './cognito.ts';
import type { PortalConfig } from './config.ts';
import { h, type Child } from './dom.ts';
import type { SessionStore } from './session.ts';

export interface Flash {
  text: string;
  kind: 'success' | 'info' | 'error';
}

export interface App {
  config: PortalConfig;
  cognito: CognitoClient;
  session: SessionStore;
  api: ApiClient;
  /** The password just chosen at sign-up, in memory only: signs the user in right after confirmation. */
  pendingSignUp?: { email: string; password: string };
  /** A message for the next page (e.g. "Password changed: sign in"). */
  flash?: Flash;
  navigate(path: string): void;
  /** The plan catalogue (GET /plans), fetched once. */
  plans(): Promise<Plan[]>;
  signOut(flash?: Flash): Promise<void>;
}

export interface ViewContext {
  app: App;
  params: URLSearchParams;
  /** Aborted when the user leaves the page: stop polling. */
  signal: AbortSignal;
}

export type View = (ctx: ViewContext) => Promise<Node> | Node;

/** A page: its heading (focused after navigation, for screen readers and keyboards) and content. */
export function page(title: string, intro: Child, ...children: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: '-1', class: 'page-title' }, title),
    intro ? h('p', { class: 'lead' }, intro) : null,
    ...children,
  );
}

/** Resolves after `ms`, or at once when the page is left. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function newIdempotencyKey(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
