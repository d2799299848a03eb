import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';

import { createAgentKey, getAgentKeys, queryKeys, revokeAgentKey } from '../../api/endpoints';
import type { AgentKeyCreated } from '../../api/types';
import { ErrorState, Loading } from '../../components/StateViews';
import { formatAgo, formatDateTime } from '../../lib/time';

/** Agent keys: a new key's secret is shown once, here, with a copy button; never again. */
export function AgentKeys({ farmId, timeZone }: { farmId: string; timeZone: string }) {
  const { t, i18n } = useTranslation();
  const client = useQueryClient();
  const keys = useQuery({ queryKey: queryKeys.agentKeys(farmId), queryFn: ({ signal }) => getAgentKeys(farmId, signal) });
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<AgentKeyCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: queryKeys.agentKeys(farmId) });
  const create = useMutation({
    mutationFn: () => createAgentKey(farmId, label),
    onSuccess: (key) => {
      setCreated(key);
      setCopied(false);
      setLabel('');
      setError(null);
      return refresh();
    },
    onError: (e) => setError(e.message),
  });
  const revoke = useMutation({
    mutationFn: (keyId: string) => revokeAgentKey(farmId, keyId),
    onSuccess: refresh,
    onError: (e) => setError(e.message),
  });
  const lang = i18n.language;

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    create.mutate();
  };
  const copy = async (secret: string): Promise<void> => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch {
      setCopied(false);
      setError(t('settings.copyFailed'));
    }
  };

  return (
    <section className="panel" id="agent-keys" aria-labelledby="keys-heading">
      <h2 id="keys-heading">{t('settings.keysHeading')}</h2>
      <p className="muted">{t('settings.keysHint')}</p>
      {created && (
        <div className="banner banner-info" role="status" data-testid="new-key">
          <p>
            <strong>{t('settings.keyShownOnce')}</strong>
          </p>
          <code className="secret">{created.secret}</code>
          <div className="button-row">
            <button type="button" className="button button-primary" onClick={() => void copy(created.secret)}>
              {copied ? t('settings.copied') : t('settings.copy')}
            </button>
            <button type="button" className="button" onClick={() => setCreated(null)}>
              {t('settings.done')}
            </button>
          </div>
        </div>
      )}
      {keys.isPending ? (
        <Loading />
      ) : keys.isError ? (
        <ErrorState error={keys.error} onRetry={() => void keys.refetch()} />
      ) : keys.data.length === 0 ? (
        <p className="muted">{t('settings.noKeys')}</p>
      ) : (
        <ul className="plain-list">
          {keys.data.map((key) => (
            <li key={key.key_id} className={`list-row${key.revoked_at ? ' revoked' : ''}`}>
              <div>
                <strong>{key.label || t('settings.unnamedKey')}</strong> <span className="mono">{key.key_prefix}…</span>
                <div className="muted small">
                  {t('settings.createdAt', { time: formatDateTime(key.created_at, timeZone, lang) })} ·{' '}
                  {key.last_used_at
                    ? t('settings.lastUsed', { ago: formatAgo(key.last_used_at, lang) })
                    : t('settings.neverUsed')}
                  {key.revoked_at && ` · ${t('settings.revokedAt', { time: formatDateTime(key.revoked_at, timeZone, lang) })}`}
                </div>
              </div>
              {!key.revoked_at && (
                <button
                  type="button"
                  className="button button-danger"
                  onClick={() => {
                    if (window.confirm(t('settings.confirmRevoke'))) revoke.mutate(key.key_id);
                  }}
                >
                  {t('settings.revoke')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form className="form-grid" onSubmit={submit}>
        <label className="field">
          <span>{t('settings.keyLabel')}</span>
          <input value={label} maxLength={100} placeholder={t('settings.keyLabelPlaceholder')} onChange={(e) => setLabel(e.target.value)} />
        </label>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {t('settings.createKey')}
          </button>
        </div>
      </form>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
