// 反馈与投诉 (residents/feedback/) and the "这一页对您有帮助吗？" widget under every page.
// Plain ES2017, no libraries; kbcore.js (KB) first. Both post JSON to the service's
// POST /api/feedback. The resident form also works without this script (a plain form post gets an
// HTML result page); with it, errors show next to the fields and the reference number shows on
// the page. Binds on every page view (KB.onPage: Material's instant navigation). Everything typed
// by a person or sent back by the service goes on the page with textContent only.
(function () {
  "use strict";

  var ENDPOINT = KB.api("feedback");
  var COMMENT_ENDPOINT = KB.api("feedback/comment");
  var STATUS_PAGE = KB.url("residents/status/");
  var LAST = "kb-last-feedback";   // sessionStorage: the last result survives a reload of this tab
  var el = KB.el;

  // A random key per submission, so that a retry or a double submit is stored once.
  // crypto.randomUUID needs a secure context (https or 127.0.0.1); getRandomValues does not.
  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Resolves {status, data}; rejects when the service can't be reached (no network, or the site
  // opened as static files) or answers something that is not JSON (a proxy's error page).
  function postJSON(body, endpoint) {
    return KB.sendJSON("POST", endpoint || ENDPOINT, body);
  }

  // ISO UTC time from the API -> "2026年12月01日 14:00" in Beijing time, like the service's pages.
  function localTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    var parts = {};
    new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", weekday: "short"
    }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "年" + parts.month + "月" + parts.day + "日（" + parts.weekday + "）" + parts.hour + ":" + parts.minute;
  }

  // -- the resident form ----------------------------------------------------------------------

  function ResidentForm(form) {
    this.form = form;
    this.result = document.getElementById("kb-fb-result");
    this.status = document.getElementById("kb-fb-status");
    this.button = document.getElementById("kb-fb-submit");
    this.hotline = form.getAttribute("data-hotline") || "";
    this.sending = false;
    this.unsure = null;      // signature of a submission whose outcome is unknown (no answer came back)
    this.key = form.elements.idempotency_key;
    this.key.value = newKey();
    form.noValidate = true;  // the service checks every field and says what to change, in place
    form.addEventListener("submit", this.submit.bind(this));
    form.addEventListener("input", this.clearField.bind(this));
    form.addEventListener("change", this.clearField.bind(this));
  }

  ResidentForm.prototype.payload = function () {
    var f = this.form.elements;
    var checked = this.form.querySelector("input[name=type]:checked");
    var data = { type: checked ? checked.value : "", content: f.content.value };
    // the community: a hidden field on a community's own page, a choice on the company-wide page
    if (f.community && f.community.value) data.community = f.community.value;
    if (f.category.value) data.category = f.category.value;
    if (f.location.value.trim()) data.location = f.location.value;
    var ratings = {};
    Array.prototype.forEach.call(this.form.querySelectorAll("input[name^='ratings.']:checked"), function (input) {
      if (input.value) ratings[input.name.slice("ratings.".length)] = parseInt(input.value, 10);
    });
    if (Object.keys(ratings).length) data.ratings = ratings;
    data.consent = f.consent.checked;
    if (data.consent) {
      // Name and phone leave the browser only with consent.
      if (f.contact_name.value.trim()) data.contact_name = f.contact_name.value;
      if (f.contact_phone.value.trim()) data.contact_phone = f.contact_phone.value;
    }
    if (f.website.value) data.website = f.website.value;  // the honeypot: people leave it empty
    return data;
  };

  // A phone (or name) typed without ticking consent would be dropped: ask before sending.
  ResidentForm.prototype.askConsent = function () {
    var f = this.form.elements;
    if (f.consent.checked || this.consentAnswered) return false;
    if (!f.contact_phone.value.trim() && !f.contact_name.value.trim()) return false;
    var self = this;
    var box = document.getElementById("kb-fb-consent-ask");
    if (!box) {
      var yes = el("button", { type: "button", id: "kb-fb-consent-yes", className: "md-button md-button--primary" },
        "同意联系，并提交");
      var no = el("button", { type: "button", id: "kb-fb-consent-no", className: "md-button" }, "不用联系，直接提交（不保存电话）");
      box = el("div", { id: "kb-fb-consent-ask", className: "kb-fb-consent-ask", role: "alertdialog",
        "aria-labelledby": "kb-fb-consent-q" }, [el("p", { id: "kb-fb-consent-q" }, "您填了电话，但没有同意联系：要我们联系您吗？"), yes, no]);
      yes.addEventListener("click", function () { f.consent.checked = true; self.answerConsent(box); });
      no.addEventListener("click", function () { self.answerConsent(box); });
      this.button.parentNode.parentNode.insertBefore(box, this.button.parentNode);
    }
    box.hidden = false;
    box.querySelector("button").focus();
    return true;
  };

  ResidentForm.prototype.answerConsent = function (box) {
    this.consentAnswered = true;
    box.hidden = true;
    if (typeof this.form.requestSubmit === "function") this.form.requestSubmit();
    else this.submit({ preventDefault: function () {} });
  };

  ResidentForm.prototype.submit = function (event) {
    event.preventDefault();
    if (this.sending) return;  // a double click sends once
    if (this.askConsent()) return;
    this.consentAnswered = false;
    var data = this.payload();
    var signature = JSON.stringify(data);
    // Same submission as one that may have arrived: same key, so it is stored once. Changed
    // since then: a new submission, a new key.
    if (this.unsure !== null && this.unsure !== signature) this.key.value = newKey();
    data.idempotency_key = this.key.value;
    this.clearErrors();
    this.setSending(true);
    this.say("正在提交……", false);
    var self = this;
    postJSON(data).then(function (answer) {
      self.setSending(false);
      if (answer.status === 201) {
        self.unsure = null;
        self.done(answer.data, data);
      } else if (answer.status === 503 && answer.data && answer.data.saved === false) {
        // The database is down: the service says for certain that nothing was saved. The form
        // keeps what was typed; the same key is sent again, so a retry never stores it twice.
        self.unsure = signature;
        self.say(answer.data.error + self.orCall(), true);
      } else if (answer.status >= 500) {
        self.unsure = signature;
        self.say("服务暂时出错，内容可能没有登记。请稍后再点“提交”重试（不会重复登记）" + self.orCall(), true);
      } else {
        self.unsure = null;  // refused: nothing was stored under this key
        self.showErrors(answer.data || {});
      }
    }, function () {
      self.setSending(false);
      self.unsure = signature;
      self.say("无法连接反馈服务，内容没有提交成功。请确认网络正常后再点“提交”重试（不会重复登记）" +
        self.orCall() + "如果您是直接打开的网页文件，在线反馈用不了。", true);
    });
  };

  ResidentForm.prototype.orCall = function () {
    var number = this.hotlineNow();
    return number ? "；也可以拨打物业服务电话 " + number + "。" : "。";
  };

  // The chosen community's service centre (its option carries data-hotline), else the page's number.
  ResidentForm.prototype.hotlineNow = function () {
    var select = this.form.querySelector("select[name=community]");
    var option = select && select.selectedIndex > 0 ? select.options[select.selectedIndex] : null;
    return (option && option.getAttribute("data-hotline")) || this.hotline;
  };

  ResidentForm.prototype.setSending = function (on) {
    this.sending = on;
    this.button.disabled = on;
    this.form.setAttribute("aria-busy", on ? "true" : "false");
  };

  ResidentForm.prototype.say = function (text, isError) {
    this.status.className = "kb-fb-status" + (isError ? " kb-fb-status--error" : "");
    this.status.textContent = text;
  };

  ResidentForm.prototype.errorNode = function (field) {
    return document.getElementById("kb-fb-err-" + String(field).replace(/\./g, "-"));
  };

  ResidentForm.prototype.controls = function (field) {
    return Array.prototype.filter.call(this.form.elements, function (c) { return c.name === field; });
  };

  ResidentForm.prototype.clearErrors = function () {
    Array.prototype.forEach.call(this.form.querySelectorAll(".kb-fb-error"), function (node) {
      node.textContent = "";
      node.hidden = true;
    });
    Array.prototype.forEach.call(this.form.querySelectorAll("[aria-invalid]"), function (node) {
      node.removeAttribute("aria-invalid");
    });
    this.say("", false);
  };

  ResidentForm.prototype.clearField = function (event) {
    var name = event.target && event.target.name;
    if (!name) return;
    var node = this.errorNode(name);
    if (node && !node.hidden) {
      node.hidden = true;
      node.textContent = "";
      this.controls(name).forEach(function (c) { c.removeAttribute("aria-invalid"); });
    }
  };

  // 422: {errors: [{field, message}]}; other refusals: {error, field?}.
  ResidentForm.prototype.showErrors = function (data) {
    var list = Array.isArray(data.errors) ? data.errors.slice() : [];
    if (!list.length && data.field) list.push({ field: data.field, message: data.error });
    var elsewhere = [];
    var first = null;
    var self = this;
    list.forEach(function (e) {
      var node = self.errorNode(e.field);
      var controls = self.controls(e.field);
      if (!node || !controls.length) { elsewhere.push(e.message); return; }
      node.textContent = e.message;
      node.hidden = false;
      controls.forEach(function (c) { c.setAttribute("aria-invalid", "true"); });
      if (!first) first = controls[0];
    });
    var summary = list.length - elsewhere.length ? "有 " + (list.length - elsewhere.length) + " 处需要修改，见标红的提示。" : "";
    if (!list.length) summary = data.error || "提交没有成功，请稍后再试" + this.orCall();
    this.say([summary].concat(elsewhere).filter(Boolean).join(" "), true);
    if (first) first.focus();
  };

  ResidentForm.prototype.done = function (reply, sent, restored) {
    var box = this.result;
    KB.clear(box);
    box.appendChild(el("h2", null, "提交成功"));
    box.appendChild(el("p", null, reply.message));
    var facts = el("dl");
    function fact(term, value) {
      if (value === null || value === undefined || value === "") return;
      facts.appendChild(el("dt", null, term));
      facts.appendChild(el("dd", null, value));
    }
    fact("编号", el("span", null, [el("strong", { id: "kb-fb-reference", className: "kb-fb-reference" }, reply.reference),
      copyButton(reply.reference, "复制编号")]));
    if (reply.access_code) {
      fact("查询码", el("span", null, [el("strong", { id: "kb-fb-access-code", className: "kb-fb-reference" }, reply.access_code),
        copyButton(reply.access_code, "复制查询码")]));
    }
    if (reply.respond_by) fact("答复时限", el("span", { id: "kb-fb-respond-by" }, localTime(reply.respond_by) + " 前"));
    if (reply.resolve_by) fact("处理结果", localTime(reply.resolve_by) + " 前");
    fact("您写的内容", el("span", { id: "kb-fb-echo", className: "kb-fb-echo" }, sent.content.trim()));
    box.appendChild(facts);
    box.appendChild(el("p", null, ["请记下编号和查询码（截图或点“复制”），查询码只显示这一次。查进度：打开 ",
      el("a", { href: STATUS_PAGE }, "查询进度"),
      " 页，填编号和查询码" + (reply.contact_stored ? "（或手机号后四位）" : "") + "。"]));
    if (!reply.contact_stored) {
      var number = this.hotlineNow();
      box.appendChild(el("p", null, ["您没有留下联系方式（或没有勾选同意），我们没法主动答复您；"].concat(number
        ? ["可拨打 ", el("a", { href: "tel:" + number.replace(/[^0-9+]/g, "") }, number), " 报编号查询。"]
        : ["可报编号到物业服务中心查询。"])));
    }
    var again = el("button", { type: "button", className: "md-button" }, "再提交一条");
    var self = this;
    again.addEventListener("click", function () {
      try { sessionStorage.removeItem(LAST); } catch (e) { /* ignore */ }
      self.form.reset();
      self.clearErrors();
      self.key.value = newKey();
      box.hidden = true;
      self.form.hidden = false;
      self.form.querySelector("input[name=type]").focus();
    });
    box.appendChild(el("p", null, again));
    this.form.hidden = true;
    box.hidden = false;
    if (!restored) {
      box.scrollIntoView({ block: "start" });    // 提交成功 at the top, under the header
      box.focus({ preventScroll: true });
    }
    // The next submission is a new one.
    this.key.value = newKey();
    try {
      sessionStorage.setItem(LAST, JSON.stringify({ reply: reply, sent: { content: sent.content } }));
    } catch (e) { /* private mode: nothing kept */ }
  };

  // After a reload the last result is shown again (this tab only), instead of an empty form.
  ResidentForm.prototype.restore = function () {
    var raw = null;
    try { raw = sessionStorage.getItem(LAST); } catch (e) { return; }
    if (!raw) return;
    try {
      var last = JSON.parse(raw);
      if (last && last.reply && last.reply.reference) this.done(last.reply, last.sent || { content: "" }, true);
    } catch (e) { /* ignore a damaged entry */ }
  };

  function copyButton(text, label) {
    var button = el("button", { type: "button", className: "md-button kb-copy", "aria-label": label }, "复制");
    button.addEventListener("click", function () {
      KB.copyText(text).then(function () {
        button.textContent = "已复制";
        setTimeout(function () { button.textContent = "复制"; }, 2000);
      }, function () { /* refused: long-press to copy */ });
    });
    return button;
  }

  // -- "这一页对您有帮助吗？" ------------------------------------------------------------------

  function bindWidget(form) {
    if (form.dataset.kbBound) return;
    form.dataset.kbBound = "1";
    var buttons = form.querySelectorAll(".md-feedback__list [type=submit]");
    var key = null, lastSent = null;
    form.addEventListener("submit", function (event) { event.preventDefault(); });

    function send(helpful, comment, status, onFail) {
      var body = { type: "page", page: location.pathname, helpful: helpful };
      if (comment) body.content = comment;
      // A retry of the same answer keeps its key (stored once); a different answer gets a new one.
      var signature = JSON.stringify(body);
      if (signature !== lastSent) { key = newKey(); lastSent = signature; }
      body.idempotency_key = key;
      status.className = "kb-pf-status";
      status.textContent = "正在发送……";
      return postJSON(body).then(function (answer) {
        if (answer.status === 201) {
          status.textContent = "已发送，谢谢！";
          return answer.data || true;
        }
        var data = answer.data || {};
        var detail = Array.isArray(data.errors) && data.errors.length ? data.errors[0].message : data.error;
        status.className = "kb-pf-status kb-pf-status--error";
        status.textContent = "没有发送成功：" + (detail || "请稍后再试");
        onFail();
        return false;
      }, function () {
        status.className = "kb-pf-status kb-pf-status--error";
        status.textContent = "无法连接知识库服务，没有发送成功。请确认网络正常后再试。";
        onFail();
        return false;
      });
    }

    // Material's way: disabling the fieldset greys the buttons and shows the rating's note. The
    // comment box and the status go after the fieldset, so that they stay usable.
    var fieldset = form.querySelector("fieldset");
    var more = el("div", { className: "kb-pf-more" });
    form.appendChild(more);

    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var value = button.getAttribute("data-md-value");
        var note = form.querySelector(".md-feedback__note [data-md-value='" + value + "']");
        fieldset.disabled = true;
        if (note) note.hidden = false;
        KB.clear(more);
        var status = el("p", { className: "kb-pf-status", role: "status" });
        function reopen() {
          fieldset.disabled = false;
          if (note) note.hidden = true;
        }
        if (value === "1") {
          more.appendChild(status);
          send(true, "", status, reopen);
          return;
        }
        // The vote is stored at once (leaving the page keeps it); the comment joins it afterwards.
        var vote = null;
        var area = el("textarea", { className: "kb-pf-comment", name: "comment", maxlength: 2000,
          "aria-label": "哪里需要改进（可不写）", placeholder: "例如：没找到停车费怎么交" });
        var sendButton = el("button", { type: "button", className: "md-button kb-pf-send" }, "发送");
        more.appendChild(area);
        more.appendChild(sendButton);
        more.appendChild(status);
        send(false, "", status, reopen).then(function (answer) {
          if (answer && answer.reference) {
            vote = answer;
            status.textContent = "已记下“没帮助”，谢谢！愿意的话写几句，点“发送”补充。";
          }
        });
        sendButton.addEventListener("click", function () {
          var text = area.value.trim();
          if (!vote || !text) { area.focus(); return; }
          sendButton.disabled = true;
          area.readOnly = true;
          status.className = "kb-pf-status";
          status.textContent = "正在发送……";
          postJSON({ reference: vote.reference, access_code: vote.access_code, comment: text }, COMMENT_ENDPOINT)
            .then(function (answer) {
              if (answer.status === 200) {
                status.textContent = "补充说明已发送，谢谢！";
                area.hidden = true;
                sendButton.hidden = true;
                return;
              }
              throw answer;
            }).catch(function (answer) {
              var data = (answer && answer.data) || {};
              status.className = "kb-pf-status kb-pf-status--error";
              status.textContent = "补充说明没有发送成功：" + (data.error || "请稍后再试");
              sendButton.disabled = false;
              area.readOnly = false;
            });
        });
        area.focus();
      });
    });
    form.hidden = false;
  }

  function bind() {
    var form = document.getElementById("kb-feedback-form");
    if (form && !form.dataset.kbBound) {
      form.dataset.kbBound = "1";
      new ResidentForm(form).restore();
    }
    var widget = document.querySelector("form.md-feedback[name=feedback]");
    if (widget) bindWidget(widget);
  }

  KB.onPage(bind);   // bind() skips what is already bound
})();
