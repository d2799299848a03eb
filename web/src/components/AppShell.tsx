// The frame of every signed-in page: brand, farm switcher, navigation, language, sign out.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink, useNavigate } from 'react-router';

import type { FarmAccess } from '../api/types';
import { LanguageSwitcher } from './LanguageSwitcher';

export function AppShell({
  farms,
  farm,
  email,
  onSignOut,
  children,
}: {
  farms: FarmAccess[];
  farm: FarmAccess;
  email: string | null;
  onSignOut: () => void;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const base = `/farms/${farm.farm_id}`;
  const links = [
    { to: base, label: t('nav.overview'), end: true },
    { to: `${base}/cows`, label: t('nav.herd'), end: false },
    { to: `${base}/alerts`, label: t('nav.alerts'), end: false },
    { to: `${base}/accuracy`, label: t('nav.accuracy'), end: false },
    { to: `${base}/settings`, label: t('nav.settings'), end: false },
  ];
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('nav.skip')}
      </a>
      <header className="topbar">
        <div className="brand" aria-label="Pecus">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          <span>Pecus</span>
        </div>
        {farms.length > 1 ? (
          <label className="select-inline farm-switcher">
            <span className="visually-hidden">{t('nav.farm')}</span>
            <select
              value={farm.farm_id}
              onChange={(event) => void navigate(`/farms/${event.target.value}`)}
              data-testid="farm-switcher"
            >
              {farms.map((f) => (
                <option key={f.farm_id} value={f.farm_id}>
                  {f.name}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span className="farm-name">{farm.name}</span>
        )}
        <div className="topbar-end">
          <LanguageSwitcher />
          <button type="button" className="button button-quiet" onClick={onSignOut} title={email ?? undefined}>
            {t('nav.signOut')}
          </button>
        </div>
      </header>
      <nav className="tabs" aria-label={t('nav.main')}>
        {links.map((link) => (
          <NavLink key={link.to} to={link.to} end={link.end} className="tab">
            {link.label}
          </NavLink>
        ))}
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
