// Herd list: every cow with her latest milking, 24 h yield, risk and open alert.
// Filters live in the URL so a reload or a shared link shows the same list.
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';

import type { CowQuery, CowSort } from '../../api/types';
import { RiskBadge, StatusBadge } from '../../components/Badges';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorState, Loading } from '../../components/StateViews';
import { useFarm } from '../../lib/farm';
import { formatNumber } from '../../lib/numbers';
import { useSearchState } from '../../lib/searchState';
import { formatDateTime } from '../../lib/time';
import { useCows, useOverview } from './queries';

const PAGE_SIZE = 50;
const SORTS: CowSort[] = ['risk', 'animal', 'yield_24h', 'last_session', 'conductivity'];

/** The API query described by the page's URL search parameters. */
export function cowQueryFromParams(params: URLSearchParams): CowQuery {
  const sortParam = params.get('sort');
  const sort: CowSort = SORTS.includes(sortParam as CowSort) ? (sortParam as CowSort) : 'risk';
  const order = params.get('order');
  const page = Math.max(0, Number.parseInt(params.get('page') ?? '0', 10) || 0);
  const query: CowQuery = { sort, limit: PAGE_SIZE, offset: page * PAGE_SIZE };
  if (order === 'asc' || order === 'desc') query.order = order;
  if (params.get('at_risk') === '1') query.at_risk = true;
  const unit = params.get('unit');
  if (unit) query.unit = unit;
  const q = params.get('q')?.trim();
  if (q) query.q = q;
  const lactation = Number.parseInt(params.get('lactation') ?? '', 10);
  if (lactation >= 1 && lactation <= 20) query.lactation = lactation;
  return query;
}

function defaultOrder(sort: CowSort): 'asc' | 'desc' {
  return sort === 'risk' ? 'desc' : 'asc';
}

export function HerdListPage() {
  const { t, i18n } = useTranslation();
  const { farm } = useFarm();
  const navigate = useNavigate();
  const [params, update] = useSearchState();
  const query = cowQueryFromParams(params);
  const cows = useCows(farm.farm_id, query);
  const overview = useOverview(farm.farm_id);
  const units = overview.data?.units.map((u) => u.unit) ?? [];
  const lang = i18n.language;
  const sort = query.sort ?? 'risk';
  const order = query.order ?? defaultOrder(sort);

  const sortBy = (column: CowSort): void => {
    const nextOrder = column === sort ? (order === 'asc' ? 'desc' : 'asc') : defaultOrder(column);
    update({ sort: column, order: nextOrder });
  };

  const header = (column: CowSort, label: string) => (
    <th scope="col" aria-sort={column === sort ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
      <button type="button" className="sort-button" onClick={() => sortBy(column)}>
        {label}
        <span aria-hidden="true">{column === sort ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );

  const page = Math.floor((query.offset ?? 0) / PAGE_SIZE);
  const total = cows.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <>
      <PageHeader title={t('herd.title')} />
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <label className="field">
          <span>{t('herd.search')}</span>
          <input
            type="search"
            inputMode="numeric"
            value={params.get('q') ?? ''}
            onChange={(event) => update({ q: event.target.value })}
            placeholder={t('herd.searchPlaceholder')}
          />
        </label>
        <label className="field">
          <span>{t('cow.unit')}</span>
          <select value={query.unit ?? ''} onChange={(event) => update({ unit: event.target.value })}>
            <option value="">{t('herd.allUnits')}</option>
            {units.map((unit) => (
              <option key={unit} value={unit}>
                {unit}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('cow.lactation')}</span>
          <select value={query.lactation ?? ''} onChange={(event) => update({ lactation: event.target.value })}>
            <option value="">{t('herd.allLactations')}</option>
            {[1, 2, 3, 4, 5, 6].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-check">
          <input
            type="checkbox"
            checked={query.at_risk === true}
            onChange={(event) => update({ at_risk: event.target.checked ? '1' : null })}
          />
          <span>{t('herd.onlyAtRisk')}</span>
        </label>
      </form>

      {cows.isPending ? (
        <Loading />
      ) : cows.isError ? (
        <ErrorState error={cows.error} onRetry={() => void cows.refetch()} />
      ) : cows.data.items.length === 0 ? (
        <EmptyState title={query.q || query.unit || query.at_risk || query.lactation ? t('herd.noMatch') : t('herd.empty')}>
          <p>{query.q || query.unit || query.at_risk || query.lactation ? t('herd.noMatchBody') : t('herd.emptyBody')}</p>
        </EmptyState>
      ) : (
        <>
          <p className="muted" aria-live="polite">
            {t('herd.count', { count: total })}
          </p>
          <table className="table table-cards table-clickable" data-testid="herd-table">
            <caption className="visually-hidden">{t('herd.caption')}</caption>
            <thead>
              <tr>
                {header('animal', t('cow.number'))}
                {header('risk', t('risk.label'))}
                <th scope="col">{t('cow.unit')}</th>
                {header('last_session', t('herd.lastMilking'))}
                {header('yield_24h', t('herd.yield24h'))}
                {header('conductivity', t('herd.conductivity'))}
                <th scope="col">{t('herd.openAlert')}</th>
              </tr>
            </thead>
            <tbody>
              {cows.data.items.map((cow) => {
                const href = `/farms/${farm.farm_id}/cows/${encodeURIComponent(cow.animal_id)}`;
                return (
                  <tr key={cow.animal_id} onClick={() => void navigate(href)}>
                    <th scope="row" data-label={t('cow.number')}>
                      <Link className="cow-link" to={href} onClick={(event) => event.stopPropagation()}>
                        {cow.animal_id}
                      </Link>
                    </th>
                    <td data-label={t('risk.label')}>
                      <RiskBadge score={cow.risk_score} />
                    </td>
                    <td data-label={t('cow.unit')}>{cow.unit ?? '—'}</td>
                    <td data-label={t('herd.lastMilking')}>
                      {cow.last_session_at ? formatDateTime(cow.last_session_at, farm.time_zone, lang) : '—'}
                    </td>
                    <td data-label={t('herd.yield24h')}>
                      {formatNumber(cow.yield_24h_kg, lang)} kg
                      <span className="muted small"> · {t('herd.milkings', { count: cow.milkings_24h })}</span>
                    </td>
                    <td data-label={t('herd.conductivity')}>{formatNumber(cow.last_conductivity_avg, lang, 2)}</td>
                    <td data-label={t('herd.openAlert')}>
                      {cow.open_alert ? <StatusBadge status={cow.open_alert.status} /> : <span className="muted">—</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {pages > 1 && (
            <nav className="pager" aria-label={t('herd.pages')}>
              <button
                type="button"
                className="button"
                disabled={page === 0}
                onClick={() => update({ page: String(page - 1) }, true)}
              >
                {t('herd.previous')}
              </button>
              <span>{t('herd.pageOf', { page: page + 1, pages })}</span>
              <button
                type="button"
                className="button"
                disabled={page + 1 >= pages}
                onClick={() => update({ page: String(page + 1) }, true)}
              >
                {t('herd.next')}
              </button>
            </nav>
          )}
        </>
      )}
    </>
  );
}

export default HerdListPage;
