// Herd overview: how many cows are at risk today, which ones, and whether the data is flowing.
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import type { FarmOverview } from '../../api/types';
import { RiskBadge, StatusBadge } from '../../components/Badges';
import { PageHeader } from '../../components/PageHeader';
import { ReasonList } from '../../components/ReasonList';
import { StatCard } from '../../components/StatCard';
import { EmptyState, ErrorState, Loading } from '../../components/StateViews';
import { useFarm } from '../../lib/farm';
import { formatNumber } from '../../lib/numbers';
import { formatAgo, formatDateTime } from '../../lib/time';
import { feedWarnings, yieldChange } from './freshness';
import { useOverview } from './queries';

export function NoDataYet() {
  const { t } = useTranslation();
  const { farm } = useFarm();
  return (
    <EmptyState title={t('overview.noDataTitle')}>
      <p>{t('overview.noDataBody')}</p>
      <ol className="steps">
        <li>
          {t('overview.noDataStep1')}{' '}
          {farm.role === 'owner' && <Link to={`/farms/${farm.farm_id}/settings#agent-keys`}>{t('nav.settings')}</Link>}
        </li>
        <li>
          {t('overview.noDataStep2')} <code>pecus-agent install</code>
        </li>
        <li>{t('overview.noDataStep3')}</li>
      </ol>
    </EmptyState>
  );
}

function FeedBanner({ overview }: { overview: FarmOverview }) {
  const { t, i18n } = useTranslation();
  const warnings = feedWarnings(overview).filter((w) => w.kind !== 'no-data');
  if (warnings.length === 0) return null;
  return (
    <div className="banner banner-warning" role="alert" data-testid="feed-warning">
      <strong>{t('overview.feedProblem')}</strong>
      <ul>
        {warnings.map((w) => {
          const ago = 'since' in w && w.since ? formatAgo(w.since, i18n.language) : t('overview.never');
          if (w.kind === 'unit') return <li key={`u-${w.unit}`}>{t('overview.unitSilent', { unit: w.unit, ago })}</li>;
          if (w.kind === 'source')
            return (
              <li key={`s-${w.source}`}>
                {w.failed ? t('overview.agentFailed', { source: w.source }) : t('overview.agentSilent', { source: w.source, ago })}
              </li>
            );
          return null;
        })}
      </ul>
    </div>
  );
}

function AtRiskList({ overview }: { overview: FarmOverview }) {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  if (overview.at_risk.length === 0) {
    return <p className="all-clear">{t('overview.allClear')}</p>;
  }
  return (
    <table className="table table-cards" data-testid="at-risk-table">
      <caption className="visually-hidden">{t('overview.atRiskCaption')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('cow.number')}</th>
          <th scope="col">{t('risk.label')}</th>
          <th scope="col">{t('cow.unit')}</th>
          <th scope="col">{t('overview.whatMoved')}</th>
          <th scope="col">{t('overview.since')}</th>
          <th scope="col">{t('alerts.status')}</th>
        </tr>
      </thead>
      <tbody>
        {overview.at_risk.map((row) => (
          <tr key={row.alert.alert_id} className={`level-row-${row.alert.level}`}>
            <th scope="row" data-label={t('cow.number')}>
              <Link className="cow-link" to={`/farms/${farm.farm_id}/cows/${encodeURIComponent(row.animal_id)}`}>
                {row.animal_id}
              </Link>
            </th>
            <td data-label={t('risk.label')}>
              <RiskBadge score={row.alert.risk_score} />
            </td>
            <td data-label={t('cow.unit')}>{row.unit ?? '—'}</td>
            <td data-label={t('overview.whatMoved')}>
              <ReasonList reasons={row.alert.reasons} />
            </td>
            <td data-label={t('overview.since')}>{formatDateTime(row.alert.created_at, farm.time_zone, i18n.language)}</td>
            <td data-label={t('alerts.status')}>
              <StatusBadge status={row.alert.status} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function UnitFreshnessList({ overview }: { overview: FarmOverview }) {
  const { t, i18n } = useTranslation();
  return (
    <ul className="freshness">
      {overview.units.map((unit) => (
        <li key={unit.unit} className={unit.stale ? 'fresh-stale' : 'fresh-ok'}>
          <span className="fresh-dot" aria-hidden="true" />
          <span className="fresh-name">{unit.unit}</span>
          <span className="fresh-when">
            {unit.last_session_at
              ? t('overview.lastMilking', { ago: formatAgo(unit.last_session_at, i18n.language) })
              : t('overview.never')}
          </span>
          <span className="visually-hidden">{unit.stale ? t('overview.silent') : t('overview.ok')}</span>
        </li>
      ))}
      {overview.sources.map((source) => (
        <li key={`src-${source.source_id}`} className={source.stale ? 'fresh-stale' : 'fresh-ok'}>
          <span className="fresh-dot" aria-hidden="true" />
          <span className="fresh-name">{t('overview.agent', { source: source.name })}</span>
          <span className="fresh-when">
            {source.last_sync
              ? t('overview.lastSync', {
                  ago: formatAgo(source.last_sync.started_at, i18n.language),
                  result: t(`overview.syncResult.${source.last_sync.result}`),
                })
              : t('overview.never')}
          </span>
          <span className="visually-hidden">{source.stale ? t('overview.silent') : t('overview.ok')}</span>
        </li>
      ))}
    </ul>
  );
}

export function OverviewPage() {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  const overview = useOverview(farm.farm_id);
  const lang = i18n.language;

  if (overview.isPending) return <Loading />;
  if (overview.isError) return <ErrorState error={overview.error} onRetry={() => void overview.refetch()} />;
  const data = overview.data;
  const noData = data.units.length === 0 && data.sources.length === 0;
  const change = yieldChange(data);

  return (
    <>
      <PageHeader title={t('overview.title')} />
      {noData ? (
        <NoDataYet />
      ) : (
        <>
          <FeedBanner overview={data} />
          <section className={`headline ${data.cows_at_risk > 0 ? 'headline-alert' : 'headline-ok'}`} aria-live="polite">
            <p className="headline-text" data-testid="at-risk-headline">
              <span className="headline-number" data-testid="at-risk-count">
                {data.cows_at_risk}
              </span>{' '}
              {t('overview.cowsAtRisk', { count: data.cows_at_risk })}
            </p>
            {data.cows_at_risk > 0 && (
              <p className="headline-detail">
                {t('overview.byLevel', { critical: data.open_alerts.critical, warning: data.open_alerts.warning })}
              </p>
            )}
          </section>
          <AtRiskList overview={data} />
          <section aria-labelledby="today-heading">
            <h2 id="today-heading">{t('overview.today')}</h2>
            <div className="stats">
              <StatCard
                label={t('overview.milk24h')}
                value={`${formatNumber(data.yield_24h_kg, lang, 0)} kg`}
                detail={
                  data.yield_7d_avg_kg === null
                    ? t('overview.noBaseline')
                    : t('overview.vs7d', {
                        avg: formatNumber(data.yield_7d_avg_kg, lang, 0),
                        change: `${change !== null && change >= 0 ? '+' : ''}${formatNumber(change, lang, 1)}`,
                      })
                }
                tone={change !== null && change < -10 ? 'alert' : 'plain'}
              />
              <StatCard
                label={t('overview.conductivity')}
                value={`${formatNumber(data.conductivity_avg_24h, lang, 2)} mS/cm`}
                detail={t('overview.cond7d', { avg: formatNumber(data.conductivity_avg_7d, lang, 2) })}
              />
              <StatCard label={t('overview.cowsMilked')} value={data.cows_milked_24h} detail={t('overview.last24h')} />
              <StatCard
                label={t('overview.newAlerts')}
                value={data.new_alerts_24h}
                detail={<Link to={`/farms/${farm.farm_id}/alerts`}>{t('overview.seeAlerts')}</Link>}
                tone={data.new_alerts_24h > 0 ? 'alert' : 'plain'}
              />
            </div>
          </section>
          <section aria-labelledby="fresh-heading">
            <h2 id="fresh-heading">{t('overview.freshness')}</h2>
            <UnitFreshnessList overview={data} />
          </section>
          <p className="muted small">
            {t('overview.updated', { time: formatDateTime(data.generated_at, farm.time_zone, lang), zone: farm.time_zone })}
          </p>
        </>
      )}
    </>
  );
}

export default OverviewPage;
