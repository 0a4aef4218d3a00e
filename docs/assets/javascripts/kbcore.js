// The few things every page script needs, once: where the site (and its API) lives, a DOM
// builder that keeps text escaped, fetch + JSON, copying, and "run on every page view".
// Loaded first in mkdocs.yml's extra_javascript; the page scripts use window.KB and keep no
// private copies (tests/site/test_javascript.py checks that). Plain ES2017, no libraries.
(function () {
  "use strict";

  // The site root is two levels above this file (assets/javascripts/kbcore.js), so the site
  // and its API keep working when served under a sub-path (https://host/kb/). document.currentScript
  // is only known while this file runs: resolved once, here. Without it (a script injected by
  // some other means), Material's #__config names the base relative to the page.
  var root = (function () {
    var script = document.currentScript;
    if (script && script.src) return new URL("../../", script.src).href;
    try {
      var config = JSON.parse(document.getElementById("__config").textContent);
      return new URL(config.base.replace(/\/?$/, "/"), location.href).href;
    } catch (e) {
      return new URL("/", location.href).href;
    }
  })();

  // "scripts/" or "/scripts/" -> <root>scripts/ (an absolute URL): paths from the API start with
  // "/" but mean the site root, which is not the host's root under a sub-path.
  function url(sitePath) {
    return new URL(String(sitePath || "").replace(/^\/+/, ""), root).href;
  }

  // The same as a path from the host's root ("/scripts/", "/kb/scripts/" under /kb/), for href
  // attributes: links the page writes look like the ones the API gives and the service's pages use.
  function path(sitePath) {
    var target = new URL(url(sitePath));
    return target.origin === location.origin ? target.pathname + target.search + target.hash : target.href;
  }

  function api(apiPath) {
    return url("api/" + String(apiPath || "").replace(/^\/+/, ""));
  }

  // el("a", {href: u, className: "x", text: "t", dataset: {id: "1"}}, [child, "text", ...]).
  // attrs: className and text (-> textContent) and dataset are set as properties, everything
  // else as an attribute (true -> present, false/null/undefined -> left out). children: a node,
  // a string (a text node, never parsed as HTML), or an array of them; null/""/false are skipped.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "text" || name === "textContent") node.textContent = String(value);
      else if (name === "className") node.className = String(value);
      else if (name === "dataset") {
        Object.keys(value).forEach(function (key) {
          if (value[key] !== undefined && value[key] !== null) node.dataset[key] = String(value[key]);
        });
      } else node.setAttribute(name, value === true ? "" : String(value));
    });
    append(node, children);
    return node;
  }

  function append(node, children) {
    if (children === undefined || children === null || children === false || children === "") return;
    if (Array.isArray(children)) {
      children.forEach(function (child) { append(node, child); });
      return;
    }
    node.appendChild(children instanceof Node ? children : document.createTextNode(String(children)));
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // fetch + JSON. Resolves {status, ok, data} for any answer that is JSON (errors included: the
  // caller decides what a 404 or a 422 means). Rejects with {network: true} when the service
  // can't be reached (offline, the site opened as files) or answers something that is not JSON
  // (a proxy's error page, a static file server refusing POST). An AbortError is passed through
  // as it is, so that callers can tell "replaced by a newer request" from "unreachable".
  function request(target, options) {
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, (options && options.headers) || {});
    return fetch(target, opts).then(function (response) {
      return response.json().then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      }, function (error) {
        if (error && error.name === "AbortError") throw error;
        throw { network: true, status: response.status };
      });
    }, function (error) {
      if (error && error.name === "AbortError") throw error;
      throw { network: true };
    });
  }

  function getJSON(target, options) {
    return request(target, Object.assign({}, options || {}, { method: "GET" }));
  }

  // options: signal, headers (e.g. X-CSRF-Token), anything else fetch takes.
  function sendJSON(method, target, body, options) {
    var opts = Object.assign({}, options || {});
    opts.method = method;
    opts.headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
    opts.body = JSON.stringify(body);
    return request(target, opts);
  }

  // The clipboard API needs a secure context (https, 127.0.0.1) and may still be refused (no
  // permission, an in-app browser); then a hidden textarea and execCommand do it. Resolves when
  // copied, rejects when the browser refuses both ways.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
    }
    return copyBySelection(text);
  }

  function copyBySelection(text) {
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; } finally { document.body.removeChild(area); }
      if (copied) resolve(); else reject(new Error("copy refused"));
    });
  }

  // fn() once per page view. Material's document$ fires on the first page and after every instant
  // navigation (where scripts are not run again); it may stay silent when Material's bundle did not
  // start (the site opened as files, a page without the theme), so fn also runs when the document
  // is ready, unless document$ already ran it for this page. fn must tolerate a second call anyway
  // (every caller marks what it bound).
  function onPage(fn) {
    var ran = false;
    var stream = window.document$;
    if (stream && typeof stream.subscribe === "function") stream.subscribe(function () { ran = true; fn(); });
    var ready = function () { if (!ran) fn(); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
    else ready();
  }

  window.KB = Object.freeze({
    root: root,
    url: url,
    path: path,
    api: api,
    el: el,
    clear: clear,
    getJSON: getJSON,
    sendJSON: sendJSON,
    copyText: copyText,
    onPage: onPage
  });
})();
