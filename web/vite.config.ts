/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is a static site: `npm run build` writes web/dist, which the API serves
// (`pecus serve` / `pecus demo`) or a static host publishes.
export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    sourcemap: false,
    rolldownOptions: {
      output: {
        // Charts are the heaviest dependency and only the cow page needs them: keep them in their
        // own chunk so the entry stays small on a farm's mobile connection.
        codeSplitting: {
          groups: [{ name: 'charts', test: /node_modules[\\/](recharts|d3-|victory-vendor|decimal\.js-light|es-toolkit|@reduxjs|redux|reselect|immer|react-redux|use-sync-external-store)/ }],
        },
      },
    },
  },
  server: {
    proxy: { '/api': process.env.PECUS_API_URL ?? 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
  },
});
