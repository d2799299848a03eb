// The cow's charts (Recharts, loaded in its own chunk): cow lines solid, herd average dashed,
// alert markers as red vertical lines, times in the farm's zone.
import { useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';

import type { CowSeries } from '../../api/types';
import { formatNumber, formatRisk } from '../../lib/numbers';
import { formatDateTime, formatDay, localDay } from '../../lib/time';
import {
  alertMarkers,
  conductivityKeys,
  dailyRows,
  dayTicks,
  DEFAULT_TOGGLES,
  QUARTERS,
  quarterAvailable,
  riskRows,
  timeDomain,
  type ConductivityToggles,
  type DailyRow,
} from './chartData';

const LIGHT = {
  cow: '#0b4fa8',
  herd: '#5c5c5c',
  alert: '#b3261e',
  grid: '#d9d9d9',
  quarters: { lf: '#8a3ffc', rf: '#007d79', lr: '#b45309', rr: '#d02670' },
};
// Dark screens (a barn at 5 am): the same meanings, bright enough on a dark background.
const DARK: typeof LIGHT = {
  cow: '#7fb2ff',
  herd: '#c9c9c9',
  alert: '#ff8a80',
  grid: '#3d464d',
  quarters: { lf: '#c6a7ff', rf: '#3ddbd9', lr: '#ffb066', rr: '#ff7eb6' },
};
const HEIGHT = 240;

function usePalette(): typeof LIGHT {
  const query = '(prefers-color-scheme: dark)';
  const [dark, setDark] = useState(() => window.matchMedia?.(query).matches ?? false);
  useEffect(() => {
    const media = window.matchMedia?.(query);
    if (!media) return undefined;
    const onChange = (event: MediaQueryListEvent) => setDark(event.matches);
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, []);
  return dark ? DARK : LIGHT;
}

function ChartCard({ id, title, children, testId }: { id: string; title: string; children: ReactNode; testId: string }) {
  return (
    <figure className="chart-card" aria-labelledby={id} data-testid={testId}>
      <figcaption id={id}>{title}</figcaption>
      {children}
    </figure>
  );
}

export function CowCharts({ series }: { series: CowSeries }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const zone = series.time_zone;
  const rows = dailyRows(series);
  const risk = riskRows(series);
  const markers = alertMarkers(series);
  const domain = timeDomain(series);
  const ticks = dayTicks(series);
  const [toggles, setToggles] = useState<ConductivityToggles>(DEFAULT_TOGGLES);
  const colour = usePalette();
  const condKeys = conductivityKeys(toggles);

  const xAxis = (
    <XAxis
      dataKey="t"
      type="number"
      scale="time"
      domain={domain}
      ticks={ticks}
      tickFormatter={(value: number) => formatDay(localDay(value, zone), lang)}
      allowDataOverflow
      interval="preserveStartEnd"
      minTickGap={12}
      fontSize={13}
    />
  );
  const markerLines = markers.map((m) => (
    <ReferenceLine
      key={m.alertId}
      x={m.t}
      stroke={colour.alert}
      strokeWidth={2}
      strokeDasharray={m.level === 'critical' ? undefined : '4 3'}
      ifOverflow="hidden"
      className="alert-marker"
    />
  ));
  const dayLabel = (_: unknown, payload: readonly { payload?: DailyRow }[]) => {
    const row = payload[0]?.payload;
    return row ? formatDay(row.day, lang) : '';
  };
  const tick = (digits: number) => (value: number) => formatNumber(value, lang, digits);
  const valueFormatter = (digits: number, unit: string) => (value: unknown) =>
    typeof value === 'number' ? `${formatNumber(value, lang, digits)} ${unit}` : '—';

  const daily = (
    testId: string,
    title: string,
    cowKey: keyof DailyRow,
    herdKey: keyof DailyRow,
    digits: number,
    unit: string,
    tickDigits: number,
  ) => (
    <ChartCard id={`${testId}-title`} title={title} testId={testId}>
      <ResponsiveContainer width="100%" height={HEIGHT}>
        <LineChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid stroke={colour.grid} strokeDasharray="3 3" />
          {xAxis}
          <YAxis width={52} fontSize={13} domain={['auto', 'auto']} tickFormatter={tick(tickDigits)} />
          <Tooltip labelFormatter={dayLabel} formatter={valueFormatter(digits, unit)} />
          <Legend />
          {markerLines}
          <Line
            dataKey={cowKey}
            name={t('charts.cow', { cow: series.animal_id })}
            stroke={colour.cow}
            strokeWidth={3}
            dot={rows.length <= 31}
            connectNulls
            isAnimationActive={false}
            className="line-cow"
          />
          <Line
            dataKey={herdKey}
            name={t('charts.herdAverage')}
            stroke={colour.herd}
            strokeWidth={2}
            strokeDasharray="6 4"
            dot={false}
            connectNulls
            isAnimationActive={false}
            className="line-herd"
          />
        </LineChart>
      </ResponsiveContainer>
    </ChartCard>
  );

  return (
    <div className="charts">
      {daily('chart-yield', t('charts.yield'), 'cow_yield_kg', 'herd_yield_kg', 1, 'kg', 0)}

      <ChartCard id="chart-conductivity-title" title={t('charts.conductivity')} testId="chart-conductivity">
        <fieldset className="toggles">
          <legend className="visually-hidden">{t('charts.showLines')}</legend>
          <label className="toggle">
            <input
              type="checkbox"
              checked={toggles.average}
              onChange={(event) => setToggles({ ...toggles, average: event.target.checked })}
            />
            <span>{t('charts.average')}</span>
          </label>
          {QUARTERS.map((q) => (
            <label key={q} className="toggle">
              <input
                type="checkbox"
                checked={toggles[q]}
                disabled={!quarterAvailable(rows, q)}
                onChange={(event) => setToggles({ ...toggles, [q]: event.target.checked })}
              />
              <span>{t(`quarters.${q}`)}</span>
            </label>
          ))}
        </fieldset>
        <ResponsiveContainer width="100%" height={HEIGHT}>
          <LineChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid stroke={colour.grid} strokeDasharray="3 3" />
            {xAxis}
            <YAxis width={52} fontSize={13} domain={['auto', 'auto']} tickFormatter={tick(1)} />
            <Tooltip labelFormatter={dayLabel} formatter={valueFormatter(2, 'mS/cm')} />
            <Legend />
            {markerLines}
            {condKeys.map((key) => {
              const quarter = key.slice(-2) as keyof typeof LIGHT.quarters;
              const isAvg = key === 'cow_conductivity_avg';
              return (
                <Line
                  key={key}
                  dataKey={key}
                  name={isAvg ? t('charts.cow', { cow: series.animal_id }) : t(`quarters.${quarter}`)}
                  stroke={isAvg ? colour.cow : colour.quarters[quarter]}
                  strokeWidth={isAvg ? 3 : 2}
                  dot={false}
                  connectNulls
                  isAnimationActive={false}
                  className={isAvg ? 'line-cow' : `line-quarter-${quarter}`}
                />
              );
            })}
            <Line
              dataKey="herd_conductivity_avg"
              name={t('charts.herdAverage')}
              stroke={colour.herd}
              strokeWidth={2}
              strokeDasharray="6 4"
              dot={false}
              connectNulls
              isAnimationActive={false}
              className="line-herd"
            />
          </LineChart>
        </ResponsiveContainer>
      </ChartCard>

      {daily('chart-blood', t('charts.blood'), 'cow_blood_avg', 'herd_blood_avg', 0, 'ppm', 0)}
      {daily('chart-flow', t('charts.flow'), 'cow_flow_avg', 'herd_flow_avg', 2, 'kg/min', 2)}

      <ChartCard id="chart-risk-title" title={t('charts.risk')} testId="chart-risk">
        {risk.length === 0 ? (
          <p className="muted chart-empty">{t('charts.noRisk')}</p>
        ) : (
          <ResponsiveContainer width="100%" height={HEIGHT}>
            <LineChart data={risk} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
              <CartesianGrid stroke={colour.grid} strokeDasharray="3 3" />
              {xAxis}
              <YAxis
                width={48}
                fontSize={13}
                domain={[0, 1]}
                tickFormatter={(value: number) => formatRisk(value, lang)}
              />
              <Tooltip
                labelFormatter={(_: unknown, payload: readonly { payload?: { t: number; unit: string } }[]) => {
                  const row = payload[0]?.payload;
                  return row ? `${formatDateTime(row.t, zone, lang)} · ${row.unit}` : '';
                }}
                formatter={(value: unknown) => (typeof value === 'number' ? formatRisk(value, lang) : '—')}
              />
              {markerLines}
              <Line
                dataKey="risk"
                name={t('charts.riskLine')}
                stroke={colour.alert}
                strokeWidth={2}
                dot={risk.length <= 40}
                isAnimationActive={false}
                className="line-risk"
              />
            </LineChart>
          </ResponsiveContainer>
        )}
      </ChartCard>
      <p className="muted small">{t('charts.legendNote', { zone })}</p>
    </div>
  );
}

export default CowCharts;
