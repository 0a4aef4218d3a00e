// kb serve --reload (make preview): reload this page when the site has been rebuilt after an
// edit, and show the content problems while a saved file has errors. Loaded only in preview mode.
(function () {
  "use strict";
  var version = null;
  var epoch = "";
  var banner = null;

  function show(status) {
    if (status.state === "ok") {
      if (banner) { banner.remove(); banner = null; }
      return;
    }
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "kb-preview-banner";
      banner.setAttribute("role", "status");
      var css = { position: "fixed", left: "0", right: "0", bottom: "0", zIndex: "10000", padding: "0.8em 1em",
                  whiteSpace: "pre-wrap", fontSize: "14px", color: "#fff", maxHeight: "40vh", overflow: "auto" };
      Object.keys(css).forEach(function (k) { banner.style[k] = css[k]; });  // CSSOM: allowed by the CSP
      document.body.appendChild(banner);
    }
    banner.setAttribute("data-state", status.state);
    banner.style.background = status.state === "building" ? "#00695c" : "#b71c1c";
    banner.textContent = status.state === "building"
      ? "正在重新构建预览……"
      : "内容有错误，改好并保存后预览会自动刷新：\n" + status.problems.slice(0, 10).join("\n");
  }

  function poll() {
    fetch("/api/build-status?epoch=" + epoch, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (status) {
        if (version === null) version = status.version;
        if (status.version !== version) { window.location.reload(); return; }
        epoch = String(status.epoch);
        show(status);
        poll();
      })
      .catch(function () { window.setTimeout(poll, 1000); });  // server restarting: try again
  }

  poll();
})();
