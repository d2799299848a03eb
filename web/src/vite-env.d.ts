/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** `local` (the API's own sign-in, the default) or `supabase` (Supabase Auth). */
  readonly VITE_AUTH_MODE?: 'local' | 'supabase';
  /** Base URL of the API; empty means the same origin that served the page. */
  readonly VITE_API_URL?: string;
  readonly VITE_SUPABASE_URL?: string;
  readonly VITE_SUPABASE_ANON_KEY?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
