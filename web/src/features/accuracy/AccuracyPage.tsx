// Field accuracy: how Pecus did on the farm's own treated mastitis cases, next to the simple rules
// and DelPro's MDi; which diagnosis names counted as mastitis.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

import { getAccuracy, queryKeys } from '../../api/endpoints';
import type { DetectorAccuracy, FieldAccuracy } from '../../api/types';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorState, Loading } from '../../components/StateViews';
import { canManage, useFarm } from '../../lib/farm';
import { formatNumber, formatPercent } from '../../lib/numbers';
import { useSearchState } from '../../lib/searchState';
import { formatDateTime, formatDay } from '../../lib/time';
import { formatLead, isJudged, orderDetectors, PERIODS, periodFromParams, warningOf } from './accuracy';

function HowWeCount() {
  const { t } = useTranslation();
  return (
    <details className="panel how-we-count" open>
      <summary>{t('accuracy.howTitle')}</summary>
      <ul>
        <li>{t('accuracy.howCase')}</li>
        <li>{t('accuracy.howWarning')}</li>
        <li>{t('accuracy.howFalse')}</li>
      </ul>
    </details>
  );
}

function DetectorCard({ d }: { d: DetectorAccuracy }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const name = t(`accuracy.detector.${d.detector}`);
  if (!d.available) {
    return (
      <article className="detector-card detector-off" data-testid={`detector-${d.detector}`}>
        <h3>{name}</h3>
        <p className="detector-big">{t('accuracy.notAvailable')}</p>
        <p className="muted small">{t(`accuracy.notAvailableWhy.${d.detector}`)}</p>
      </article>
    );
  }
  const rows: [string, string][] = [
    [t('accuracy.leadMedian'), formatLead(d.lead_hours_median, t, lang)],
    [t('accuracy.warned24h'), String(d.warned_24h)],
    [t('accuracy.alerts'), String(d.alerts)],
    [t('accuracy.falseAlerts'), String(d.alerts_without_case)],
    [t('accuracy.confirmedFalse'), String(d.confirmed_false)],
    [t('accuracy.perThousand'), formatNumber(d.false_alerts_per_1000_milkings, lang, 1)],
  ];
  return (
    <article className={`detector-card detector-${d.detector}`} data-testid={`detector-${d.detector}`}>
      <h3>{name}</h3>
      <p className="detector-big">{formatPercent(d.sensitivity, lang)}</p>
      <p className="detector-sub">{t('accuracy.warnedOf', { warned: d.cases_warned, count: d.cases })}</p>
      {(d.cases_not_judged ?? 0) > 0 && (
        <p className="muted small" data-testid={`not-judged-${d.detector}`}>
          {t('accuracy.casesNotJudged', { count: d.cases_not_judged })}
        </p>
      )}
      <dl className="facts">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </article>
  );
}

function Headline({ report }: { report: FieldAccuracy }) {
  const { t, i18n } = useTranslation();
  const model = report.detectors.find((d) => d.detector === 'model');
  if (!model || model.cases === 0) return null;
  return (
    <p className="accuracy-headline" data-testid="accuracy-headline">
      {t('accuracy.headline', {
        warned: model.cases_warned,
        count: model.cases,
        pct: formatPercent(model.sensitivity, i18n.language),
      })}
      {model.lead_hours_median !== null &&
        ` ${t('accuracy.headlineLead', { lead: formatLead(model.lead_hours_median, t, i18n.language) })}`}
    </p>
  );
}

function CaseList({ report }: { report: FieldAccuracy }) {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  const lang = i18n.language;
  const detectors = orderDetectors(report.detectors).filter((d) => d.available);
  if (report.cases.length === 0) {
    return <p className="muted">{t('accuracy.noCases')}</p>;
  }
  // On a phone each row becomes a card labelled from data-label: short labels fit its label column.
  return (
    <table className="table table-cards" data-testid="case-table">
      <caption className="visually-hidden">{t('accuracy.casesCaption')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('cow.number')}</th>
          <th scope="col">{t('accuracy.onset')}</th>
          <th scope="col">{t('accuracy.diagnosis')}</th>
          <th scope="col">{t('accuracy.treatments')}</th>
          <th scope="col">{t('accuracy.whoWarned')}</th>
        </tr>
      </thead>
      <tbody>
        {report.cases.map((c) => (
          <tr key={`${c.animal_id}-${c.onset}`}>
            <th scope="row" data-label={t('cow.number')}>
              <Link className="cow-link" to={`/farms/${farm.farm_id}/cows/${encodeURIComponent(c.animal_id)}`}>
                {c.animal_id}
              </Link>
            </th>
            <td data-label={t('accuracy.onsetShort')}>{formatDateTime(c.onset, report.time_zone, lang)}</td>
            <td data-label={t('accuracy.diagnosis')}>{c.diagnoses.join(', ') || '—'}</td>
            <td data-label={t('accuracy.treatments')}>{c.treatments}</td>
            <td data-label={t('accuracy.whoWarned')}>
              <ul className="warned-list">
                {detectors.map((d) => {
                  const warning = warningOf(c, d.detector);
                  const judged = isJudged(c, d.detector);
                  return (
                    <li key={d.detector} className={warning ? 'warned-yes' : judged ? 'warned-no' : 'warned-unjudged'}>
                      <span className="warned-name">{t(`accuracy.detector.${d.detector}`)}:</span>{' '}
                      {warning
                        ? t('accuracy.warnedBefore', { lead: formatLead(warning.lead_hours, t, lang) })
                        : judged
                          ? t('accuracy.notWarned')
                          : t('accuracy.notJudged')}
                    </li>
                  );
                })}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DiagnosisTable({ report }: { report: FieldAccuracy }) {
  const { t } = useTranslation();
  const { farm } = useFarm();
  return (
    <>
      <table className="table table-cards" data-testid="diagnosis-table">
        <caption className="visually-hidden">{t('accuracy.diagnosesCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('accuracy.diagnosisName')}</th>
            <th scope="col">{t('accuracy.treatments')}</th>
            <th scope="col">{t('accuracy.countedAsMastitis')}</th>
          </tr>
        </thead>
        <tbody>
          {report.diagnoses.map((d) => (
            <tr key={d.diagnosis}>
              <th scope="row" data-label={t('accuracy.diagnosisName')}>
                {d.diagnosis}
              </th>
              <td data-label={t('accuracy.treatments')}>{d.treatments}</td>
              <td data-label={t('accuracy.countedShort')}>
                <span className={`badge ${d.mastitis ? 'counted-yes' : 'counted-no'}`}>
                  {d.mastitis ? t('accuracy.yes') : t('accuracy.no')}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small" data-testid="names-hint">
        {t('accuracy.namesHint', { names: report.patterns.join(', ') })}{' '}
        {canManage(farm) ? (
          <Link to={`/farms/${farm.farm_id}/settings#mastitis-names`}>{t('accuracy.namesEdit')}</Link>
        ) : (
          t('accuracy.namesOwner')
        )}
      </p>
    </>
  );
}

function Report({ report }: { report: FieldAccuracy }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  return (
    <>
      <p className="muted" data-testid="accuracy-period">
        {t('accuracy.period', {
          from: formatDay(report.from_day, lang),
          to: formatDay(report.to_day, lang),
          milkings: formatNumber(report.milkings, lang, 0),
          treatments: formatNumber(report.treatments, lang, 0),
          zone: report.time_zone,
        })}
      </p>
      <Headline report={report} />
      <section aria-labelledby="detectors-heading">
        <h2 id="detectors-heading">{t('accuracy.compareHeading')}</h2>
        <div className="detector-cards">
          {orderDetectors(report.detectors).map((d) => (
            <DetectorCard key={d.detector} d={d} />
          ))}
        </div>
      </section>
      <section aria-labelledby="cases-heading">
        <h2 id="cases-heading">{t('accuracy.casesHeading', { count: report.cases.length })}</h2>
        <CaseList report={report} />
      </section>
      <section aria-labelledby="diagnoses-heading">
        <h2 id="diagnoses-heading">{t('accuracy.diagnosesHeading')}</h2>
        <DiagnosisTable report={report} />
      </section>
    </>
  );
}

export function AccuracyPage() {
  const { t } = useTranslation();
  const { farm } = useFarm();
  const [params, update] = useSearchState();
  const days = periodFromParams(params);
  const report = useQuery({
    queryKey: queryKeys.accuracyReport(farm.farm_id, days),
    queryFn: ({ signal }) => getAccuracy(farm.farm_id, days, signal),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <PageHeader title={t('accuracy.title')}>
        <div className="segmented" role="group" aria-label={t('cow.range')}>
          {PERIODS.map((period) => (
            <button
              key={period}
              type="button"
              className="segment"
              aria-pressed={period === days}
              onClick={() => update({ days: String(period) })}
            >
              {t('cow.days', { count: period })}
            </button>
          ))}
        </div>
      </PageHeader>
      <p>{t('accuracy.intro')}</p>
      {report.isPending ? (
        <Loading />
      ) : report.isError ? (
        <ErrorState error={report.error} onRetry={() => void report.refetch()} />
      ) : report.data.treatments === 0 ? (
        <EmptyState title={t('accuracy.emptyTitle')}>
          <p>{t('accuracy.emptyBody')}</p>
          <p>{t('accuracy.emptyHow')}</p>
        </EmptyState>
      ) : (
        <Report report={report.data} />
      )}
      <HowWeCount />
    </>
  );
}

export default AccuracyPage;
