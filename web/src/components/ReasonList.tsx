import { useTranslation } from 'react-i18next';

import type { AlertReason } from '../api/types';
import { describeReason } from '../lib/reasons';

/** An alert's reasons, one per line: easier to read on a phone than one long sentence. */
export function ReasonList({ reasons }: { reasons: AlertReason[] }) {
  const { t, i18n } = useTranslation();
  if (reasons.length === 0) return <span className="muted">{t('reasons.none')}</span>;
  return (
    <ul className="reasons">
      {reasons.map((reason, index) => (
        <li key={index}>{describeReason(reason, t, i18n.language)}</li>
      ))}
    </ul>
  );
}
