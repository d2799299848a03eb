import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { changeAlertStatus, getAlerts, queryKeys } from '../../api/endpoints';
import type { Alert, AlertQuery, AlertStatus } from '../../api/types';
import { applyStatusChange, replaceAlert } from './alertState';

export function useAlerts(farmId: string, query: AlertQuery) {
  return useQuery({
    queryKey: queryKeys.alertList(farmId, query),
    queryFn: ({ signal }) => getAlerts(farmId, query, signal),
    refetchInterval: 60_000,
  });
}

export interface StatusChangeVars {
  alertId: number;
  status: Exclude<AlertStatus, 'new'>;
  note: string | null;
}

/**
 * Acknowledge / dismiss: the card changes at once; if the API refuses, every cached list goes
 * back to what it was and the caller shows the error. The stored change is the model's label.
 */
export function useAlertStatus(farmId: string) {
  const client = useQueryClient();
  const listKey = queryKeys.alerts(farmId);
  return useMutation({
    mutationFn: ({ alertId, status, note }: StatusChangeVars) =>
      changeAlertStatus(farmId, alertId, { status, note: note || null }),
    onMutate: async ({ alertId, status, note }) => {
      await client.cancelQueries({ queryKey: listKey });
      const snapshot = client.getQueriesData<Alert[]>({ queryKey: listKey });
      client.setQueriesData<Alert[]>({ queryKey: listKey }, (alerts) =>
        applyStatusChange(alerts, alertId, status, note || null),
      );
      return { snapshot };
    },
    onError: (_error, _vars, context) => {
      for (const [key, data] of context?.snapshot ?? []) client.setQueryData(key, data);
    },
    onSuccess: (updated) => {
      client.setQueriesData<Alert[]>({ queryKey: listKey }, (alerts) => replaceAlert(alerts, updated));
    },
    onSettled: () => {
      // Counts on the overview, the herd list and the cow page depend on alert status too.
      void client.invalidateQueries({ queryKey: queryKeys.farm(farmId) });
    },
  });
}
