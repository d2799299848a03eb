// One cow: her numbers, her charts against the herd average, her alerts and latest milkings.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';

import type { CowSeries } from '../../api/types';
import { LevelBadge, RiskBadge, StatusBadge } from '../../components/Badges';
import { PageHeader } from '../../components/PageHeader';
import { ReasonList } from '../../components/ReasonList';
import { StatCard } from '../../components/StatCard';
import { EmptyState, ErrorState, Loading } from '../../components/StateViews';
import { useFarm } from '../../lib/farm';
import { formatNumber } from '../../lib/numbers';
import { useSearchState } from '../../lib/searchState';
import { formatDateTime } from '../../lib/time';
import { isEmptySeries } from './chartData';
import { RANGES, rangeFromParams, seriesQuery } from './prefetch';

const CowCharts = lazy(() => import('./CowCharts'));

function CowFacts({ series }: { series: CowSeries }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const cow = series.cow;
  return (
    <div className="stats">
      <StatCard label={t('risk.label')} value={<RiskBadge score={cow.risk_score} />} />
      <StatCard
        label={t('cow.lactation')}
        value={cow.lactation_number ?? '—'}
        detail={cow.days_in_milk !== null ? t('cow.dim', { count: cow.days_in_milk }) : undefined}
      />
      <StatCard
        label={t('herd.yield24h')}
        value={`${formatNumber(cow.yield_24h_kg, lang)} kg`}
        detail={t('herd.milkings', { count: cow.milkings_24h })}
      />
      <StatCard
        label={t('herd.lastMilking')}
        value={cow.last_session_at ? formatDateTime(cow.last_session_at, series.time_zone, lang) : '—'}
        detail={cow.unit ?? undefined}
      />
    </div>
  );
}

function CowAlerts({ series }: { series: CowSeries }) {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  if (series.alerts.length === 0) return null;
  return (
    <section aria-labelledby="cow-alerts-heading">
      <h2 id="cow-alerts-heading">{t('cow.alerts')}</h2>
      <ul className="alert-list compact">
        {series.alerts.map((alert) => (
          <li key={alert.alert_id} className={`alert-card level-${alert.level}`}>
            <div className="alert-card-head">
              <LevelBadge level={alert.level} />
              <RiskBadge score={alert.risk_score} />
              <StatusBadge status={alert.status} />
              <span className="muted">{formatDateTime(alert.created_at, series.time_zone, i18n.language)}</span>
            </div>
            <ReasonList reasons={alert.reasons} />
          </li>
        ))}
      </ul>
      <Link to={`/farms/${farm.farm_id}/alerts`}>{t('cow.allAlerts')}</Link>
    </section>
  );
}

function RecentMilkings({ series }: { series: CowSeries }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const recent = series.sessions.slice(-10).reverse();
  if (recent.length === 0) return null;
  return (
    <section aria-labelledby="milkings-heading">
      <h2 id="milkings-heading">{t('cow.recentMilkings')}</h2>
      <table className="table table-cards">
        <caption className="visually-hidden">{t('cow.recentMilkings')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('cow.time')}</th>
            <th scope="col">{t('cow.unit')}</th>
            <th scope="col">{t('cow.yield')}</th>
            <th scope="col">{t('cow.conductivity')}</th>
            <th scope="col">{t('cow.blood')}</th>
            <th scope="col">{t('risk.label')}</th>
          </tr>
        </thead>
        <tbody>
          {recent.map((s) => (
            <tr key={`${s.source_id}-${s.transaction_id}`}>
              <th scope="row" data-label={t('cow.time')}>
                {formatDateTime(s.started_at, series.time_zone, lang)}
              </th>
              <td data-label={t('cow.unit')}>{s.unit}</td>
              <td data-label={t('cow.yield')}>{formatNumber(s.yield_kg, lang)} kg</td>
              <td data-label={t('cow.conductivity')}>{formatNumber(s.conductivity_avg, lang, 2)} mS/cm</td>
              <td data-label={t('cow.blood')}>{formatNumber(s.blood_avg, lang, 0)} ppm</td>
              <td data-label={t('risk.label')}>
                <RiskBadge score={s.risk_score} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function CowPage() {
  const { t } = useTranslation();
  const { farm } = useFarm();
  const { animalId = '' } = useParams();
  const [params, update] = useSearchState();
  const days = rangeFromParams(params);
  const series = useQuery({ ...seriesQuery(farm.farm_id, animalId, days), placeholderData: keepPreviousData });

  const title = t('cow.title', { cow: animalId });
  return (
    <>
      <PageHeader title={title}>
        <div className="segmented" role="group" aria-label={t('cow.range')}>
          {RANGES.map((range) => (
            <button
              key={range}
              type="button"
              className="segment"
              aria-pressed={range === days}
              onClick={() => update({ days: String(range) })}
            >
              {t('cow.days', { count: range })}
            </button>
          ))}
        </div>
      </PageHeader>
      <p>
        <Link to={`/farms/${farm.farm_id}/cows`}>← {t('cow.backToHerd')}</Link>
      </p>
      {series.isPending ? (
        <Loading />
      ) : series.isError ? (
        <ErrorState error={series.error} onRetry={() => void series.refetch()} />
      ) : (
        <>
          <CowFacts series={series.data} />
          <CowAlerts series={series.data} />
          {isEmptySeries(series.data) ? (
            <EmptyState title={t('cow.noMilkings', { count: days })} />
          ) : (
            <Suspense fallback={<Loading label={t('charts.loading')} />}>
              <CowCharts series={series.data} />
            </Suspense>
          )}
          <RecentMilkings series={series.data} />
        </>
      )}
    </>
  );
}

export default CowPage;
