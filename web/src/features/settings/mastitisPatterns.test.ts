import { addPattern, DEFAULT_PATTERNS, samePatterns, validatePatterns } from './mastitisPatterns';

const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `name ${i}`);

describe('mastitis diagnosis names', () => {
  it('adds a trimmed name at the end', () => {
    expect(addPattern(['mastitis'], '  mastite clinica ')).toEqual({ patterns: ['mastitis', 'mastite clinica'] });
  });

  it('refuses a name of 1 or 61 characters and takes 2 and 60, counting characters not UTF-16 units', () => {
    expect(addPattern([], 'm')).toEqual({ error: { code: 'length', name: 'm' } });
    expect(addPattern([], '   ')).toEqual({ error: { code: 'length', name: '' } });
    expect(addPattern([], 'x'.repeat(61))).toEqual({ error: { code: 'length', name: 'x'.repeat(61) } });
    expect(addPattern([], 'ab')).toEqual({ patterns: ['ab'] });
    expect(addPattern([], 'x'.repeat(60))).toEqual({ patterns: ['x'.repeat(60)] });
    // 31 emoji are 62 UTF-16 units but 31 characters, as Python counts them.
    expect(addPattern([], '🐄'.repeat(31))).toEqual({ patterns: ['🐄'.repeat(31)] });
  });

  it('refuses a name already in the list, whatever its case and accents', () => {
    expect(addPattern(['Mastite'], 'mastite')).toEqual({ error: { code: 'duplicate', name: 'mastite' } });
    expect(addPattern(['Euterentzündung'], 'EUTERENTZÜNDUNG')).toEqual({
      error: { code: 'duplicate', name: 'EUTERENTZÜNDUNG' },
    });
    expect(addPattern(['euterentzündung'], 'Euterentzundung')).toEqual({
      error: { code: 'duplicate', name: 'Euterentzundung' },
    });
    expect(addPattern(['mastite'], 'mastité')).toEqual({ error: { code: 'duplicate', name: 'mastité' } });
  });

  it('refuses a 51st name', () => {
    expect(addPattern(many(50), 'one more')).toEqual({ error: { code: 'tooMany' } });
    expect(addPattern(many(49), 'one more')).toEqual({ patterns: [...many(49), 'one more'] });
  });

  it('refuses a NUL, which PostgreSQL cannot store', () => {
    expect(addPattern([], 'mas\u0000titis')).toEqual({ error: { code: 'nul', name: 'mas\u0000titis' } });
  });

  it('checks the whole list before saving: not empty, at most 50, every name valid and once', () => {
    expect(validatePatterns([])).toEqual({ code: 'none' });
    expect(validatePatterns(many(51))).toEqual({ code: 'tooMany' });
    expect(validatePatterns(many(50))).toBeNull();
    expect(validatePatterns(['mastitis', 'x'])).toEqual({ code: 'length', name: 'x' });
    expect(validatePatterns(['mastitis', 'MASTITIS'])).toEqual({ code: 'duplicate', name: 'MASTITIS' });
    expect(validatePatterns([...DEFAULT_PATTERNS])).toBeNull();
  });

  it('knows when nothing changed', () => {
    expect(samePatterns(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(samePatterns(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(samePatterns(['a'], ['a', 'b'])).toBe(false);
  });
});
