// Zensical's search dialog in Chinese. Zensical (0.0.73; its search "Disco", zensical/ui
// src/assets/javascripts/components/search/client/index.js, shipped minified) writes its words
// in English in the script itself ("Search", "79 results", "No results", "Loading search…"):
// neither theme.language nor the translations in its own partials/languages/zh.html reach them.
// The dialog lives in an open shadow root of a <div> the theme adds to <body>; this swaps its
// fixed English words for Chinese as it renders them. Material's search is already Chinese (its
// strings come from theme.language) and has no such dialog, so this does nothing there.
(function () {
  "use strict";

  var WORDS = {
    "Search": "搜索",
    "Close search": "关闭搜索",
    "Filters": "筛选",
    "Tags": "标签",
    "Search results": "搜索结果",
    "No results": "没有找到符合条件的结果",
    "Loading search\u2026": "正在加载搜索…",
    "Search is unavailable. Reload the page to try again.": "搜索暂时不可用，请刷新页面再试。"
  };
  var COUNT = /^\s*([\d,]+)\s+results?\s*$/;
  var ATTRIBUTES = ["placeholder", "aria-label", "title"];

  function text(value) {
    if (Object.prototype.hasOwnProperty.call(WORDS, value.trim())) return WORDS[value.trim()];
    var count = COUNT.exec(value);
    return count ? "找到 " + count[1].replace(/,/g, "") + " 个结果" : null;
  }

  function translate(node) {
    if (node.nodeType === 3) {
      var t = text(node.data);
      if (t !== null) node.data = t;
      return;
    }
    if (node.nodeType !== 1 && node.nodeType !== 11) return;
    if (node.nodeType === 1) {
      ATTRIBUTES.forEach(function (name) {
        var value = node.getAttribute(name);
        var t = value === null ? null : text(value);
        if (t !== null) node.setAttribute(name, t);
      });
    }
    for (var child = node.firstChild; child; child = child.nextSibling) translate(child);
  }

  function watch(root) {
    if (root.kbWatched) return;
    root.kbWatched = true;
    translate(root);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        if (change.type === "childList") change.addedNodes.forEach(translate);
        else translate(change.target);
      });
    }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true,
      attributeFilter: ATTRIBUTES });
  }

  function find() {
    for (var el = document.body.firstElementChild; el; el = el.nextElementSibling) {
      if (el.shadowRoot) watch(el.shadowRoot);
    }
  }

  // the theme adds the dialog's host once, when it starts (after this script)
  new MutationObserver(find).observe(document.body, { childList: true });
  find();
})();
