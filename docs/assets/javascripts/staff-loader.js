// The staff tools' scripts (模板填写 fill.js, 话术速查 lookup.js, 来电记录 callrecord.js: about
// 100 KB, render-blocking when listed in mkdocs.yml) load only on a page that has one of their
// tools, so residents' pages never download them. On every page view (KB.onPage: Material's
// instant navigation too) the page is checked; a script is added once, in this order (async =
// false keeps it), and binds itself through KB.onPage, which replays the current page.
(function () {
  "use strict";

  // script -> is it needed on this page?
  var STAFF_SCRIPTS = [
    ["fill.js", function () { return !!document.getElementById("kb-fill-form"); }],
    ["lookup.js", function () { return !!document.getElementById("kb-lookup-q"); }],
    ["callrecord.js", function () {
      // the lookup page, and a script's own page (/scripts/<category>.<name>/): F2 opens the panel
      var scripts = KB.path("scripts/");
      var here = window.location.pathname;
      return !!document.getElementById("kb-lookup") ||
        (here.indexOf(scripts) === 0 && /^[a-z]+\.[a-z0-9-]+\/$/.test(here.slice(scripts.length)));
    }]
  ];
  var added = {};

  function load() {
    STAFF_SCRIPTS.forEach(function (entry) {
      var name = entry[0];
      if (added[name] || !entry[1]()) return;
      added[name] = true;
      var tag = document.createElement("script");
      tag.src = KB.url("assets/javascripts/" + name);
      tag.async = false;
      document.body.appendChild(tag);
    });
  }

  KB.onPage(load);
})();
