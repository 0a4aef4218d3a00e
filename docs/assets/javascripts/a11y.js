// Small accessibility fixes on Material's markup, on every page (and after instant navigation):
// - a table wider than the screen scrolls inside its own box: that box gets keyboard focus and a
//   name, so it can be scrolled without a mouse (axe: scrollable-region-focusable), and a visible
//   cue above it says it scrolls;
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
    // stacked on a phone (residents.css): each cell says which column it is
    Array.prototype.forEach.call(document.querySelectorAll(".kb-plain-table table"), function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (i > 0 && heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
        });
      });
    });
    cues();
  }
  // A table wider than the screen says so above it (a phone shows no scroll bar until touched):
  // "表格较宽：左右滑动看其他列 →"; the cue goes away when the table fits (a wider window).
  function cues() {
    Array.prototype.forEach.call(document.querySelectorAll(".md-typeset__scrollwrap"), function (wrap) {
      var cue = wrap.previousElementSibling;
      if (!cue || !cue.classList.contains("kb-scroll-cue")) {
        cue = KB.el("p", { className: "kb-scroll-cue", "aria-hidden": "true" }, "表格较宽：左右滑动看其他列 →");
        wrap.parentNode.insertBefore(cue, wrap);
      }
      cue.hidden = wrap.scrollWidth <= wrap.clientWidth + 2;
    });
  }
  // a tick later: Material wraps the tables in its own document$ subscriber, which may run after ours
  KB.onPage(function () { setTimeout(fix, 0); });
  window.addEventListener("resize", function () { setTimeout(cues, 50); });
})();
