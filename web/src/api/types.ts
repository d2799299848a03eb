// TypeScript mirror of the API's response models (src/pecus/cloud/schemas/, docs/api.md).
// Times are UTC ISO-8601 strings; `day` fields are local dates (YYYY-MM-DD) in the farm's zone.

export type Role = 'owner' | 'farmer' | 'vet' | 'viewer';
export type AlertLevel = 'warning' | 'critical';
export type AlertStatus = 'new' | 'acknowledged' | 'false_positive' | 'resolved';
export const OPEN_STATUSES: readonly AlertStatus[] = ['new', 'acknowledged'];

// auth.py ---------------------------------------------------------------------------------------
export interface AuthConfig {
  mode: 'local' | 'supabase';
  supabase_url: string | null;
}

export interface AuthUser {
  id: string;
  email: string | null;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: AuthUser;
}

export interface FarmAccess {
  farm_id: string;
  name: string;
  time_zone: string;
  role: Role;
}

export interface Me {
  user: AuthUser;
  farms: FarmAccess[];
}

// dashboard.py ----------------------------------------------------------------------------------
/** What moved, as written by the AI engine (e.g. signal, change_pct, baseline, value). */
export type AlertReason = Record<string, unknown>;

export interface OpenAlert {
  alert_id: number;
  level: AlertLevel;
  risk_score: number | null;
  status: AlertStatus;
  created_at: string;
  reasons: AlertReason[];
}

export interface AtRiskCow {
  animal_id: string;
  unit: string | null;
  alert: OpenAlert;
}

export interface AlertCounts {
  warning: number;
  critical: number;
}

export interface LastSync {
  started_at: string;
  finished_at: string | null;
  result: 'ok' | 'rejected' | 'error';
  rows_received: number;
  rows_inserted: number;
  error: string | null;
  agent_version: string | null;
  agent_host: string | null;
}

export interface SourceFreshness {
  source_id: number;
  name: string;
  last_ingest_at: string | null;
  last_sync: LastSync | null;
  stale: boolean;
}

export interface UnitFreshness {
  unit: string;
  source_id: number;
  last_session_at: string | null;
  minutes_since_last_session: number | null;
  stale: boolean;
}

export interface FarmOverview {
  farm_id: string;
  name: string;
  time_zone: string;
  generated_at: string;
  cows_milked_24h: number;
  cows_at_risk: number;
  open_alerts: AlertCounts;
  at_risk: AtRiskCow[];
  new_alerts_24h: number;
  yield_today_kg: number;
  yield_24h_kg: number;
  yield_7d_avg_kg: number | null;
  conductivity_avg_24h: number | null;
  conductivity_avg_7d: number | null;
  stale_after_minutes: number;
  units: UnitFreshness[];
  sources: SourceFreshness[];
}

export interface CowSummary {
  animal_id: string;
  unit: string | null;
  lactation_number: number | null;
  days_in_milk: number | null;
  last_session_at: string | null;
  last_yield_kg: number | null;
  last_conductivity_avg: number | null;
  yield_24h_kg: number;
  milkings_24h: number;
  risk_score: number | null;
  open_alert: OpenAlert | null;
}

export type CowSort = 'animal' | 'risk' | 'yield_24h' | 'last_session' | 'conductivity';

export interface CowPage {
  items: CowSummary[];
  total: number;
  limit: number;
  offset: number;
}

export interface CowQuery {
  sort?: CowSort;
  order?: 'asc' | 'desc';
  at_risk?: boolean;
  unit?: string;
  lactation?: number;
  q?: string;
  limit?: number;
  offset?: number;
}

export interface SessionPoint {
  source_id: number;
  transaction_id: number;
  started_at: string;
  ended_at: string;
  unit: string;
  yield_kg: number;
  expected_yield_kg: number | null;
  conductivity_avg: number | null;
  conductivity_max: number | null;
  conductivity_lf: number | null;
  conductivity_rf: number | null;
  conductivity_lr: number | null;
  conductivity_rr: number | null;
  yield_lf: number | null;
  yield_rf: number | null;
  yield_lr: number | null;
  yield_rr: number | null;
  blood_avg: number | null;
  blood_max: number | null;
  flow_avg: number | null;
  flow_peak: number | null;
  duration_s: number | null;
  cell_count: number | null;
  mdi: number | null;
  incomplete: boolean | null;
  kickoff: boolean | null;
  lactation_number: number | null;
  days_in_milk: number | null;
  risk_score: number | null;
}

export interface DayMetrics {
  day: string;
  milkings: number;
  yield_kg: number;
  conductivity_avg: number | null;
  conductivity_lf: number | null;
  conductivity_rf: number | null;
  conductivity_lr: number | null;
  conductivity_rr: number | null;
  blood_avg: number | null;
  flow_avg: number | null;
}

export interface CowDay extends DayMetrics {
  risk_score_max: number | null;
}

export interface HerdDay extends DayMetrics {
  cows: number;
}

export interface AlertMarker {
  alert_id: number;
  created_at: string;
  level: AlertLevel;
  risk_score: number | null;
  status: AlertStatus;
  reasons: AlertReason[];
}

export interface CowSeries {
  farm_id: string;
  animal_id: string;
  time_zone: string;
  days: number;
  from_day: string;
  to_day: string;
  cow: CowSummary;
  sessions: SessionPoint[];
  cow_days: CowDay[];
  herd_days: HerdDay[];
  alerts: AlertMarker[];
}

// alerts.py (the alerts API: list and status change) ---------------------------------------------
export interface Alert {
  alert_id: number;
  kind: 'mastitis' | 'data_feed';
  animal_id: string | null;
  unit: string | null;
  level: AlertLevel;
  risk_score: number | null;
  status: AlertStatus;
  reasons: AlertReason[];
  /** The reasons in words, server-side (English); the page words them in the reader's language. */
  summary?: string;
  model_version?: string | null;
  note: string | null;
  created_at: string;
  updated_at?: string;
  status_changed_at?: string | null;
  status_changed_by?: string | null;
}

export interface AlertPage {
  items: Alert[];
  total: number;
  limit: number;
  offset: number;
}

export interface TestSendResult {
  ok: boolean;
  error: string | null;
}

export interface AlertQuery {
  status?: AlertStatus | '';
  unit?: string;
  /** ISO date-time: alerts created at or after. */
  since?: string;
}

export interface AlertStatusChange {
  status: Exclude<AlertStatus, 'new'>;
  note?: string | null;
}

// admin.py --------------------------------------------------------------------------------------
export interface NotificationTarget {
  target_id: number;
  label: string;
  scheme: string;
  masked_url: string;
  created_at: string;
}

export interface NotificationTargetCreate {
  label: string;
  url: string;
}

export interface FarmSettings {
  farm_id: string;
  name: string;
  time_zone: string;
  alert_threshold: number | null;
  critical_threshold: number | null;
  /** Local time `HH:MM[:SS]`. */
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  stale_after_minutes: number;
  notification_targets: NotificationTarget[];
  /** Diagnosis names containing one of these (any case, any accents) are clinical mastitis; absent
   * from an API older than the treatments release, and then not shown. */
  mastitis_patterns?: string[];
}

export type FarmSettingsUpdate = Partial<
  Pick<
    FarmSettings,
    | 'name'
    | 'alert_threshold'
    | 'critical_threshold'
    | 'quiet_hours_start'
    | 'quiet_hours_end'
    | 'stale_after_minutes'
    | 'mastitis_patterns'
  >
>;

export interface AgentKey {
  key_id: string;
  label: string;
  key_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AgentKeyCreated extends AgentKey {
  secret: string;
}

export interface Member {
  user_id: string;
  email: string | null;
  role: Role;
  created_at: string;
}

// accuracy.py (the field accuracy report) ---------------------------------------------------------
/** model: Pecus's alerts; rules: the simple rule baseline; mdi: DelPro's own MDi. */
export type Detector = 'model' | 'rules' | 'mdi';

export interface DetectorAccuracy {
  detector: Detector;
  /** False when it has nothing to judge (mdi: no MDi; rules: neither quarter conductivity nor MDi). */
  available: boolean;
  cases: number;
  /** Cases it could not have warned of (Pecus: their milkings reached the cloud too late to alert). */
  cases_not_judged?: number;
  cases_warned: number;
  /** cases_warned / cases; null without cases. */
  sensitivity: number | null;
  /** Median over warned cases of the hours from the warning alert's start to the onset. */
  lead_hours_median: number | null;
  /** Cases warned at least 24 h before the onset. */
  warned_24h: number;
  alerts: number;
  alerts_without_case: number;
  /** Of alerts_without_case, those the farmer marked false positive. */
  confirmed_false: number;
  /** alerts_without_case per 1,000 healthy milkings; null without milkings. */
  false_alerts_per_1000_milkings: number | null;
}

export interface CaseWarning {
  detector: Detector;
  /** False: it could not have warned (Pecus alerts only on milkings synced within 72 h). */
  judged?: boolean;
  /** Start of the warning alert; null: not warned. */
  first_warned_at: string | null;
  lead_hours: number | null;
}

export interface FieldCase {
  animal_id: string;
  /** Start of the case's first treatment. */
  onset: string;
  treatments: number;
  diagnoses: string[];
  /** One per detector. */
  warnings: CaseWarning[];
}

export interface DiagnosisCount {
  diagnosis: string;
  treatments: number;
  /** Whether the farm's patterns count this name as clinical mastitis. */
  mastitis: boolean;
}

export interface FieldAccuracy {
  farm_id: string;
  time_zone: string;
  from_day: string;
  to_day: string;
  milkings: number;
  /** Milkings with no case onset from 14 days before to 7 days after them (false alerts' base). */
  healthy_milkings: number;
  /** The farm's mastitis_patterns the report used. */
  patterns: string[];
  treatments: number;
  /** Every diagnosis name seen, most used first. */
  diagnoses: DiagnosisCount[];
  cases: FieldCase[];
  detectors: DetectorAccuracy[];
}
