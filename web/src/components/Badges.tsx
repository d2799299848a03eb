import { useTranslation } from 'react-i18next';

import type { AlertLevel, AlertStatus } from '../api/types';
import { formatRisk } from '../lib/numbers';

/** Thresholds for the colour only; which cows alert is the farm's own threshold, server-side. */
export function riskTone(score: number | null): 'none' | 'low' | 'medium' | 'high' {
  if (score === null) return 'none';
  if (score >= 0.8) return 'high';
  if (score >= 0.5) return 'medium';
  return 'low';
}

export function RiskBadge({ score }: { score: number | null }) {
  const { t, i18n } = useTranslation();
  const tone = riskTone(score);
  if (score === null) {
    return (
      <span className="muted" title={t('risk.none')}>
        —
      </span>
    );
  }
  return (
    <span className={`badge risk-${tone}`} title={t('risk.title')}>
      {formatRisk(score, i18n.language)}
    </span>
  );
}

export function StatusBadge({ status }: { status: AlertStatus }) {
  const { t } = useTranslation();
  return <span className={`badge status-${status}`}>{t(`alertStatus.${status}`)}</span>;
}

export function LevelBadge({ level }: { level: AlertLevel }) {
  const { t } = useTranslation();
  return <span className={`badge level-${level}`}>{t(`alertLevel.${level}`)}</span>;
}
