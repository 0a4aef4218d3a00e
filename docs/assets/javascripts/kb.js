// Copy buttons on script and template pages. Subscribes to document$ so it survives
// Material's instant navigation.
(function () {
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }
  window.kbCopyText = copyText;
  function bind() {
    document.querySelectorAll("button.kb-copy[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        copyText(button.dataset.copy).then(function () {
          button.classList.add("kb-copied");
          setTimeout(function () { button.classList.remove("kb-copied"); }, 1500);
        });
      });
    });
  }
  if (window.document$) { window.document$.subscribe(bind); } else { document.addEventListener("DOMContentLoaded", bind); }
})();
