import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { vi } from 'vitest';

import { SESSION_KEY } from '../../api/session';
import { fakeToken, startServer, type TestServer } from '../../test/httpServer';
import { safeNext, SignInPage } from './SignInPage';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/login" element={<SignInPage />} />
        <Route path="/farms/:id/cows" element={<p>herd page</p>} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('sign-in page', () => {
  it('says the password is wrong and stays on the page', async () => {
    server = await startServer(() => ({ status: 401, body: { error: { code: 'invalid_credentials', message: 'x' } } }));
    vi.stubEnv('VITE_API_URL', server.url);
    renderAt('/login');
    await userEvent.type(screen.getByLabelText('E-mail'), 'anna@example.it');
    await userEvent.type(screen.getByLabelText('Password'), 'wrong');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('signin-error')).toHaveTextContent('Wrong e-mail or password.');
    expect(server.requests[0]?.body).toEqual({ email: 'anna@example.it', password: 'wrong' });
  });

  it('goes where the user was headed after signing in', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    server = await startServer(() => ({
      body: { access_token: fakeToken(exp), refresh_token: 'r', token_type: 'bearer', expires_in: 3600, expires_at: exp, user: { id: 'u', email: null } },
    }));
    vi.stubEnv('VITE_API_URL', server.url);
    renderAt('/login?next=%2Ffarms%2Fabc%2Fcows');
    await userEvent.type(screen.getByLabelText('E-mail'), 'anna@example.it');
    await userEvent.type(screen.getByLabelText('Password'), 'right');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('herd page')).toBeInTheDocument();
    expect(localStorage.getItem(SESSION_KEY)).not.toBeNull();
  });

  it('never redirects outside the app', () => {
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('/farms/1')).toBe('/farms/1');
  });
});
