// Build-time configuration (Vite inlines import.meta.env at build time).
export type AuthMode = 'local' | 'supabase';

export const authMode: AuthMode = import.meta.env.VITE_AUTH_MODE === 'supabase' ? 'supabase' : 'local';
export const supabaseUrl: string = import.meta.env.VITE_SUPABASE_URL ?? '';
export const supabaseAnonKey: string = import.meta.env.VITE_SUPABASE_ANON_KEY ?? '';

/** Base URL of the API; empty means the origin that served the page (`pecus serve`). */
export function apiBaseUrl(): string {
  return (import.meta.env.VITE_API_URL ?? '').replace(/\/+$/, '');
}
