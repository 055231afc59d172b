/* Tandem Field: the installable, offline-capable field pages.
   - registers the service worker (scope /field/) and the web app manifest;
   - while online, fetches today's visit pages so that they open offline;
   - offline, a visit report or a check-in/out is queued in IndexedDB with a uuid made here;
     when the connection returns the queue is sent to the sync API, which applies each
     operation once (a repeat answers "duplicate"), so nothing is stored twice;
   - a conflict (the visit changed since its page was loaded: another version) is shown,
     never overwritten. */
(function () {
  "use strict";
  const app = document.getElementById("field-app");
  if (!app) return;
  const statusLine = document.getElementById("field-status");

  const link = document.createElement("link");
  link.rel = "manifest";
  link.href = app.dataset.manifest;
  document.head.appendChild(link);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(app.dataset.worker, { scope: app.dataset.scope }).catch(() => {});
  }
  if (navigator.onLine) {
    document.querySelectorAll("a[data-prefetch]").forEach((a) => {
      fetch(a.href, { credentials: "same-origin" }).catch(() => {});
    });
  }

  function newId() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("tandem-field", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("queue", { keyPath: "uuid" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function store(mode, action) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("queue", mode);
      const request = action(tx.objectStore("queue"));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const queueAdd = (entry) => store("readwrite", (s) => s.put(entry));
  const queueRemove = (id) => store("readwrite", (s) => s.delete(id));
  const queueAll = () => store("readonly", (s) => s.getAll());

  function say(text) {
    if (statusLine) statusLine.textContent = text;
  }

  async function showCount() {
    const waiting = (await queueAll()).length;
    app.dataset.waiting = String(waiting);
    if (waiting) say(`${waiting} ⟳`);
  }

  function csrf(fallback) {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : fallback;
  }

  function showConflict(result) {
    const box = document.getElementById("offline-conflicts");
    const visit = result.visit || {};
    if (box && document.querySelector(`[data-visit="${visit.uuid}"]`)) {
      box.hidden = false;
      box.querySelector("blockquote").textContent = `v${visit.version}: ${visit.notes || ""}`;
    }
    say(document.querySelector("[data-conflict]")?.dataset.conflict || "conflict");
  }

  function applied(result) {
    const visit = result.visit;
    if (!visit) return;
    const form = document.querySelector(`form[data-visit="${visit.uuid}"]`);
    if (form && form.elements.base_version) form.elements.base_version.value = visit.version;
    const version = document.getElementById("visit-version");
    if (version && form) version.textContent = visit.version;
  }

  let flushing = false;
  async function flush() {
    if (flushing || !navigator.onLine) return;
    flushing = true;
    try {
      const queued = (await queueAll()).sort((a, b) => a.queuedAt - b.queuedAt);
      for (const entry of queued.filter((e) => e.upload)) {
        /* a photo: its own request; the uuid makes a repeat answer the stored one */
        const body = new FormData();
        body.append("file", entry.upload.file, entry.upload.name);
        const sent = await fetch(`${entry.upload.url}?uuid=${entry.uuid}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrf(entry.csrf) },
          body,
        });
        if (sent.status >= 500) return;
        await queueRemove(entry.uuid);
        if (!sent.ok) say((await sent.json()).message || String(sent.status));
      }
      const entries = queued.filter((e) => !e.upload);
      if (!entries.length) return;
      const response = await fetch(app.dataset.syncUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(entries[0].csrf) },
        body: JSON.stringify({ operations: entries.map((e) => e.op) }),
      });
      if (!response.ok) return;
      const answer = await response.json();
      let trouble = false;
      for (const result of answer.results) {
        await queueRemove(result.uuid);
        const outcome = result.status === "duplicate" ? result.first : result.status;
        if (outcome === "conflict") {
          trouble = true;
          showConflict(result);
        } else if (outcome === "invalid") {
          trouble = true;
          say(Object.entries(result.errors || {}).map(([k, v]) => `${k}: ${v.join(" ")}`).join("; "));
        } else {
          applied(result);
        }
      }
      const saved = document.querySelector("[data-saved]");
      if (!trouble) say(saved ? saved.dataset.saved : "✓");
    } catch (error) {
      /* still offline: the queue stays */
    } finally {
      flushing = false;
      app.dataset.flushed = String(Date.now());
      await showCount();
    }
  }

  async function enqueue(form, op) {
    const token = form.querySelector("[name=csrfmiddlewaretoken]");
    await queueAdd({ uuid: op.uuid, op, queuedAt: Date.now(), csrf: token ? token.value : "" });
    say(document.querySelector("[data-queued]")?.dataset.queued || "queued");
    await showCount();
    app.dataset.queuedOps = String(Number(app.dataset.queuedOps || 0) + 1);
  }

  document.querySelectorAll("form[data-offline-report]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      if (navigator.onLine) return; /* online: the page posts it and shows errors at once */
      event.preventDefault();
      const fields = {};
      new FormData(form).forEach((value, key) => {
        if (key !== "csrfmiddlewaretoken") fields[key] = String(value);
      });
      await enqueue(form, { uuid: newId(), kind: "report", visit: form.dataset.visit, fields });
    });
  });

  document.querySelectorAll("form[data-offline-attach]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      if (navigator.onLine) return;
      event.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) return;
      const token = form.querySelector("[name=csrfmiddlewaretoken]");
      const id = newId();
      await queueAdd({
        uuid: id,
        upload: { url: form.dataset.url, file, name: file.name },
        queuedAt: Date.now(),
        csrf: token ? token.value : "",
      });
      say(document.querySelector("[data-queued]")?.dataset.queued || "queued");
      await showCount();
    });
  });

  function locate() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
        () => resolve(null),
        { timeout: 3000, maximumAge: 60000 },
      );
    });
  }

  document.querySelectorAll("form[data-locate]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.located) return;
      event.preventDefault();
      const place = await locate();
      if (place) {
        form.elements.lat.value = place.lat.toFixed(6);
        form.elements.lon.value = place.lon.toFixed(6);
      }
      if (navigator.onLine || !form.dataset.kind) {
        form.dataset.located = "1";
        form.submit();
        return;
      }
      await enqueue(form, {
        uuid: newId(),
        kind: form.dataset.kind,
        visit: form.dataset.visit,
        at: new Date().toISOString(),
        lat: place ? place.lat : null,
        lon: place ? place.lon : null,
      });
    });
  });

  window.addEventListener("online", flush);
  flush();
  showCount();
})();
