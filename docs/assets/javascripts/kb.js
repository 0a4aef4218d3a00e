// Copy buttons on script and template pages (kbcore.js copies, and binds again after Material's
// instant navigation).
(function () {
  "use strict";
  KB.onPage(function () {
    document.querySelectorAll("button.kb-copy[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        KB.copyText(button.dataset.copy).then(function () {
          button.classList.add("kb-copied");
          setTimeout(function () { button.classList.remove("kb-copied"); }, 1500);
        });
      });
    });
  });
})();
