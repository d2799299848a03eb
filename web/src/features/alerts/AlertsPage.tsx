// Alerts: filter by status, unit and date; acknowledge or dismiss with an optional note.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import { useOverview } from '../../api/queries';
import type { Alert } from '../../api/types';
import { LevelBadge, RiskBadge, StatusBadge } from '../../components/Badges';
import { PageHeader } from '../../components/PageHeader';
import { ReasonList } from '../../components/ReasonList';
import { EmptyState, ErrorState, Loading } from '../../components/StateViews';
import { canActOnAlerts, useFarm } from '../../lib/farm';
import { useSearchState } from '../../lib/searchState';
import { formatDateTime } from '../../lib/time';
import { actionsFor, alertQueryFromParams, type AlertAction } from './alertState';
import { useAlertStatus, useAlerts, type StatusChangeVars } from './queries';

function AlertCard({
  alert,
  canAct,
  pending,
  onChange,
}: {
  alert: Alert;
  canAct: boolean;
  pending: boolean;
  onChange: (vars: StatusChangeVars) => void;
}) {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  const [note, setNote] = useState('');
  const lang = i18n.language;
  const actions = canAct ? actionsFor(alert.status) : [];
  const noteId = `note-${alert.alert_id}`;
  const act = (status: AlertAction) => onChange({ alertId: alert.alert_id, status, note: note.trim() || null });

  return (
    <li className={`alert-card level-${alert.level} status-card-${alert.status}`} data-testid={`alert-${alert.alert_id}`}>
      <div className="alert-card-head">
        <h2 className="alert-title">
          {alert.kind === 'mastitis' && alert.animal_id ? (
            <Link to={`/farms/${farm.farm_id}/cows/${encodeURIComponent(alert.animal_id)}`}>
              {t('cow.title', { cow: alert.animal_id })}
            </Link>
          ) : (
            t('alerts.dataFeed', { unit: alert.unit ?? '—' })
          )}
        </h2>
        <LevelBadge level={alert.level} />
        {alert.risk_score !== null && <RiskBadge score={alert.risk_score} />}
        <StatusBadge status={alert.status} />
      </div>
      <div className="alert-reasons">
        <ReasonList reasons={alert.reasons} />
      </div>
      <p className="muted small">
        {formatDateTime(alert.created_at, farm.time_zone, lang)}
        {alert.unit ? ` · ${alert.unit}` : ''}
      </p>
      {alert.note && (
        <p className="alert-note">
          <strong>{t('alerts.note')}:</strong> {alert.note}
        </p>
      )}
      {actions.length > 0 && (
        <div className="alert-actions">
          <label className="field" htmlFor={noteId}>
            <span>{t('alerts.noteOptional')}</span>
            <input id={noteId} type="text" value={note} maxLength={500} onChange={(e) => setNote(e.target.value)} />
          </label>
          <div className="button-row">
            {actions.includes('acknowledged') && (
              <button type="button" className="button button-primary" disabled={pending} onClick={() => act('acknowledged')}>
                {alert.status === 'false_positive' ? t('alerts.realCase') : t('alerts.acknowledge')}
              </button>
            )}
            {actions.includes('resolved') && (
              <button type="button" className="button button-primary" disabled={pending} onClick={() => act('resolved')}>
                {t('alerts.resolve')}
              </button>
            )}
            {actions.includes('false_positive') && (
              <button type="button" className="button" disabled={pending} onClick={() => act('false_positive')}>
                {t('alerts.dismiss')}
              </button>
            )}
          </div>
        </div>
      )}
    </li>
  );
}

export function AlertsPage() {
  const { t } = useTranslation();
  const { farm } = useFarm();
  const [params, update] = useSearchState();
  const query = alertQueryFromParams(params, farm.time_zone);
  const alerts = useAlerts(farm.farm_id, query);
  const overview = useOverview(farm.farm_id);
  const change = useAlertStatus(farm.farm_id);
  const [failure, setFailure] = useState<string | null>(null);
  const units = overview.data?.units.map((u) => u.unit) ?? [];

  const setParam = (key: string, value: string): void => update({ [key]: value });

  const onChange = (vars: StatusChangeVars): void => {
    setFailure(null);
    change.mutate(vars, {
      onError: (error) => setFailure(t('alerts.changeFailed', { message: error.message })),
    });
  };

  return (
    <>
      <PageHeader title={t('alerts.title')} />
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <label className="field">
          <span>{t('alerts.status')}</span>
          <select value={params.get('status') ?? ''} onChange={(e) => setParam('status', e.target.value)}>
            <option value="">{t('alerts.allStatuses')}</option>
            {(['new', 'acknowledged', 'false_positive', 'resolved'] as const).map((status) => (
              <option key={status} value={status}>
                {t(`alertStatus.${status}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('cow.unit')}</span>
          <select value={params.get('unit') ?? ''} onChange={(e) => setParam('unit', e.target.value)}>
            <option value="">{t('herd.allUnits')}</option>
            {units.map((unit) => (
              <option key={unit} value={unit}>
                {unit}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('alerts.since')}</span>
          <input type="date" value={params.get('since') ?? ''} onChange={(e) => setParam('since', e.target.value)} />
        </label>
      </form>
      {failure && (
        <div className="banner banner-error" role="alert" data-testid="alert-change-error">
          {failure}
        </div>
      )}
      {alerts.isPending ? (
        <Loading />
      ) : alerts.isError ? (
        <ErrorState error={alerts.error} onRetry={() => void alerts.refetch()} />
      ) : alerts.data.length === 0 ? (
        <EmptyState title={t('alerts.empty')}>
          <p>{t('alerts.emptyBody')}</p>
        </EmptyState>
      ) : (
        <ul className="alert-list" data-testid="alert-list">
          {alerts.data.map((alert) => (
            <AlertCard
              key={alert.alert_id}
              alert={alert}
              canAct={canActOnAlerts(farm)}
              pending={change.isPending && change.variables?.alertId === alert.alert_id}
              onChange={onChange}
            />
          ))}
        </ul>
      )}
    </>
  );
}

export default AlertsPage;
