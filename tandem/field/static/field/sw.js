/* Tandem Field service worker, served from /field/sw.js so that its scope is /field/.
   Pages under the scope: network first, the last copy when offline. Scripts, styles, images
   and fonts of this origin: from the cache first. Writes (POST) are never cached: the pages
   queue them in IndexedDB and send them to the sync API when the connection returns. */
"use strict";
const CACHE = "tandem-field-v1";
const ASSETS = new Set(["script", "style", "image", "font", "manifest"]);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.endsWith("/sw.js")) return;
  if (ASSETS.has(request.destination)) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.startsWith(new URL(self.registration.scope).pathname)) {
    event.respondWith(networkFirst(request));
  }
});
