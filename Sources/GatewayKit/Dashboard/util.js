// Helpers for asynchronous view code.

/**
 * Wraps an async loader so that overlapping calls coalesce: while one run is in flight, further calls
 * schedule exactly one more run after it. Errors go to `onError` (never an unhandled rejection).
 */
export function coalesced(load, onError) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await load();
        } catch (error) {
          if (error?.name !== 'AbortError') onError(error);
        }
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
  return run;
}

/** Calls `fn` once, `ms` after the last of a burst of calls. */
export function debounced(fn, ms) {
  let timer = null;
  const call = () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

export function isAbort(error) {
  return error?.name === 'AbortError';
}
