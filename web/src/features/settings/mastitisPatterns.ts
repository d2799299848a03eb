// The farm's mastitis diagnosis names: the same limits as the API (FarmSettingsUpdate), checked
// before sending so the owner reads which name is wrong without a round trip.

export const MIN_PATTERNS = 1;
export const MAX_PATTERNS = 50;
export const MIN_PATTERN_LENGTH = 2;
export const MAX_PATTERN_LENGTH = 60;

/** The API's defaults: "mastitis" in Italian, English/Latin, German, Dutch and French. */
export const DEFAULT_PATTERNS = ['mastitis', 'mastite', 'euterentzündung', 'uierontsteking', 'mammite'] as const;

export type PatternError =
  | { code: 'none' }
  | { code: 'tooMany' }
  | { code: 'length'; name: string }
  | { code: 'duplicate'; name: string }
  | { code: 'nul'; name: string };

/** The API compares names without case and accents ("Mastité" is "mastite"): so does the duplicate check. */
const fold = (name: string): string => name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
const same = (a: string, b: string): boolean => fold(a) === fold(b);

/** What is wrong with one name, alone (its length, a NUL PostgreSQL cannot store), or null. */
function nameError(name: string): PatternError | null {
  if (name.includes('\u0000')) return { code: 'nul', name };
  const length = [...name].length; // characters, as the API counts them, not UTF-16 units
  if (length < MIN_PATTERN_LENGTH || length > MAX_PATTERN_LENGTH) return { code: 'length', name };
  return null;
}

/** Adds `text` (trimmed) to `patterns`, or says why it cannot be added. */
export function addPattern(patterns: readonly string[], text: string): { patterns: string[] } | { error: PatternError } {
  const name = text.trim();
  const wrong = nameError(name);
  if (wrong) return { error: wrong };
  if (patterns.some((p) => same(p, name))) return { error: { code: 'duplicate', name } };
  if (patterns.length >= MAX_PATTERNS) return { error: { code: 'tooMany' } };
  return { patterns: [...patterns, name] };
}

/** The first reason the whole list would be refused, or null when it can be saved. */
export function validatePatterns(patterns: readonly string[]): PatternError | null {
  if (patterns.length < MIN_PATTERNS) return { code: 'none' };
  if (patterns.length > MAX_PATTERNS) return { code: 'tooMany' };
  for (const [i, name] of patterns.entries()) {
    const wrong = nameError(name);
    if (wrong) return wrong;
    if (patterns.slice(0, i).some((p) => same(p, name))) return { code: 'duplicate', name };
  }
  return null;
}

/** Whether two lists hold the same names in the same order (nothing to save). */
export const samePatterns = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((name, i) => name === b[i]);
