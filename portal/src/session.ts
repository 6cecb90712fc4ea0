/**
 * The signed-in user's tokens, kept in sessionStorage (gone with the tab), refreshed with REFRESH_TOKEN_AUTH shortly
 * before they expire, or on demand (after onboarding, to pick up the new `custom:apiid` claim).
 */
import { claimsOf, CognitoError, type CognitoClient, type Tokens } from './cognito.ts';

export interface Session {
  email: string;
  tokens: Tokens;
  /** The API key value, once fetched (x-api-key on the data API calls of "Try it"; the portal's own calls need none). */
  apiKey?: { id: string; value: string };
}

const STORAGE_KEY = 'tollgate.session';
const REFRESH_MARGIN_MS = 60_000;

/** Thrown when the session is gone (expired refresh token, revoked, signed out in another tab). */
export class SessionExpiredError extends Error {
  constructor() {
    super('Your session has ended. Please sign in again.');
    this.name = 'SessionExpiredError';
  }
}

export class SessionStore {
  private refreshing: Promise<Session> | undefined;
  private readonly endedListeners = new Set<() => void>();

  constructor(
    private readonly cognito: CognitoClient,
    private readonly storage: Storage = sessionStorage,
  ) {}

  current(): Session | undefined {
    const raw = this.storage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    try {
      const session = JSON.parse(raw) as Session;
      return session?.tokens?.refreshToken ? session : undefined;
    } catch {
      return undefined;
    }
  }

  save(session: Session): Session {
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    return session;
  }

  clear(): void {
    this.storage.removeItem(STORAGE_KEY);
  }

  /**
   * Calls `listener` whenever the session is found to have ended (a refused refresh, a token the API still refuses
   * after a refresh, no session where one is needed): the ONE place that reacts (the shell sends the user to sign in
   * and back). Returns a function that removes the listener.
   */
  onEnded(listener: () => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  /** The session has ended: forget it, tell the listeners, and return the error for the caller to throw. */
  ended(): SessionExpiredError {
    this.clear();
    for (const listener of this.endedListeners) listener();
    return new SessionExpiredError();
  }

  require(): Session {
    const session = this.current();
    if (!session) throw this.ended();
    return session;
  }

  claims(): Record<string, unknown> {
    const session = this.current();
    return session ? claimsOf(session.tokens.idToken) : {};
  }

  /** The key id the ID token carries (`custom:apiid`), written by onboarding and by a key rotation. */
  apiKeyIdClaim(): string | undefined {
    const value = this.claims()['custom:apiid'];
    return typeof value === 'string' && value !== '' ? value : undefined;
  }

  setApiKey(apiKey: { id: string; value: string } | undefined): void {
    const session = this.require();
    const { apiKey: _old, ...rest } = session;
    this.save(apiKey ? { ...rest, apiKey } : rest);
  }

  /** New tokens from the refresh token; one refresh at a time however many callers ask. */
  refresh(): Promise<Session> {
    this.refreshing ??= (async () => {
      const session = this.require();
      try {
        const tokens = await this.cognito.refresh(session.tokens.refreshToken);
        return this.save({ ...session, tokens });
      } catch (error) {
        if (error instanceof CognitoError && error.type === 'NotAuthorizedException') throw this.ended();
        throw error;
      }
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** A current access token (for the user's own Cognito calls), refreshed first if it expires within a minute. */
  async accessToken(): Promise<string> {
    const session = this.require();
    if (session.tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.tokens.accessToken;
    return (await this.refresh()).tokens.accessToken;
  }

  /** A current ID token, refreshed first if it expires within a minute. */
  async idToken(): Promise<string> {
    const session = this.require();
    if (session.tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.tokens.idToken;
    return (await this.refresh()).tokens.idToken;
  }
}
