import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { getCows, queryKeys } from '../../api/endpoints';
import type { CowQuery } from '../../api/types';

export { useOverview } from '../../api/queries';

export function useCows(farmId: string, query: CowQuery) {
  return useQuery({
    queryKey: queryKeys.cows(farmId, query),
    queryFn: ({ signal }) => getCows(farmId, query, signal),
    placeholderData: keepPreviousData,
  });
}
