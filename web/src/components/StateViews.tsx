// Loading, empty and error states: every page shows one of these instead of a blank screen.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

import { ApiError } from '../api/errors';

export function Loading({ label }: { label?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label ?? t('state.loading')}</span>
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <section className="state state-empty">
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** What went wrong, in words a farmer can act on, with a retry when retrying can help. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  let title = t('state.errorTitle');
  let body = t('state.errorBody');
  // Retrying cannot turn a "not found" or "not allowed" into something else.
  const final = error instanceof ApiError && (error.status === 404 || error.status === 403);
  if (error instanceof ApiError) {
    if (error.unreachable) {
      title = t('state.unreachableTitle');
      body = t('state.unreachableBody');
    } else if (error.status === 404) {
      title = t('state.notFoundTitle');
      body = t('state.notFoundBody');
    } else if (error.status === 403) {
      title = t('state.forbiddenTitle');
      body = t('state.forbiddenBody');
    } else if (error.message) {
      body = error.message;
    }
  }
  return (
    <section className="state state-error" role="alert">
      <h2>{title}</h2>
      <p>{body}</p>
      {onRetry && !final && (
        <button type="button" className="button" onClick={onRetry}>
          {t('state.retry')}
        </button>
      )}
    </section>
  );
}
