/**
 * The API token in the browser: kept in localStorage, taken once from the URL fragment
 * (`http://gateway:8080/#token=...`, handy for the kiosk's start-up URL) and then removed from it.
 * A fragment is never sent to the server, so the token does not land in any access log.
 */
const KEY = 'canplug.token';

export function takeTokenFromUrl(): void {
  const match = /(?:^#|[&#/?])token=([^&]+)/.exec(location.hash);
  if (!match) return;
  setToken(decodeURIComponent(match[1]));
  const rest = location.hash.replace(/[&?]?token=[^&]+/, '').replace(/^#&/, '#');
  history.replaceState(null, '', `${location.pathname}${location.search}${rest === '#' ? '' : rest}`);
}

export function getToken(): string {
  try {
    return localStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  try {
    if (token) localStorage.setItem(KEY, token.trim());
    else localStorage.removeItem(KEY);
  } catch {
    // private mode without storage: the token lasts for this page only
  }
}
