// Supabase mode with the real supabase-js against a small local stand-in for Supabase Auth
// (we cannot reach the real service from tests).
import { fakeToken, startServer, type TestServer } from '../test/httpServer';
import { ApiError } from './errors';
import { SupabaseAuth } from './session';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const now = () => Math.floor(Date.now() / 1000);

function session(n: number) {
  const exp = now() + 3600;
  return {
    access_token: fakeToken(exp + n),
    token_type: 'bearer',
    expires_in: 3600,
    expires_at: exp,
    refresh_token: `refresh-${n}`,
    user: { id: '00000000-0000-0000-0000-000000000007', aud: 'authenticated', role: 'authenticated', email: 'vet@example.it', app_metadata: {}, user_metadata: {}, created_at: '2026-01-01T00:00:00Z' },
  };
}

describe('Supabase sign-in', () => {
  it('signs in with supabase-js, hands its token to the API client, refreshes and signs out', async () => {
    let issued = 0;
    server = await startServer((req) => {
      if (req.path === '/auth/v1/token?grant_type=password') {
        const body = req.body as { email: string; password: string };
        if (body.password !== 'right') return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid login credentials' } };
        issued += 1;
        return { body: session(issued) };
      }
      if (req.path === '/auth/v1/token?grant_type=refresh_token') {
        expect(req.body).toEqual({ refresh_token: `refresh-${issued}` });
        issued += 1;
        return { body: session(issued) };
      }
      if (req.path.startsWith('/auth/v1/logout')) return { status: 204 };
      return { status: 404, body: {} };
    });
    const auth = new SupabaseAuth(server.url, 'anon-key');

    await expect(auth.signIn('vet@example.it', 'wrong')).rejects.toBeInstanceOf(ApiError);
    expect(await auth.isSignedIn()).toBe(false);

    await auth.signIn('vet@example.it', 'right');
    expect(await auth.isSignedIn()).toBe(true);
    expect(await auth.accessToken()).toBe(session(1).access_token);
    const login = server.requests.find((r) => r.path === '/auth/v1/token?grant_type=password' && (r.body as { password: string }).password === 'right');
    expect(login?.headers.apikey).toBe('anon-key');

    expect(await auth.accessToken(true)).toBe(session(2).access_token);

    await auth.signOut();
    expect(await auth.isSignedIn()).toBe(false);
    expect(await auth.accessToken()).toBeNull();
  });
});
