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
    // bench/web.py reads the chunk graph from dist/.vite/manifest.json.
    manifest: true,
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
