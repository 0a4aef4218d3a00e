// 小区公告 on the site. Plain ES2017, no libraries; kbcore.js (KB) first. Text goes on the page
// with textContent only.
// 1. The home page (and any page with <div data-kb-notices>) lists the current notices first,
//    from GET /api/notices (same origin). Without JavaScript the box keeps its link to /notices/.
// 2. The fill page's "发布到小区公告" button carries the filled notice to the staff page
//    /staff/notices/ (through sessionStorage, so it survives the login page in between).
(function () {
  "use strict";

  function showBoard(box) {
    if (box.dataset.kbBound) return;
    box.dataset.kbBound = "1";
    var url = new URL(KB.api("notices"));
    var community = box.getAttribute("data-community");
    if (community) url.searchParams.set("community", community);
    KB.getJSON(url.href)
      .then(function (answer) { return answer.ok ? answer.data : null; })
      .then(function (data) {
        var list = box.querySelector(".kb-notice-list");
        var empty = box.querySelector(".kb-notice-empty");
        if (!data || !list) return;
        KB.clear(list);
        data.current.slice(0, 5).forEach(function (n) {
          // whose notice it is, in every list: "滨江花园 · 停水通知" ("全部小区" for company-wide ones)
          var li = KB.el("li", null, [KB.el("span", { className: "kb-notice-community" }, (n.community_name || "全部小区") + " · "),
            KB.el("a", { href: KB.url(n.url) }, n.title)]);
          if (n.state === "upcoming") li.appendChild(KB.el("span", { className: "kb-notice-when" }, " 即将生效"));
          list.appendChild(li);
        });
        if (empty) empty.hidden = data.current.length > 0;
        box.classList.toggle("kb-notices--has", data.current.length > 0);
      }, function () { /* the link to /notices/ stays */ });
  }

  function bindPublish(button) {
    if (button.dataset.kbBound) return;
    button.dataset.kbBound = "1";
    button.addEventListener("click", function () {
      var preview = document.getElementById("kb-fill-preview-notice") || document.getElementById("kb-fill-preview-wechat");
      var status = document.getElementById("kb-fill-publish-hint");
      var text = preview && !preview.classList.contains("kb-fill-text--empty") ? preview.textContent.trim() : "";
      if (!text) {
        if (status) status.textContent = "请先选择通知类模板并填好必填项。";
        return;
      }
      var lines = text.split("\n");
      var first = lines[0].trim();
      var title = first.length <= 40 ? first : (document.getElementById("kb-fill-title") || {}).textContent || "通知";
      var body = first.length <= 40 ? lines.slice(1).join("\n").trim() : text;
      var template = (document.getElementById("kb-fill-id") || {}).textContent || "";
      // fill.js: the community chosen there and the end of the time range (the notice's end)
      var draft = { title: title, body: body, template: template, community: button.dataset.community || "",
        valid_until: (button.dataset.validUntil || "").replace(" ", "T") };
      try {
        sessionStorage.setItem("kb-notice-draft", JSON.stringify(draft));
      } catch (e) { /* private mode: the staff page opens empty */ }
      location.href = KB.url("staff/notices/");
    });
  }

  function bind() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kb-notices]"), showBoard);
    var publish = document.getElementById("kb-fill-publish");
    if (publish) bindPublish(publish);
  }

  KB.onPage(bind);
})();
