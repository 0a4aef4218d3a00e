// Pages the service renders itself (feedback result, progress, notices): copy buttons and the
// print button, loaded after kbcore.js (KB.copyText). Loaded from this site only (the pages' CSP
// allows nothing else); the pages work without it. Text is copied from data-copy attributes,
// never from HTML.
(function () {
  "use strict";
  function copy(text, button) {
    function done(ok) {
      var old = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", old);
      button.textContent = ok ? "已复制" : "请长按选择后复制";
      setTimeout(function () { button.textContent = old; }, 2000);
    }
    KB.copyText(text).then(function () { done(true); }, function () { done(false); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    button.addEventListener("click", function () { copy(button.getAttribute("data-copy"), button); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
