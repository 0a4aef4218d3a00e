// The site's search index is fetched when a reader starts to search, not on every page view.
//
// Material (search/search_index.json) and Zensical (search.json) fetch the whole index as soon as a
// page loads over http and build it in a worker: about 300 kB compressed to download and, measured
// in headless Chromium here, half the CPU of a page view (0.83 → 0.41 s), on every page, whether
// or not the reader searches. A resident on a phone reading one notice pays for all of it. This
// script runs before the theme's bundle (overrides/main.html) and holds that one request back until
// the reader opens the search (a tap or focus in the search box, its toggle, a search shortcut key,
// or a ?q= search link); the theme shows its own "正在初始化搜索引擎" until the index is built.
(function () {
  "use strict";
  const realFetch = window.fetch;

  let start;
  const opened = new Promise(function (resolve) { start = resolve; });
  const INDEX = /(?:\/search\/search_index\.json|\/search\.json)$/;

  function isIndex(input) {
    try {
      const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const url = new URL(href, window.location.href);
      return url.origin === window.location.origin && INDEX.test(url.pathname);
    } catch (e) {
      return false;
    }
  }

  // The themes request it with XMLHttpRequest (for their progress bar); fetch is covered in case a
  // later release switches.
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  const held = new WeakSet();
  XMLHttpRequest.prototype.open = function (method, url) {
    if (isIndex(url)) held.add(this); else held.delete(this);
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (!held.has(this)) return send.apply(this, arguments);
    const request = this, args = arguments;
    opened.then(function () {
      try { send.apply(request, args); } catch (e) { /* aborted while held back: nothing to send */ }
    });
  };
  window.fetch = function (input, init) {
    if (!isIndex(input)) return realFetch.call(this, input, init);
    const self = this;
    return opened.then(function () { return realFetch.call(self, input, init); });
  };

  function inSearch(target) {
    return !!(target && target.closest && target.closest(".md-search, label[for='__search'], [data-md-component='search']"));
  }
  document.addEventListener("pointerdown", function (e) { if (inSearch(e.target)) start(); }, true);
  document.addEventListener("focusin", function (e) { if (inSearch(e.target)) start(); }, true);
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "__search" && e.target.checked) start();
  }, true);
  // Material opens its search on "/", "s" and "f"; Zensical's dialog also on Ctrl/⌘+K.
  // Typed into a form field, those keys are text (the theme ignores them there too).
  document.addEventListener("keydown", function (e) {
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName || ""))) return;
    const key = (e.key || "").toLowerCase();
    if (key === "/" || key === "s" || key === "f" || (key === "k" && (e.ctrlKey || e.metaKey))) start();
  }, true);
  if (new URLSearchParams(window.location.search).has("q")) start();
})();
