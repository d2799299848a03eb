import { QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { createBrowserRouter, RouterProvider } from 'react-router';

import { Loading } from '../components/StateViews';
import { FarmRoute, HomeRedirect, NotFoundPage, RequireAuth } from './guards';
import { makeQueryClient } from './queryClient';

// Every page is its own chunk; the cow page's charts are a further chunk of their own.
const SignInPage = lazy(() => import('../features/auth/SignInPage'));
const OverviewPage = lazy(() => import('../features/herd/OverviewPage'));
const HerdListPage = lazy(() => import('../features/herd/HerdListPage'));
const CowPage = lazy(() => import('../features/cow/CowPage'));
const AlertsPage = lazy(() => import('../features/alerts/AlertsPage'));
const SettingsPage = lazy(() => import('../features/settings/SettingsPage'));

const router = createBrowserRouter([
  {
    path: '/login',
    element: (
      <Suspense fallback={<Loading />}>
        <SignInPage />
      </Suspense>
    ),
  },
  {
    element: <RequireAuth />,
    children: [
      { path: '/', element: <HomeRedirect /> },
      {
        path: '/farms/:farmId',
        element: <FarmRoute />,
        children: [
          { index: true, element: <OverviewPage /> },
          { path: 'cows', element: <HerdListPage /> },
          { path: 'cows/:animalId', element: <CowPage /> },
          { path: 'alerts', element: <AlertsPage /> },
          { path: 'settings', element: <SettingsPage /> },
        ],
      },
    ],
  },
  { path: '*', element: <NotFoundPage /> },
]);

export function App() {
  const [client] = useState(makeQueryClient);
  return (
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
