// Started by the router as soon as a cow's address is known, in parallel with the page's code:
// the chart data and the charts' code arrive together instead of one after the other.
import type { QueryClient } from '@tanstack/react-query';

import { getCowSeries, queryKeys } from '../../api/endpoints';

export const RANGES = [7, 30, 90] as const;
export type Range = (typeof RANGES)[number];

export function rangeFromParams(params: URLSearchParams): Range {
  const days = Number(params.get('days'));
  return (RANGES as readonly number[]).includes(days) ? (days as Range) : 30;
}

export function seriesQuery(farmId: string, animalId: string, days: number) {
  return {
    queryKey: queryKeys.series(farmId, animalId, days),
    queryFn: ({ signal }: { signal: AbortSignal }) => getCowSeries(farmId, animalId, days, signal),
  };
}

export function prefetchCowPage(client: QueryClient, farmId: string, animalId: string, search: string): void {
  void client.prefetchQuery(seriesQuery(farmId, animalId, rangeFromParams(new URLSearchParams(search))));
  void import('./CowCharts');
}
