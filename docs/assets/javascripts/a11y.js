// Small accessibility fixes on Material's markup, on every page (and after instant navigation):
// - a table wider than the screen scrolls inside its own box: that box gets keyboard focus and a
//   name, so it can be scrolled without a mouse (axe: scrollable-region-focusable);
// - the checklist boxes (pymdownx.tasklist) are named after their item (axe: label).
(function () {
  "use strict";
  function fix() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset__scrollwrap"), function (wrap) {
      if (wrap.hasAttribute("tabindex")) return;
      var table = wrap.querySelector("table");
      var head = table && table.querySelector("th");
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", "表格" + (head ? "：" + head.textContent.trim() : "") + "（可左右滑动）");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".task-list-item input[type=checkbox]"), function (box) {
      if (box.hasAttribute("aria-label")) return;
      var item = box.closest(".task-list-item");
      box.setAttribute("aria-label", item ? item.textContent.trim().slice(0, 80) : "清单项");
    });
  }
  // a tick later: Material wraps the tables in its own document$ subscriber, which may run after ours
  KB.onPage(function () { setTimeout(fix, 0); });
})();
