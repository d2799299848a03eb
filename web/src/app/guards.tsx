// Route guards: signed in, and a farm the user belongs to.
import { useQueryClient } from '@tanstack/react-query';
import { Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Outlet, useLocation, useNavigate, useParams } from 'react-router';

import { useMe } from '../api/queries';
import { auth } from '../api/session';
import { AppShell } from '../components/AppShell';
import { LanguageSwitcher } from '../components/LanguageSwitcher';
import { EmptyState, ErrorState, Loading } from '../components/StateViews';
import { useSignedIn } from '../lib/auth';
import { FarmContext } from '../lib/farm';

export function RequireAuth() {
  const signedIn = useSignedIn();
  const location = useLocation();
  if (signedIn === null) return <Loading />;
  if (!signedIn) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}

function useSignOut(): () => void {
  const client = useQueryClient();
  const navigate = useNavigate();
  return () => {
    void auth.signOut().then(() => {
      client.clear();
      void navigate('/login', { replace: true });
    });
  };
}

/** A page outside any farm (no farm yet, unknown farm) with a way out. */
function Bare({ children }: { children: React.ReactNode }) {
  const { t } = useTranslation();
  const signOut = useSignOut();
  return (
    <main id="main" className="content bare">
      <div className="bare-top">
        <LanguageSwitcher />
        <button type="button" className="button button-quiet" onClick={signOut}>
          {t('nav.signOut')}
        </button>
      </div>
      {children}
    </main>
  );
}

export function HomeRedirect() {
  const { t } = useTranslation();
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError)
    return (
      <Bare>
        <ErrorState error={me.error} onRetry={() => void me.refetch()} />
      </Bare>
    );
  const first = me.data.farms[0];
  if (!first)
    return (
      <Bare>
        <EmptyState title={t('home.noFarmTitle')}>
          <p>{t('home.noFarmBody')}</p>
        </EmptyState>
      </Bare>
    );
  return <Navigate to={`/farms/${first.farm_id}`} replace />;
}

export function FarmRoute() {
  const { t } = useTranslation();
  const { farmId = '' } = useParams();
  const me = useMe();
  const signOut = useSignOut();
  if (me.isPending) return <Loading />;
  if (me.isError)
    return (
      <Bare>
        <ErrorState error={me.error} onRetry={() => void me.refetch()} />
      </Bare>
    );
  const farm = me.data.farms.find((f) => f.farm_id === farmId);
  if (!farm)
    return (
      <Bare>
        <EmptyState title={t('state.notFoundTitle')}>
          <p>{t('home.farmNotFound')}</p>
          <a href="/">{t('home.goHome')}</a>
        </EmptyState>
      </Bare>
    );
  return (
    <FarmContext.Provider value={{ farm, me: me.data }}>
      <AppShell farms={me.data.farms} farm={farm} email={me.data.user.email} onSignOut={signOut}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </AppShell>
    </FarmContext.Provider>
  );
}

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <Bare>
      <EmptyState title={t('state.notFoundTitle')}>
        <a href="/">{t('home.goHome')}</a>
      </EmptyState>
    </Bare>
  );
}
