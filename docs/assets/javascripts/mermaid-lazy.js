// The global `mermaid` that Material (and Zensical) draw diagrams with: without one they fetch it
// from unpkg.com, a host outside the site. This stand-in loads the vendored copy (3.5 MB, which
// a phone would otherwise download and compile on every page) only when a page has a diagram,
// and hands over to it: once loaded, the real library replaces this global.
(function () {
  "use strict";

  var settings = null;
  var loading = null;

  function load() {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = KB.url("assets/vendor/mermaid/mermaid.min.js");
        script.onload = function () {
          var real = window.mermaid;
          if (!real || real === standIn) { loading = null; reject(new Error("mermaid 未能加载")); return; }
          if (settings) real.initialize(settings);
          resolve(real);
        };
        script.onerror = function () { loading = null; reject(new Error("mermaid 未能加载")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  var standIn = {
    initialize: function (options) { settings = options; },
    render: function (id, text) {
      return load().then(function (real) { return real.render(id, text); });
    }
  };
  window.mermaid = standIn;
})();
