// Pure helpers of the alerts page: the optimistic change, which actions an alert offers, filters.
import type { Alert, AlertQuery, AlertStatus } from '../../api/types';
import { zonedInstant } from '../../lib/time';

/** The list with one alert's status (and note) changed; the others untouched. */
export function applyStatusChange(
  alerts: Alert[] | undefined,
  alertId: number,
  status: AlertStatus,
  note: string | null,
): Alert[] | undefined {
  return alerts?.map((alert) =>
    alert.alert_id === alertId ? { ...alert, status, note: note ?? alert.note } : alert,
  );
}

/** The list with the server's version of an alert. */
export function replaceAlert(alerts: Alert[] | undefined, updated: Alert): Alert[] | undefined {
  return alerts?.map((alert) => (alert.alert_id === updated.alert_id ? { ...alert, ...updated } : alert));
}

export type AlertAction = 'acknowledged' | 'false_positive' | 'resolved';

/** New alerts are acknowledged or dismissed; an acknowledged one is resolved when the cow is well,
 * or can still turn out to have been a false positive, and a dismissed one can be corrected to a
 * real case (each change is a label the model learns from). Resolved is final. */
export function actionsFor(status: AlertStatus): AlertAction[] {
  if (status === 'new') return ['acknowledged', 'false_positive'];
  if (status === 'acknowledged') return ['resolved', 'false_positive'];
  if (status === 'false_positive') return ['acknowledged'];
  return [];
}

const STATUSES: AlertStatus[] = ['new', 'acknowledged', 'false_positive', 'resolved'];

/** The API filter described by the page's URL; `since` is a local date turned into the farm's midnight. */
export function alertQueryFromParams(params: URLSearchParams, timeZone: string): AlertQuery {
  const query: AlertQuery = {};
  const status = params.get('status');
  if (status && STATUSES.includes(status as AlertStatus)) query.status = status as AlertStatus;
  const unit = params.get('unit');
  if (unit) query.unit = unit;
  const since = params.get('since');
  if (since && /^\d{4}-\d{2}-\d{2}$/.test(since)) {
    query.since = new Date(zonedInstant(since, timeZone, 0)).toISOString();
  }
  return query;
}
