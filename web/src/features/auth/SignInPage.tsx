// Sign in: the API's own login in local mode, Supabase Auth in supabase mode (build-time choice).
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useNavigate, useSearchParams } from 'react-router';

import { ApiError } from '../../api/errors';
import { auth } from '../../api/session';
import { LanguageSwitcher } from '../../components/LanguageSwitcher';
import { PageHeader } from '../../components/PageHeader';
import { useSignedIn } from '../../lib/auth';

/** Where to go after signing in: only paths inside this app (no open redirect). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function signInErrorKey(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.unreachable) return 'signIn.unreachable';
    if (error.status === 401 || error.status === 400) return 'signIn.wrong';
    if (error.status === 429) return 'signIn.tooMany';
  }
  return 'signIn.failed';
}

export function SignInPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const signedIn = useSignedIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const next = safeNext(params.get('next'));

  if (signedIn === true && !busy) return <Navigate to={next} replace />;

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.signIn(email.trim(), password);
      void navigate(next, { replace: true });
    } catch (e) {
      setError(t(signInErrorKey(e)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin">
      <main id="main" className="signin-card">
        <div className="signin-top">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>
            <span>Pecus</span>
          </div>
          <LanguageSwitcher />
        </div>
        <PageHeader title={t('signIn.title')} />
        <p className="muted">{t('signIn.subtitle')}</p>
        <form onSubmit={(event) => void submit(event)} className="stack">
          <label className="field">
            <span>{t('signIn.email')}</span>
            <input
              type="email"
              name="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </label>
          <label className="field">
            <span>{t('signIn.password')}</span>
            <input
              type="password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          {error && (
            <p className="form-error" role="alert" data-testid="signin-error">
              {error}
            </p>
          )}
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy ? t('signIn.busy') : t('signIn.submit')}
          </button>
        </form>
      </main>
    </div>
  );
}

export default SignInPage;
