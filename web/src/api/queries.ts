// Queries more than one feature reads (each feature keeps its own otherwise).
import { useQuery } from '@tanstack/react-query';

import { getMe, getOverview, queryKeys } from './endpoints';

export function useMe(enabled = true) {
  return useQuery({ queryKey: queryKeys.me, queryFn: ({ signal }) => getMe(signal), enabled, staleTime: 300_000 });
}

/** Today's numbers; refreshed every minute so a screen left open in the parlour stays current. */
export function useOverview(farmId: string) {
  return useQuery({
    queryKey: queryKeys.overview(farmId),
    queryFn: ({ signal }) => getOverview(farmId, signal),
    refetchInterval: 60_000,
  });
}
