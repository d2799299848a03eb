import { useEffect, useState } from 'react';

import { auth, onAuthChange } from '../api/session';

/** null while the stored session is being read, then whether someone is signed in. */
export function useSignedIn(): boolean | null {
  const [signedIn, setSignedIn] = useState<boolean | null>(null);
  useEffect(() => {
    let active = true;
    void auth.isSignedIn().then((value) => {
      if (active) setSignedIn(value);
    });
    const unsubscribe = onAuthChange((value) => setSignedIn(value));
    return () => {
      active = false;
      unsubscribe();
    };
  }, []);
  return signedIn;
}
