// The store name rules of the gateway (StoreRules.nameProblem in StoreModel.swift), mirrored exactly so
// the form can say what is wrong before anything is sent. Keep the two in step.

export const reservedNames = new Set([
  'admin', 'api', 'www', 'dashboard', 'platform', 'app', 'mail', 'smtp', 'ftp', 'static', 'assets', 'cdn',
  'status', 'metrics', 'grafana', 'prometheus', 'auth', 'login', 'storefleet', 'kube-system', 'default', 'system',
]);

/** Swift's String.count counts grapheme clusters; so does this. */
function characterCount(text) {
  if (typeof Intl !== 'undefined' && Intl.Segmenter) {
    let count = 0;
    for (const _ of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)) count += 1;
    return count;
  }
  return [...text].length;
}

/** What is wrong with `name` in the server's words ("must be 3 to 40 characters"), or null. */
export function nameProblem(name) {
  const count = characterCount(name);
  if (count < 3 || count > 40) return 'must be 3 to 40 characters';
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase letter';
  if (!/^[a-z0-9-]*$/.test(name)) return "may contain only lowercase letters, digits and '-'";
  if (name.endsWith('-')) return "must not end with '-'";
  if (reservedNames.has(name)) return 'is reserved';
  return null;
}
