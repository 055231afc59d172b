/* Tandem website snippet: page views and form submissions with a first-party anonymous id.
   <script src="https://TANDEM/static/tracking/tandem.js" data-write-key="tdw_..." defer></script>
   Sends text/plain JSON (no CORS preflight) to the Segment-compatible browser paths. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.tandem) { return; }
  var writeKey = script.getAttribute("data-write-key") || "";
  var host = script.getAttribute("data-host") || new URL(script.src).origin;
  var KEY = "tdm_aid";

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 3 | 8)).toString(16);
    });
  }
  function readCookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function anonymousId() {
    var id = "";
    try { id = localStorage.getItem(KEY) || ""; } catch (e) { id = ""; }
    id = id || readCookie(KEY) || uuid();
    try { localStorage.setItem(KEY, id); } catch (e) { /* private mode */ }
    document.cookie = KEY + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax";
    return id;
  }
  function context() {
    return {
      page: { url: location.href, path: location.pathname, referrer: document.referrer,
              title: document.title, search: location.search },
      userAgent: navigator.userAgent, locale: navigator.language,
      library: { name: "tandem.js", version: "1" }
    };
  }
  function send(path, body) {
    body.writeKey = writeKey;
    body.anonymousId = anonymousId();
    body.messageId = "tdm-" + uuid();
    body.context = context();
    var now = new Date().toISOString();
    body.originalTimestamp = now;
    body.sentAt = now;
    var data = JSON.stringify(body);
    var url = host + "/v1/" + path;
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([data], { type: "text/plain" }))) {
      return;
    }
    fetch(url, { method: "POST", body: data, keepalive: true, headers: { "Content-Type": "text/plain" } });
  }
  var api = {
    page: function (name, properties) {
      send("p", { name: name || document.title, properties: properties || { url: location.href } });
    },
    track: function (event, properties) { send("t", { event: event, properties: properties || {} }); },
    identify: function (userId, traits) { send("i", { userId: userId, traits: traits || {} }); },
    anonymousId: anonymousId
  };
  window.tandem = api;
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var email = form.querySelector("input[type=email]");
    var props = { form_id: form.id || form.getAttribute("data-tandem-form") || "",
                  action: form.getAttribute("action") || "" };
    send("t", { event: "Form Submitted", properties: props });
    if (email && email.value) { send("i", { traits: { email: email.value } }); }
    var hidden = form.querySelector("input[name=anonymous_id]");
    if (!hidden) {
      hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "anonymous_id"; form.appendChild(hidden);
    }
    hidden.value = anonymousId();
  }, true);
  api.page();
})();
