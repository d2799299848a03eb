import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes } from 'react-router';

import type { FarmAccess, Me } from '../api/types';
import { FarmContext } from '../lib/farm';

export const FARM: FarmAccess = {
  farm_id: '11111111-1111-1111-1111-111111111111',
  name: 'Cascina Test',
  time_zone: 'Europe/Rome',
  role: 'farmer',
};

export const ME: Me = { user: { id: '00000000-0000-0000-0000-000000000001', email: 'anna@example.it' }, farms: [FARM] };

/** Renders a page inside the providers the app gives it, at `path` matched by `pattern`. */
export function renderPage(
  page: ReactElement,
  { path = '/', pattern = '*', farm = FARM }: { path?: string; pattern?: string; farm?: FarmAccess } = {},
): RenderResult & { client: QueryClient } {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <QueryClientProvider client={client}>
      <FarmContext.Provider value={{ farm, me: { ...ME, farms: [farm] } }}>
        <MemoryRouter initialEntries={[path]}>
          <Routes>
            <Route path={pattern} element={page} />
          </Routes>
        </MemoryRouter>
      </FarmContext.Provider>
    </QueryClientProvider>,
  );
  return { ...result, client };
}
