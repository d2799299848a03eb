// One function per API endpoint, and the TanStack Query keys that cache them.
import { api } from './client';
import type {
  AgentKey,
  AgentKeyCreated,
  Alert,
  AlertPage,
  AlertQuery,
  AlertStatusChange,
  CowPage,
  CowQuery,
  CowSeries,
  FieldAccuracy,
  FarmOverview,
  FarmSettings,
  FarmSettingsUpdate,
  Me,
  Member,
  NotificationTarget,
  NotificationTargetCreate,
  Role,
  TestSendResult,
} from './types';

const farm = (farmId: string): string => `/farms/${encodeURIComponent(farmId)}`;

export const queryKeys = {
  me: ['me'] as const,
  farm: (farmId: string) => ['farm', farmId] as const,
  overview: (farmId: string) => ['farm', farmId, 'overview'] as const,
  cows: (farmId: string, query: CowQuery) => ['farm', farmId, 'cows', query] as const,
  series: (farmId: string, animalId: string, days: number) =>
    ['farm', farmId, 'cow', animalId, 'series', days] as const,
  alerts: (farmId: string) => ['farm', farmId, 'alerts'] as const,
  alertList: (farmId: string, query: AlertQuery) => ['farm', farmId, 'alerts', query] as const,
  settings: (farmId: string) => ['farm', farmId, 'settings'] as const,
  agentKeys: (farmId: string) => ['farm', farmId, 'agent-keys'] as const,
  members: (farmId: string) => ['farm', farmId, 'members'] as const,
  accuracy: (farmId: string) => ['farm', farmId, 'accuracy'] as const,
  accuracyReport: (farmId: string, days: number) => ['farm', farmId, 'accuracy', days] as const,
};

export const getMe = (signal?: AbortSignal): Promise<Me> => api<Me>('/me', { signal });

export const getOverview = (farmId: string, signal?: AbortSignal): Promise<FarmOverview> =>
  api<FarmOverview>(`${farm(farmId)}/overview`, { signal });

export const getCows = (farmId: string, query: CowQuery, signal?: AbortSignal): Promise<CowPage> =>
  api<CowPage>(`${farm(farmId)}/cows`, { query: { ...query }, signal });

export const getCowSeries = (
  farmId: string,
  animalId: string,
  days: number,
  signal?: AbortSignal,
): Promise<CowSeries> =>
  api<CowSeries>(`${farm(farmId)}/cows/${encodeURIComponent(animalId)}/series`, { query: { days }, signal });

/** The alert list; accepts a bare array or a page (`{items}`) so either API shape works. */
export async function getAlerts(farmId: string, query: AlertQuery, signal?: AbortSignal): Promise<Alert[]> {
  const body = await api<Alert[] | AlertPage>(`${farm(farmId)}/alerts`, { query: { ...query }, signal });
  return Array.isArray(body) ? body : body.items;
}

export const changeAlertStatus = (farmId: string, alertId: number, change: AlertStatusChange): Promise<Alert> =>
  api<Alert>(`${farm(farmId)}/alerts/${alertId}`, { method: 'PATCH', body: change });

export const getSettings = (farmId: string, signal?: AbortSignal): Promise<FarmSettings> =>
  api<FarmSettings>(`${farm(farmId)}/settings`, { signal });

export const updateSettings = (farmId: string, update: FarmSettingsUpdate): Promise<FarmSettings> =>
  api<FarmSettings>(`${farm(farmId)}/settings`, { method: 'PATCH', body: update });

/** The field accuracy report over the last `days` days (the farm's treated cases vs the alerts). */
export const getAccuracy = (farmId: string, days: number, signal?: AbortSignal): Promise<FieldAccuracy> =>
  api<FieldAccuracy>(`${farm(farmId)}/accuracy`, { query: { days }, signal });

export const addNotificationTarget = (farmId: string, body: NotificationTargetCreate): Promise<NotificationTarget> =>
  api<NotificationTarget>(`${farm(farmId)}/notification-targets`, { method: 'POST', body });

/** Sends a test message to one target now; `ok` says whether the channel took it. */
export const testNotificationTarget = (farmId: string, targetId: number): Promise<TestSendResult> =>
  api<TestSendResult>(`${farm(farmId)}/notification-targets/${targetId}/test`, { method: 'POST' });

export const removeNotificationTarget = (farmId: string, targetId: number): Promise<void> =>
  api<void>(`${farm(farmId)}/notification-targets/${targetId}`, { method: 'DELETE' });

export const getAgentKeys = (farmId: string, signal?: AbortSignal): Promise<AgentKey[]> =>
  api<AgentKey[]>(`${farm(farmId)}/agent-keys`, { signal });

export const createAgentKey = (farmId: string, label: string): Promise<AgentKeyCreated> =>
  api<AgentKeyCreated>(`${farm(farmId)}/agent-keys`, { method: 'POST', body: { label } });

export const revokeAgentKey = (farmId: string, keyId: string): Promise<AgentKey> =>
  api<AgentKey>(`${farm(farmId)}/agent-keys/${encodeURIComponent(keyId)}`, { method: 'DELETE' });

export const getMembers = (farmId: string, signal?: AbortSignal): Promise<Member[]> =>
  api<Member[]>(`${farm(farmId)}/members`, { signal });

export const inviteMember = (farmId: string, email: string, role: Role): Promise<Member> =>
  api<Member>(`${farm(farmId)}/members`, { method: 'POST', body: { email, role } });

export const updateMember = (farmId: string, userId: string, role: Role): Promise<Member> =>
  api<Member>(`${farm(farmId)}/members/${encodeURIComponent(userId)}`, { method: 'PATCH', body: { role } });

export const removeMember = (farmId: string, userId: string): Promise<void> =>
  api<void>(`${farm(farmId)}/members/${encodeURIComponent(userId)}`, { method: 'DELETE' });
