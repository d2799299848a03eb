import type { ReactNode } from 'react';

export function StatCard({
  label,
  value,
  detail,
  tone = 'plain',
}: {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
  tone?: 'plain' | 'alert' | 'ok';
}) {
  return (
    <div className={`stat stat-${tone}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {detail !== undefined && <div className="stat-detail">{detail}</div>}
    </div>
  );
}
