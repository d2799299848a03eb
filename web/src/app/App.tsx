import { QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { createBrowserRouter, RouterProvider } from 'react-router';

import { getMe, queryKeys } from '../api/endpoints';
import { auth } from '../api/session';
import { Loading } from '../components/StateViews';
import { prefetchCowPage } from '../features/cow/prefetch';
import { FarmRoute, HomeRedirect, NotFoundPage, RequireAuth } from './guards';
import { makeQueryClient } from './queryClient';

// Every page is its own chunk; the cow page's charts are a further chunk of their own.
const SignInPage = lazy(() => import('../features/auth/SignInPage'));
const OverviewPage = lazy(() => import('../features/herd/OverviewPage'));
const HerdListPage = lazy(() => import('../features/herd/HerdListPage'));
const CowPage = lazy(() => import('../features/cow/CowPage'));
const AlertsPage = lazy(() => import('../features/alerts/AlertsPage'));
const AccuracyPage = lazy(() => import('../features/accuracy/AccuracyPage'));
const SettingsPage = lazy(() => import('../features/settings/SettingsPage'));

const client = makeQueryClient();

/** Loaders start the data a page needs while its code loads; they never wait (pages show their own
 * loading state), and they do nothing for someone signed out. */
async function signedIn(): Promise<boolean> {
  return auth.isSignedIn();
}

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
        hydrateFallbackElement: <Loading />,
        loader: async () => {
          if (await signedIn()) void client.prefetchQuery({ queryKey: queryKeys.me, queryFn: ({ signal }) => getMe(signal) });
          return null;
        },
        children: [
          { index: true, element: <OverviewPage /> },
          { path: 'cows', element: <HerdListPage /> },
          {
            path: 'cows/:animalId',
            element: <CowPage />,
            loader: async ({ params, request }) => {
              if (params.farmId && params.animalId && (await signedIn())) {
                prefetchCowPage(client, params.farmId, params.animalId, new URL(request.url).search);
              }
              return null;
            },
          },
          { path: 'alerts', element: <AlertsPage /> },
          { path: 'accuracy', element: <AccuracyPage /> },
          { path: 'settings', element: <SettingsPage /> },
        ],
      },
    ],
  },
  { path: '*', element: <NotFoundPage /> },
]);

export function App() {
  return (
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
