import type { Alert, CowDay, CowSeries, DetectorAccuracy, FieldAccuracy, HerdDay, SessionPoint } from '../api/types';

export function day(d: string, over: Partial<CowDay> = {}): CowDay {
  return {
    day: d,
    milkings: 3,
    yield_kg: 30,
    conductivity_avg: 5,
    conductivity_lf: 5,
    conductivity_rf: 5.1,
    conductivity_lr: null,
    conductivity_rr: 4.9,
    blood_avg: 10,
    flow_avg: 2.5,
    risk_score_max: 0.1,
    ...over,
  };
}

export function herdDay(d: string, over: Partial<HerdDay> = {}): HerdDay {
  return {
    day: d,
    milkings: 2.8,
    yield_kg: 28,
    conductivity_avg: 4.8,
    conductivity_lf: 4.8,
    conductivity_rf: 4.8,
    conductivity_lr: 4.8,
    conductivity_rr: 4.8,
    blood_avg: 8,
    flow_avg: 2.4,
    cows: 120,
    ...over,
  };
}

export function session(startedAt: string, over: Partial<SessionPoint> = {}): SessionPoint {
  return {
    source_id: 1,
    transaction_id: Date.parse(startedAt) / 1000,
    started_at: startedAt,
    ended_at: startedAt,
    unit: 'VMS1',
    yield_kg: 10,
    expected_yield_kg: 10,
    conductivity_avg: 5,
    conductivity_max: 5.5,
    conductivity_lf: 5,
    conductivity_rf: 5,
    conductivity_lr: 5,
    conductivity_rr: 5,
    yield_lf: 2.5,
    yield_rf: 2.5,
    yield_lr: 2.5,
    yield_rr: 2.5,
    blood_avg: 10,
    blood_max: 20,
    flow_avg: 2.5,
    flow_peak: 3.5,
    duration_s: 400,
    cell_count: 100,
    mdi: 1,
    incomplete: false,
    kickoff: false,
    lactation_number: 2,
    days_in_milk: 120,
    risk_score: 0.2,
    ...over,
  };
}

export function series(over: Partial<CowSeries> = {}): CowSeries {
  return {
    farm_id: '11111111-1111-1111-1111-111111111111',
    animal_id: '1042',
    time_zone: 'Europe/Rome',
    days: 7,
    from_day: '2026-03-25',
    to_day: '2026-03-31',
    cow: {
      animal_id: '1042',
      unit: 'VMS1',
      lactation_number: 2,
      days_in_milk: 120,
      last_session_at: '2026-03-31T04:00:00Z',
      last_yield_kg: 10,
      last_conductivity_avg: 5,
      yield_24h_kg: 30,
      milkings_24h: 3,
      risk_score: 0.2,
      open_alert: null,
    },
    sessions: [],
    cow_days: [],
    herd_days: [],
    alerts: [],
    ...over,
  };
}

export function alert(id: number, over: Partial<Alert> = {}): Alert {
  return {
    alert_id: id,
    kind: 'mastitis',
    animal_id: String(1000 + id),
    unit: 'VMS1',
    risk_score: 0.85,
    level: 'warning',
    status: 'new',
    reasons: [{ signal: 'conductivity_lf', value: 6.2, baseline: 5.1 }],
    note: null,
    created_at: '2026-03-31T03:10:00Z',
    ...over,
  };
}

export function detector(name: DetectorAccuracy['detector'], over: Partial<DetectorAccuracy> = {}): DetectorAccuracy {
  return {
    detector: name,
    available: true,
    cases: 0,
    cases_warned: 0,
    sensitivity: null,
    lead_hours_median: null,
    warned_24h: 0,
    alerts: 0,
    alerts_without_case: 0,
    confirmed_false: 0,
    false_alerts_per_1000_milkings: null,
    ...over,
  };
}

/** A field accuracy report with no treatments (the API's answer before DelPro sent any). */
export function fieldAccuracy(over: Partial<FieldAccuracy> = {}): FieldAccuracy {
  return {
    farm_id: '11111111-1111-1111-1111-111111111111',
    time_zone: 'Europe/Rome',
    from_day: '2026-01-01',
    to_day: '2026-03-31',
    milkings: 0,
    healthy_milkings: 0,
    patterns: ['mastitis', 'mastite', 'euterentzündung', 'uierontsteking', 'mammite'],
    treatments: 0,
    diagnoses: [],
    cases: [],
    detectors: [detector('model'), detector('rules'), detector('mdi', { available: false })],
    ...over,
  };
}
