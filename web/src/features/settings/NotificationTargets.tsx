import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';

import { addNotificationTarget, queryKeys, removeNotificationTarget, testNotificationTarget } from '../../api/endpoints';
import type { FarmSettings } from '../../api/types';

/** Where alerts are sent (apprise URLs); the server only ever returns them masked. */
export function NotificationTargets({ settings, editable }: { settings: FarmSettings; editable: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const farmId = settings.farm_id;
  const [label, setLabel] = useState('');
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: queryKeys.settings(farmId) });
  const add = useMutation({
    mutationFn: () => addNotificationTarget(farmId, { label, url }),
    onSuccess: () => {
      setLabel('');
      setUrl('');
      setError(null);
      return refresh();
    },
    onError: (e) => setError(e.message),
  });
  const [tested, setTested] = useState<Record<number, { ok: boolean; text: string }>>({});
  const test = useMutation({
    mutationFn: (targetId: number) => testNotificationTarget(farmId, targetId),
    onSuccess: (result, targetId) =>
      setTested((all) => ({
        ...all,
        [targetId]: result.ok
          ? { ok: true, text: t('settings.testSent') }
          : { ok: false, text: t('settings.testFailed', { error: result.error ?? '' }) },
      })),
    onError: (e, targetId) => setTested((all) => ({ ...all, [targetId]: { ok: false, text: e.message } })),
  });
  const remove = useMutation({
    mutationFn: (targetId: number) => removeNotificationTarget(farmId, targetId),
    onSuccess: refresh,
    onError: (e) => setError(e.message),
  });

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    add.mutate();
  };

  return (
    <section className="panel" aria-labelledby="targets-heading">
      <h2 id="targets-heading">{t('settings.targetsHeading')}</h2>
      {settings.notification_targets.length === 0 ? (
        <p className="muted">{t('settings.noTargets')}</p>
      ) : (
        <ul className="plain-list">
          {settings.notification_targets.map((target) => (
            <li key={target.target_id} className="list-row">
              <div>
                <strong>{target.label || target.scheme}</strong>
                <div className="muted small mono">{target.masked_url}</div>
                {tested[target.target_id] && (
                  <div
                    className={tested[target.target_id]?.ok ? 'form-ok' : 'form-error'}
                    role={tested[target.target_id]?.ok ? 'status' : 'alert'}
                  >
                    {tested[target.target_id]?.text}
                  </div>
                )}
              </div>
              {editable && (
                <div className="button-row">
                  <button
                    type="button"
                    className="button"
                    disabled={test.isPending && test.variables === target.target_id}
                    onClick={() => test.mutate(target.target_id)}
                    aria-label={t('settings.testTarget', { label: target.label || target.scheme })}
                  >
                    {t('settings.test')}
                  </button>
                  <button
                    type="button"
                    className="button button-danger"
                    onClick={() => remove.mutate(target.target_id)}
                    aria-label={t('settings.removeTarget', { label: target.label || target.scheme })}
                  >
                    {t('settings.remove')}
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {editable && (
        <form className="form-grid" onSubmit={submit}>
          <label className="field">
            <span>{t('settings.targetLabel')}</span>
            <input value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)} />
          </label>
          <label className="field field-wide">
            <span>{t('settings.targetUrl')}</span>
            <input
              value={url}
              required
              minLength={4}
              placeholder="tgram://bottoken/ChatID"
              autoComplete="off"
              onChange={(e) => setUrl(e.target.value)}
            />
            <small className="muted">{t('settings.targetHint')}</small>
          </label>
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={add.isPending}>
              {t('settings.addTarget')}
            </button>
          </div>
        </form>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
