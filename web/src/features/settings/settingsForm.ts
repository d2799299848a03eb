// The alert settings form: thresholds shown as percentages, quiet hours as HH:MM, only changes sent.
import type { FarmSettings, FarmSettingsUpdate } from '../../api/types';

export interface SettingsForm {
  alertThreshold: string;
  criticalThreshold: string;
  quietStart: string;
  quietEnd: string;
  staleAfterMinutes: string;
}

const percent = (value: number | null): string => (value === null ? '' : String(Math.round(value * 100)));
const hhmm = (value: string | null): string => (value === null ? '' : value.slice(0, 5));

export function formFromSettings(settings: FarmSettings): SettingsForm {
  return {
    alertThreshold: percent(settings.alert_threshold),
    criticalThreshold: percent(settings.critical_threshold),
    quietStart: hhmm(settings.quiet_hours_start),
    quietEnd: hhmm(settings.quiet_hours_end),
    staleAfterMinutes: String(settings.stale_after_minutes),
  };
}

export type FormError = 'threshold' | 'critical' | 'quietHours' | 'stale';

function parseThreshold(text: string): number | null | 'invalid' {
  if (text.trim() === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value >= 100) return 'invalid';
  return value / 100;
}

/** The PATCH body with the fields that changed, or the first field that is wrong. */
export function settingsUpdate(
  settings: FarmSettings,
  form: SettingsForm,
): { update: FarmSettingsUpdate } | { error: FormError } {
  const alert = parseThreshold(form.alertThreshold);
  if (alert === 'invalid') return { error: 'threshold' };
  const critical = parseThreshold(form.criticalThreshold);
  if (critical === 'invalid') return { error: 'critical' };
  if (alert !== null && critical !== null && critical < alert) return { error: 'critical' };
  if ((form.quietStart === '') !== (form.quietEnd === '')) return { error: 'quietHours' };
  const stale = Number(form.staleAfterMinutes);
  if (!Number.isInteger(stale) || stale <= 0 || stale > 10_080) return { error: 'stale' };

  const update: FarmSettingsUpdate = {};
  const before = formFromSettings(settings);
  if (form.alertThreshold !== before.alertThreshold) update.alert_threshold = alert;
  if (form.criticalThreshold !== before.criticalThreshold) update.critical_threshold = critical;
  if (form.quietStart !== before.quietStart || form.quietEnd !== before.quietEnd) {
    update.quiet_hours_start = form.quietStart === '' ? null : `${form.quietStart}:00`;
    update.quiet_hours_end = form.quietEnd === '' ? null : `${form.quietEnd}:00`;
  }
  if (stale !== settings.stale_after_minutes) update.stale_after_minutes = stale;
  return { update };
}
