import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';

import { queryKeys, updateSettings } from '../../api/endpoints';
import type { FarmSettings } from '../../api/types';
import { formFromSettings, settingsUpdate, type SettingsForm } from './settingsForm';

export function AlertSettings({ settings, editable }: { settings: FarmSettings; editable: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [form, setForm] = useState<SettingsForm>(() => formFromSettings(settings));
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const save = useMutation({
    mutationFn: (update: Parameters<typeof updateSettings>[1]) => updateSettings(settings.farm_id, update),
    onSuccess: (saved) => {
      client.setQueryData(queryKeys.settings(settings.farm_id), saved);
      setForm(formFromSettings(saved));
      setMessage({ ok: true, text: t('settings.saved') });
    },
    onError: (error) => setMessage({ ok: false, text: error.message }),
  });

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const result = settingsUpdate(settings, form);
    if ('error' in result) {
      setMessage({ ok: false, text: t(`settings.errors.${result.error}`) });
      return;
    }
    if (Object.keys(result.update).length === 0) {
      setMessage({ ok: true, text: t('settings.nothingChanged') });
      return;
    }
    save.mutate(result.update);
  };

  const field = (key: keyof SettingsForm, label: string, props: Record<string, unknown>, hint?: string) => (
    <label className="field">
      <span>{label}</span>
      <input
        {...props}
        value={form[key]}
        disabled={!editable}
        onChange={(event) => setForm({ ...form, [key]: event.target.value })}
      />
      {hint && <small className="muted">{hint}</small>}
    </label>
  );

  return (
    <section className="panel" aria-labelledby="alert-settings-heading">
      <h2 id="alert-settings-heading">{t('settings.alertsHeading')}</h2>
      <form className="form-grid" onSubmit={submit}>
        {field('alertThreshold', t('settings.threshold'), { type: 'number', min: 1, max: 99, inputMode: 'numeric' }, t('settings.thresholdHint'))}
        {field('criticalThreshold', t('settings.critical'), { type: 'number', min: 1, max: 99, inputMode: 'numeric' })}
        {field('quietStart', t('settings.quietStart'), { type: 'time' }, t('settings.quietHint', { zone: settings.time_zone }))}
        {field('quietEnd', t('settings.quietEnd'), { type: 'time' })}
        {field('staleAfterMinutes', t('settings.stale'), { type: 'number', min: 1, max: 10080, inputMode: 'numeric' })}
        {editable && (
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={save.isPending}>
              {t('settings.save')}
            </button>
          </div>
        )}
        {message && (
          <p className={message.ok ? 'form-ok' : 'form-error'} role={message.ok ? 'status' : 'alert'}>
            {message.text}
          </p>
        )}
      </form>
    </section>
  );
}
