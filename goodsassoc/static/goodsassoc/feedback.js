/* goodsassoc feedback: posts each widget's impressions once the page has loaded, and a click
 * when a recommendation is followed (no redirect hop). Events wait in localStorage until the
 * server has them, so a failed or cut-off post is sent again on the next page (at-least-once);
 * deterministic event ids and request ids make the server store each one once. */
(function () {
  "use strict";
  if (window.goodsassocFeedback) { window.goodsassocFeedback.scan(); return; }
  var STORE = "goodsassoc:pending", MAX_PENDING = 500, BATCH = 200, endpoint = "", csrf = "", skew = 0;
  var sending = {};  // event ids of this page's posts still in flight: never posted twice at once

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(events) {
    try { window.localStorage.setItem(STORE, JSON.stringify(events.slice(-MAX_PENDING))); } catch (e) { /* private mode */ }
  }
  function queue(events) {
    var pending = load(), known = {};
    pending.forEach(function (e) { known[e.event_id] = true; });
    events.forEach(function (e) { if (!known[e.event_id]) { pending.push(e); } });
    save(pending);
  }
  function forget(ids) {
    var gone = {};
    ids.forEach(function (id) { gone[id] = true; });
    save(load().filter(function (e) { return !gone[e.event_id]; }));
  }
  function flush() {
    var batch = load().filter(function (e) { return !sending[e.event_id]; }).slice(0, BATCH);
    if (!batch.length || !endpoint) { return; }
    var ids = batch.map(function (e) { return e.event_id; });
    ids.forEach(function (id) { sending[id] = true; });
    function settled() { ids.forEach(function (id) { delete sending[id]; }); }
    fetch(endpoint, {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({events: batch})
    }).then(function (response) {
      // 2xx: stored; 4xx other than 429: never storable, so do not retry forever.
      if (response.status < 500 && response.status !== 429) { forget(ids); }
      settled();
    }).catch(function () { settled(); /* offline: kept for the next page */ });
  }
  function event(section, item, kind) {
    var d = section.dataset, key = item.dataset.goodsassocKey, e = {
      event_id: item.dataset[kind === "click" ? "goodsassocClickId" : "goodsassocImpressionId"],
      kind: kind, request_id: d.goodsassocRequest, widget: d.goodsassocWidget,
      position: parseInt(item.dataset.goodsassocPosition, 10), strategy: d.goodsassocStrategy,
      timestamp: new Date(Date.now() + skew).toISOString()
    };
    if (d.goodsassocWidget === "shops") { e.shop = key; } else { e.product = key; }
    if (d.goodsassocVersion) { e.model_version = parseInt(d.goodsassocVersion, 10); }
    if (d.goodsassocArm) { e.arm = d.goodsassocArm; }
    if (d.goodsassocAnchor) { e.anchor = d.goodsassocAnchor; }
    return e;
  }
  function scan() {
    var fresh = [];
    document.querySelectorAll("section[data-goodsassoc-endpoint]:not([data-goodsassoc-seen])").forEach(function (s) {
      s.setAttribute("data-goodsassoc-seen", "1");
      endpoint = s.dataset.goodsassocEndpoint; csrf = s.dataset.goodsassocCsrf || csrf;
      // A client clock far off the server's would put events in the future (refused) or the past.
      var offset = parseInt(s.dataset.goodsassocNow || "0", 10) - Date.now();
      if (s.dataset.goodsassocNow && Math.abs(offset) > 120000) { skew = offset; }
      s.querySelectorAll("li[data-goodsassoc-impression-id]").forEach(function (item) {
        fresh.push(event(s, item, "impression"));
      });
    });
    if (fresh.length) { queue(fresh); }
    flush();
  }
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("section[data-goodsassoc-endpoint] li[data-goodsassoc-click-id] a");
    if (!link) { return; }
    var item = link.closest("li"), section = link.closest("section");
    // A click may come before the page's first scan (which waits for an idle moment).
    endpoint = endpoint || section.dataset.goodsassocEndpoint; csrf = csrf || section.dataset.goodsassocCsrf || "";
    queue([event(section, item, "click")]);
    flush();  // keepalive: survives the navigation that follows
  }, true);
  window.goodsassocFeedback = {scan: scan, flush: flush};
  var later = window.requestIdleCallback || function (fn) { return window.setTimeout(fn, 1); };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { later(scan); });
  } else { later(scan); }
})();
