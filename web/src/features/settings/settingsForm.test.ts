import type { FarmSettings } from '../../api/types';
import { formFromSettings, settingsUpdate } from './settingsForm';

const SETTINGS: FarmSettings = {
  farm_id: 'f',
  name: 'Cascina',
  time_zone: 'Europe/Rome',
  alert_threshold: 0.6,
  critical_threshold: 0.85,
  quiet_hours_start: '22:00:00',
  quiet_hours_end: '05:30:00',
  stale_after_minutes: 360,
  notification_targets: [],
  mastitis_patterns: ['mastitis', 'mastite'],
};

describe('alert settings form', () => {
  it('shows thresholds as percentages and quiet hours as HH:MM', () => {
    expect(formFromSettings(SETTINGS)).toEqual({
      alertThreshold: '60',
      criticalThreshold: '85',
      quietStart: '22:00',
      quietEnd: '05:30',
      staleAfterMinutes: '360',
    });
  });

  it('sends only what changed', () => {
    const form = { ...formFromSettings(SETTINGS), alertThreshold: '55' };
    expect(settingsUpdate(SETTINGS, form)).toEqual({ update: { alert_threshold: 0.55 } });
    expect(settingsUpdate(SETTINGS, formFromSettings(SETTINGS))).toEqual({ update: {} });
  });

  it('clears a threshold and the quiet hours with null', () => {
    const form = { ...formFromSettings(SETTINGS), alertThreshold: '', quietStart: '', quietEnd: '' };
    expect(settingsUpdate(SETTINGS, form)).toEqual({
      update: { alert_threshold: null, quiet_hours_start: null, quiet_hours_end: null },
    });
  });

  it('names the wrong field', () => {
    const base = formFromSettings(SETTINGS);
    expect(settingsUpdate(SETTINGS, { ...base, alertThreshold: '100' })).toEqual({ error: 'threshold' });
    expect(settingsUpdate(SETTINGS, { ...base, criticalThreshold: '40' })).toEqual({ error: 'critical' });
    expect(settingsUpdate(SETTINGS, { ...base, quietEnd: '' })).toEqual({ error: 'quietHours' });
    expect(settingsUpdate(SETTINGS, { ...base, staleAfterMinutes: '1.5' })).toEqual({ error: 'stale' });
  });
});
