// The farm the user is looking at, provided by the farm layout route to every page below it.
import { createContext, useContext } from 'react';

import type { FarmAccess, Me } from '../api/types';

export interface FarmContextValue {
  farm: FarmAccess;
  me: Me;
}

export const FarmContext = createContext<FarmContextValue | null>(null);

export function useFarm(): FarmContextValue {
  const value = useContext(FarmContext);
  if (!value) throw new Error('useFarm() outside a farm route');
  return value;
}

/** Owners manage the farm; owners, farmers and vets act on alerts; viewers only read. */
export const canManage = (farm: FarmAccess): boolean => farm.role === 'owner';
export const canActOnAlerts = (farm: FarmAccess): boolean => farm.role !== 'viewer';
