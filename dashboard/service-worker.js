// canplug's service worker: keeps the dashboard's own files, so that opening the page while the
// gateway is away shows the page with its "cannot be reached" banner instead of the browser's error
// page. Live data (/api, /docs, /metrics) never comes from here. Browsers run service workers only on
// https and on localhost (the kiosk); see docs/dashboard.md. The build (vite.config.ts) fills in
// SHELL (every file of the build) and VERSION (a hash of them), so a new build replaces the cache.
const SHELL = self.__SHELL__;
const CACHE = `canplug-shell-${self.__VERSION__}`;
const PAGE = new URL('./', self.location).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('canplug-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  if (/^(api|docs|metrics)(\/|$)/.test(path)) return;
  if (request.mode === 'navigate') {
    // The gateway's current page when it answers; the kept one only when it does not.
    event.respondWith(fetch(request).catch(() => caches.match(PAGE).then((kept) => kept ?? Response.error())));
    return;
  }
  // The build's files: asset names carry a content hash, so a kept copy is always the right one.
  event.respondWith(caches.match(request, { ignoreSearch: true }).then((kept) => kept ?? fetch(request)));
});
