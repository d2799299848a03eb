// The diagnosis names that count as clinical mastitis: DelPro's diagnoses are the farm's own free
// text, so the owner says which of them mean mastitis. Everyone else reads the list.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';

import { queryKeys, updateSettings } from '../../api/endpoints';
import type { FarmSettings } from '../../api/types';
import {
  addPattern,
  DEFAULT_PATTERNS,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  MIN_PATTERN_LENGTH,
  samePatterns,
  validatePatterns,
  type PatternError,
} from './mastitisPatterns';

export function MastitisNames({
  settings,
  patterns: saved,
  editable,
}: {
  settings: FarmSettings;
  patterns: string[];
  editable: boolean;
}) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const farmId = settings.farm_id;
  const [patterns, setPatterns] = useState<string[]>(saved);
  const [draft, setDraft] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const explain = (error: PatternError): string =>
    t(`settings.mastitis.errors.${error.code}`, {
      name: 'name' in error ? error.name : '',
      min: MIN_PATTERN_LENGTH,
      max: error.code === 'tooMany' ? MAX_PATTERNS : MAX_PATTERN_LENGTH,
    });
  const save = useMutation({
    mutationFn: (list: string[]) => updateSettings(farmId, { mastitis_patterns: list }),
    onSuccess: (fresh) => {
      client.setQueryData(queryKeys.settings(farmId), fresh);
      setPatterns(fresh.mastitis_patterns ?? []);
      setMessage({ ok: true, text: t('settings.saved') });
      // Which treatments are cases depends on these names.
      return client.invalidateQueries({ queryKey: queryKeys.accuracy(farmId) });
    },
    onError: (error) => setMessage({ ok: false, text: error.message }),
  });
  const changed = !samePatterns(patterns, saved);

  const add = (event: FormEvent): void => {
    event.preventDefault();
    const result = addPattern(patterns, draft);
    if ('error' in result) {
      setMessage({ ok: false, text: explain(result.error) });
      return;
    }
    setPatterns(result.patterns);
    setDraft('');
    setMessage(null);
  };
  const submit = (): void => {
    const error = validatePatterns(patterns);
    if (error) {
      setMessage({ ok: false, text: explain(error) });
      return;
    }
    if (!changed) {
      setMessage({ ok: true, text: t('settings.nothingChanged') });
      return;
    }
    save.mutate(patterns);
  };

  return (
    <section className="panel" id="mastitis-names" aria-labelledby="mastitis-heading">
      <h2 id="mastitis-heading">{t('settings.mastitis.heading')}</h2>
      <p className="muted">{t('settings.mastitis.hint')}</p>
      <ul className="chips" aria-label={t('settings.mastitis.listLabel')} data-testid="mastitis-names">
        {patterns.map((name) => (
          <li key={name} className="chip">
            <span>{name}</span>
            {editable && (
              <button
                type="button"
                className="chip-remove"
                aria-label={t('settings.mastitis.remove', { name })}
                onClick={() => {
                  setPatterns(patterns.filter((p) => p !== name));
                  setMessage(null);
                }}
              >
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {patterns.length === 0 && <p className="muted">{t('settings.mastitis.emptyList')}</p>}
      {editable && (
        <>
          <form className="form-grid" onSubmit={add}>
            <label className="field">
              <span>{t('settings.mastitis.newName')}</span>
              <input
                value={draft}
                maxLength={MAX_PATTERN_LENGTH}
                placeholder={t('settings.mastitis.placeholder')}
                autoComplete="off"
                onChange={(e) => setDraft(e.target.value)}
              />
            </label>
            <div className="form-actions">
              <button type="submit" className="button">
                {t('settings.mastitis.add')}
              </button>
            </div>
          </form>
          <div className="button-row form-footer">
            <button type="button" className="button button-primary" disabled={save.isPending} onClick={submit}>
              {t('settings.mastitis.save')}
            </button>
            <button
              type="button"
              className="button button-quiet"
              onClick={() => {
                setPatterns([...DEFAULT_PATTERNS]);
                setMessage(null);
              }}
            >
              {t('settings.mastitis.restore')}
            </button>
            {changed && <span className="muted">{t('settings.mastitis.unsaved')}</span>}
          </div>
        </>
      )}
      {message && (
        <p className={message.ok ? 'form-ok' : 'form-error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
    </section>
  );
}
