import { vi } from 'vitest';

import { fakeToken, startServer, type TestServer } from '../test/httpServer';
import { api } from './client';
import { ApiError } from './errors';
import { auth, onAuthChange, refreshMarginMs, SESSION_KEY, sessionFromTokens, tokenExpiry } from './session';

let server: TestServer | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

const now = () => Math.floor(Date.now() / 1000);

function tokens(exp: number, refresh: string) {
  return { access_token: fakeToken(exp), refresh_token: refresh, token_type: 'bearer', expires_in: exp - now(), expires_at: exp, user: { id: 'u', email: 'a@b.it' } };
}

describe('local sign-in session', () => {
  it('reads the expiry from the token itself', () => {
    expect(tokenExpiry(fakeToken(2_000_000_000))).toBe(2_000_000_000_000);
    expect(tokenExpiry('not-a-jwt')).toBeNull();
    expect(sessionFromTokens({ access_token: 'x', refresh_token: 'r', expires_at: 100 }).expiresAt).toBe(100_000);
  });

  it('refreshes a minute early, or a quarter of the life of a short token', () => {
    expect(refreshMarginMs({ accessToken: 'a', refreshToken: 'r', expiresAt: 0, lifetimeMs: 900_000 })).toBe(60_000);
    expect(refreshMarginMs({ accessToken: 'a', refreshToken: 'r', expiresAt: 0, lifetimeMs: 40_000 })).toBe(10_000);
  });

  it('signs in, refreshes a token about to expire before using it, and signs out', async () => {
    const seen: string[] = [];
    server = await startServer((req) => {
      seen.push(`${req.method} ${req.path}`);
      if (req.path === '/api/v1/auth/login') return { body: tokens(now() + 900, 'r1') };
      if (req.path === '/api/v1/auth/refresh') {
        expect(req.body).toEqual({ refresh_token: 'r1' });
        return { body: tokens(now() + 3600, 'r2') };
      }
      if (req.path === '/api/v1/me') return { body: { auth: req.headers.authorization } };
      if (req.path === '/api/v1/auth/logout') return { status: 204 };
      return { status: 404 };
    });
    vi.stubEnv('VITE_API_URL', server.url);
    const changes: boolean[] = [];
    const unsubscribe = onAuthChange((v) => changes.push(v));

    await auth.signIn('a@b.it', 'pw');
    // 14.5 minutes later the 15-minute token is inside the refresh margin.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 870_000);
    const me = await api<{ auth: string }>('/me');
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY)!) as { refreshToken: string; accessToken: string };
    expect(stored.refreshToken).toBe('r2');
    expect(me.auth).toBe(`Bearer ${stored.accessToken}`);
    expect(seen).toEqual(['POST /api/v1/auth/login', 'POST /api/v1/auth/refresh', 'GET /api/v1/me']);

    await auth.signOut();
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
    expect(seen.at(-1)).toBe('POST /api/v1/auth/logout');
    expect(changes).toEqual([true, false]);
    unsubscribe();
  });

  it('refreshes once on a 401 and retries; a spent refresh token signs out', async () => {
    const valid = new Set<string>();
    let refreshes = 0;
    server = await startServer((req) => {
      if (req.path === '/api/v1/auth/login') return { body: tokens(now() + 3600, 'r1') }; // revoked at once
      if (req.path === '/api/v1/auth/refresh') {
        refreshes += 1;
        if (refreshes > 1) return { status: 401, body: { error: { code: 'unauthorized', message: 'refresh token spent' } } };
        const fresh = tokens(now() + 3600 + refreshes, 'r2');
        valid.add(fresh.access_token);
        return { body: fresh };
      }
      if (req.path === '/api/v1/me') {
        const token = (req.headers.authorization ?? '').replace('Bearer ', '');
        return valid.has(token) ? { body: { ok: true } } : { status: 401, body: { error: { code: 'unauthorized', message: 'expired' } } };
      }
      return { status: 404 };
    });
    vi.stubEnv('VITE_API_URL', server.url);
    await auth.signIn('a@b.it', 'pw');
    await expect(api('/me')).resolves.toEqual({ ok: true });
    expect(refreshes).toBe(1);

    // The access token is revoked too and the refresh token is spent: signed out, 401 to the caller.
    valid.clear();
    const error = await api('/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(refreshes).toBe(2);
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
  });

  it('reports wrong credentials and rate limiting with the API’s codes', async () => {
    let calls = 0;
    server = await startServer(() => {
      calls += 1;
      return calls === 1
        ? { status: 401, body: { error: { code: 'invalid_credentials', message: 'Wrong e-mail or password' } } }
        : { status: 429, body: { error: { code: 'rate_limited', message: 'Too many attempts' } } };
    });
    vi.stubEnv('VITE_API_URL', server.url);
    await expect(auth.signIn('a@b.it', 'nope')).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    await expect(auth.signIn('a@b.it', 'nope')).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
  });
});
