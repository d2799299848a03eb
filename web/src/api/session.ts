// Who is signed in, and a valid access token for each API request.
//
// Local mode: the API's own login (`POST /api/v1/auth/login`) returns a short-lived access token
// and a refresh token; we refresh shortly before expiry (and once on a 401) so nobody is logged
// out in the middle of their work. Supabase mode: supabase-js owns the session and refreshes it.
import { apiBaseUrl, authMode, supabaseAnonKey, supabaseUrl } from './config';
import { ApiError, errorFromResponse } from './errors';

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number;
  /** How long the access token was valid for when issued, in ms (sets how early we refresh). */
  lifetimeMs?: number;
}

type Listener = (signedIn: boolean) => void;

export interface AuthBackend {
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** A token that is valid now, or null when signed out. */
  accessToken(forceRefresh?: boolean): Promise<string | null>;
  isSignedIn(): Promise<boolean>;
}

const listeners = new Set<Listener>();

function notify(signedIn: boolean): void {
  for (const listener of listeners) listener(signedIn);
}

export function onAuthChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** How long before expiry we refresh, so a request never leaves with a dying token: a minute,
 * or a quarter of the token's life for short-lived tokens. */
export function refreshMarginMs(session: StoredSession): number {
  return Math.min(60_000, (session.lifetimeMs ?? 240_000) / 4);
}
export const SESSION_KEY = 'pecus.session';

/** The `exp` claim of a JWT in epoch ms (the signature is the API's business, not ours). */
export function tokenExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in?: number;
  expires_at?: number;
}

export function sessionFromTokens(body: TokenResponse, now: number = Date.now()): StoredSession {
  const expiresAt =
    tokenExpiry(body.access_token) ??
    (body.expires_at !== undefined ? body.expires_at * 1000 : now + (body.expires_in ?? 300) * 1000);
  return { accessToken: body.access_token, refreshToken: body.refresh_token, expiresAt, lifetimeMs: expiresAt - now };
}

async function postJson(path: string, body: unknown): Promise<Response> {
  try {
    return await fetch(`${apiBaseUrl()}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'The server cannot be reached');
  }
}

export class LocalAuth implements AuthBackend {
  private refreshing: Promise<string | null> | null = null;

  constructor() {
    // Another tab signed in or out: follow it.
    window.addEventListener('storage', (event) => {
      if (event.key === SESSION_KEY) notify(event.newValue !== null);
    });
  }

  private load(): StoredSession | null {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return null;
    }
  }

  private save(session: StoredSession | null): void {
    if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else localStorage.removeItem(SESSION_KEY);
  }

  async signIn(email: string, password: string): Promise<void> {
    const response = await postJson('/api/v1/auth/login', { email, password });
    if (!response.ok) throw await errorFromResponse(response);
    this.save(sessionFromTokens((await response.json()) as TokenResponse));
    notify(true);
  }

  async signOut(): Promise<void> {
    const session = this.load();
    this.save(null);
    notify(false);
    if (session) {
      // Best effort: revoke the refresh token server-side; we are signed out locally either way.
      await postJson('/api/v1/auth/logout', { refresh_token: session.refreshToken }).catch(() => undefined);
    }
  }

  async isSignedIn(): Promise<boolean> {
    return this.load() !== null;
  }

  async accessToken(forceRefresh = false): Promise<string | null> {
    const session = this.load();
    if (!session) return null;
    if (!forceRefresh && session.expiresAt - Date.now() > refreshMarginMs(session)) return session.accessToken;
    // One refresh at a time, however many queries ask at once.
    this.refreshing ??= this.refresh(session).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(session: StoredSession): Promise<string | null> {
    let response: Response;
    try {
      response = await postJson('/api/v1/auth/refresh', { refresh_token: session.refreshToken });
    } catch {
      // Offline for a moment: keep the session, the request will say the API is unreachable.
      return session.accessToken;
    }
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      this.save(null);
      notify(false);
      return null;
    }
    if (!response.ok) return session.accessToken;
    const fresh = sessionFromTokens((await response.json()) as TokenResponse);
    this.save(fresh);
    return fresh.accessToken;
  }
}

type SupabaseClient = import('@supabase/supabase-js').SupabaseClient;

export class SupabaseAuth implements AuthBackend {
  private client: Promise<SupabaseClient> | null = null;

  constructor(
    private readonly url: string,
    private readonly anonKey: string,
  ) {}

  private get(): Promise<SupabaseClient> {
    // Loaded on demand: local builds never download supabase-js.
    this.client ??= import('@supabase/supabase-js').then(({ createClient }) => {
      const client = createClient(this.url, this.anonKey, {
        auth: { persistSession: true, autoRefreshToken: true },
      });
      client.auth.onAuthStateChange((_event, session) => notify(session !== null));
      return client;
    });
    return this.client;
  }

  async signIn(email: string, password: string): Promise<void> {
    const client = await this.get();
    const { error } = await client.auth.signInWithPassword({ email, password });
    if (error) {
      const status = error.status ?? 400;
      throw new ApiError(status === 400 ? 401 : status, error.code ?? 'invalid_credentials', error.message);
    }
  }

  async signOut(): Promise<void> {
    const client = await this.get();
    await client.auth.signOut();
  }

  async isSignedIn(): Promise<boolean> {
    const client = await this.get();
    return (await client.auth.getSession()).data.session !== null;
  }

  async accessToken(forceRefresh = false): Promise<string | null> {
    const client = await this.get();
    if (forceRefresh) {
      const { data } = await client.auth.refreshSession();
      return data.session?.access_token ?? null;
    }
    return (await client.auth.getSession()).data.session?.access_token ?? null;
  }
}

export const auth: AuthBackend =
  authMode === 'supabase' ? new SupabaseAuth(supabaseUrl, supabaseAnonKey) : new LocalAuth();
