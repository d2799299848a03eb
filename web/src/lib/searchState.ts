import { useState } from 'react';
import { useSearchParams } from 'react-router';

export type SearchChanges = Record<string, string | null>;

/**
 * Filters kept in the URL (so a reload or a shared link shows the same list), mirrored in local
 * state so inputs follow every keystroke at once; the router updates the URL in a transition,
 * and an input bound to the URL alone would lag behind or lose what was typed.
 */
export function useSearchState(): [URLSearchParams, (changes: SearchChanges, keepPage?: boolean) => void] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const [local, setLocal] = useState(() => new URLSearchParams(key));
  const [seen, setSeen] = useState(key);
  // What we wrote to the URL lately: those arrive late, one by one, and must not undo later typing.
  const [written, setWritten] = useState<string[]>([]);
  if (key !== seen) {
    setSeen(key);
    // Someone else changed the URL (a link, the address bar): follow it.
    if (!written.includes(key) && local.toString() !== key) setLocal(new URLSearchParams(key));
  }

  const update = (changes: SearchChanges, keepPage = false): void => {
    const next = new URLSearchParams(local);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null || value === '') next.delete(name);
      else next.set(name, value);
    }
    if (!keepPage) next.delete('page');
    setLocal(next);
    setWritten((list) => [...list.slice(-19), next.toString()]);
    setParams(next, { replace: true });
  };
  return [local, update];
}
