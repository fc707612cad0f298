/* Carechat console's service worker: makes the console installable and
   opens its shell (the page, script, style and icon) when the network is
   slow or gone. It caches those four files and nothing else: never an API
   answer, so no patient's words are ever kept on the device by it. */
'use strict';
var CACHE = 'carechat-shell-v1';
var SHELL = ['/console', '/console.js', '/console.css', '/icon.svg'];

self.addEventListener('install', function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// Web Push (docs/notify.md): a waiting or urgent chat, said without a
// patient's word; a tap opens the console.
self.addEventListener('push', function (e) {
  var d = {};
  try { d = e.data ? e.data.json() : {}; } catch (x) { d = {}; }
  e.waitUntil(self.registration.showNotification(d.title || 'Carechat', {
    body: d.body || 'A chat is waiting.',
    tag: d.tag || 'carechat',
    icon: '/icon.svg',
    renotify: true,
    requireInteraction: !!d.urgent,
    data: { url: d.url || '/console' }
  }));
});

self.addEventListener('notificationclick', function (e) {
  e.notification.close();
  var url = (e.notification.data && e.notification.data.url) || '/console';
  e.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (new URL(list[i].url).pathname === '/console' && 'focus' in list[i]) return list[i].focus();
    }
    return self.clients.openWindow(url);
  }));
});

// The shell: the network first (a new version shows at once), the cached
// copy when it fails. Everything else goes to the network untouched.
self.addEventListener('fetch', function (e) {
  var url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || SHELL.indexOf(url.pathname) < 0) return;
  e.respondWith(fetch(e.request).then(function (r) {
    if (r.ok) {
      var copy = r.clone();
      caches.open(CACHE).then(function (c) { c.put(url.pathname, copy); });
    }
    return r;
  }).catch(function () {
    return caches.match(url.pathname);
  }));
});
