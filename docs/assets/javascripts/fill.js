// 模板填写 (staff/fill/): pick a template, fill its typed fields, preview every channel side by
// side, copy each one, and print the notice on A4. Plain ES2017, no libraries; kbcore.js (KB) first.
// Runs only where #kb-fill-form exists, on every page view (KB.onPage: Material's instant navigation).
// Everything a user typed or the service rendered is put on the page with textContent only.
(function () {
  "use strict";

  var DEBOUNCE_MS = 250;
  var DOC_CHANNELS = ["notice", "letter"];
  var PRINT_LABEL = { notice: "打印通知", letter: "打印信函" };
  var UNREACHABLE = "无法连接知识库服务，预览暂时无法生成。请确认服务已启动、网络正常，稍后再试。";
  var COMMUNITY_KEY = "kb-fill-community";   // localStorage: the community chosen once is remembered

  function remembered() {
    try { return window.localStorage.getItem(COMMUNITY_KEY) || ""; } catch (e) { return ""; }
  }
  function remember(id) {
    try { window.localStorage.setItem(COMMUNITY_KEY, id); } catch (e) { /* private mode: ask again next time */ }
  }

  var el = KB.el;
  var clear = KB.clear;

  // "2026-12-01 09:00" -> "2026-12-01（周二）09:00": the weekday of the calendar date the server
  // parsed (in Beijing time), so "明天" and "12月1日" can be checked before the notice goes out.
  function withWeekday(text) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(.*)$/.exec(String(text));
    if (!m) return String(text);
    var day = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay();
    return m[1] + "-" + m[2] + "-" + m[3] + "（周" + "日一二三四五六".charAt(day) + "）" + m[4];
  }

  function showValue(type, value) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "object" && value.start) {
      var end = value.end.slice(0, 10) === value.start.slice(0, 10) ? value.end.slice(11) : withWeekday(value.end);
      return withWeekday(value.start) + " 至 " + end;
    }
    if (type === "date" || type === "datetime") return withWeekday(value);
    if (type === "money") return value + " 元";
    return String(value);
  }

  function FillPage(root) {
    this.root = root;
    this.$ = function (id) { return document.getElementById(id); };
    this.templates = [];
    this.tpl = null;
    this.inputs = {};
    this.touched = {};
    this.parsedFor = {};
    this.results = {};
    this.timer = 0;
    this.seq = 0;
    this.selectSeq = 0;
    this.loading = "";       // the template id last asked for, before its answer has arrived
    this.controller = null;
    this.docChannel = null;
    this.community = "";     // "" with one community: the service uses it
  }

  FillPage.prototype.alive = function () {
    return this.root.isConnected;
  };

  FillPage.prototype.start = function () {
    var self = this;
    var $ = this.$;
    leavePrintMode();

    $("kb-fill-filter").addEventListener("input", function () { self.filter(); });
    $("kb-fill-filter").addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var first = $("kb-fill-list").querySelector("li:not([hidden]) button");
      if (first) first.click();
    });
    $("kb-fill-list").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-id]");
      if (button) self.select(button.dataset.id, { focus: true });
    });

    var form = $("kb-fill-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.touchAll();
      self.schedule(0);
    });
    var onEdit = function (event) {
      var name = event.target && event.target.name;
      if (!name || !self.inputs[name]) return;
      self.touched[name] = true;
      self.schedule(DEBOUNCE_MS);
    };
    form.addEventListener("input", onEdit);
    form.addEventListener("change", onEdit);
    form.addEventListener("focusout", function (event) {
      var name = event.target && event.target.name;
      if (!name || !self.inputs[name] || self.touched[name]) return;
      self.touched[name] = true;
      self.schedule(DEBOUNCE_MS);
    });

    $("kb-fill-example").addEventListener("click", function () { self.fillExamples(); });
    $("kb-fill-clear").addEventListener("click", function () { self.clearFields(); });
    $("kb-fill-print-open").addEventListener("click", function () { self.openPrint(); });
    $("kb-fill-print-back").addEventListener("click", function () { self.closePrint(); });
    $("kb-fill-print-go").addEventListener("click", function () {
      // Automated browsers (tests) have navigator.webdriver set: a print dialog would block them.
      if (!navigator.webdriver) window.print();
    });
    $("kb-fill-previews").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-copy-channel]");
      if (button) self.copyChannel(button);
    });

    $("kb-fill-community").addEventListener("change", function (event) {
      self.community = event.target.value;
      if (self.community) remember(self.community);
      self.reselect();
    });
    this.loadCommunities();
    this.loadList();
  };

  // -- community (asked once, remembered; hidden when the company has one) ---------------------

  FillPage.prototype.loadCommunities = function () {
    var self = this;
    KB.getJSON(KB.api("communities")).then(function (answer) {
      var list = (answer.data && answer.data.communities) || [];
      if (!self.alive() || list.length < 2) return;
      var select = self.$("kb-fill-community");
      clear(select);
      select.appendChild(el("option", { value: "" }, "请选择小区…"));
      list.forEach(function (c) { select.appendChild(el("option", { value: c.id }, c.label || c.name)); });
      var saved = remembered();
      if (list.some(function (c) { return c.id === saved; })) {
        select.value = saved;
        self.community = saved;
        self.reselect();
      }
      self.$("kb-fill-community-box").hidden = false;
    }, function () { /* the template list reports an unreachable service */ });
  };

  // The community changed: the template shown, or the one still on its way (asked for with the
  // previous community), is asked for again; select's sequence number drops the earlier answer,
  // which carries the other community's buildings.
  FillPage.prototype.reselect = function () {
    var id = this.loading || (this.tpl && this.tpl.id);
    if (!id) return;
    var shown = this.tpl && this.tpl.id === id;
    this.select(id, { focus: false, keep: shown ? this.values() : undefined });
  };

  // -- template list ----------------------------------------------------------------------------

  FillPage.prototype.loadList = function () {
    var self = this;
    var status = this.$("kb-fill-list-status");
    clear(status);
    status.textContent = "正在加载模板列表…";
    status.classList.remove("kb-fill-problem");
    KB.getJSON(KB.api("templates")).then(function (answer) {
      if (!self.alive()) return;
      if (answer.status !== 200 || !answer.data || !Array.isArray(answer.data.templates)) {
        self.listProblem((answer.data && answer.data.error) || "模板列表加载失败（" + answer.status + "）");
        return;
      }
      self.templates = answer.data.templates;
      self.renderList();
      var wanted = new URLSearchParams(location.search).get("id");
      if (wanted) self.select(wanted.trim(), { focus: false });
    }, function () {
      if (self.alive()) self.listProblem(UNREACHABLE);
    });
  };

  FillPage.prototype.listProblem = function (message) {
    var self = this;
    var status = this.$("kb-fill-list-status");
    clear(status);
    status.classList.add("kb-fill-problem");
    status.appendChild(document.createTextNode(message + " "));
    var retry = el("button", { type: "button", className: "md-button kb-fill-small" }, "重试");
    retry.addEventListener("click", function () { self.loadList(); });
    status.appendChild(retry);
  };

  FillPage.prototype.renderList = function () {
    var list = this.$("kb-fill-list");
    clear(list);
    this.templates.forEach(function (t) {
      var button = el("button", { type: "button", className: "kb-fill-item", "data-id": t.id, "aria-pressed": "false" });
      button.appendChild(el("span", { className: "kb-fill-item-title" }, t.title));
      button.appendChild(el("span", { className: "kb-fill-item-meta" }, (t.category_name ? t.category_name + " · " : "") + t.id));
      var item = el("li", { "data-search": [t.title, t.id, t.category_name || ""].concat(t.aliases || []).join("\n").toLowerCase() });
      item.appendChild(button);
      list.appendChild(item);
    });
    this.filter();
  };

  FillPage.prototype.filter = function () {
    var terms = this.$("kb-fill-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    this.$("kb-fill-list").querySelectorAll("li").forEach(function (item) {
      var hay = item.dataset.search || "";
      var match = terms.every(function (term) { return hay.indexOf(term) !== -1; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    var status = this.$("kb-fill-list-status");
    status.classList.remove("kb-fill-problem");
    if (!this.templates.length) status.textContent = "暂无模板。";
    else if (!terms.length) status.textContent = "共 " + this.templates.length + " 个模板，点选一个开始填写。";
    else if (shown) status.textContent = "匹配 " + shown + " 个模板（回车选第一个）。";
    else status.textContent = "没有匹配的模板，换个说法试试，或清空筛选查看全部。";
  };

  // -- one template -----------------------------------------------------------------------------

  FillPage.prototype.select = function (id, options) {
    var self = this;
    var mine = ++this.selectSeq;
    this.loading = id;
    this.status("正在加载模板…");
    var query = this.community ? "?community=" + encodeURIComponent(this.community) : "";
    KB.getJSON(KB.api("templates/" + encodeURIComponent(id) + query)).then(function (answer) {
      if (!self.alive() || mine !== self.selectSeq) return;
      if (answer.status === 404) {
        self.status("没有找到模板 “" + id + "”，请从上面的列表中选择。", true);
        return;
      }
      if (answer.status !== 200) {
        self.status((answer.data && answer.data.error) || "模板加载失败（" + answer.status + "）", true);
        return;
      }
      self.show(answer.data, options && options.keep);
      if (options && options.focus) {
        var first = self.$("kb-fill-fields").querySelector("input, select, textarea");
        if (first) first.focus();
      }
    }, function () {
      if (self.alive() && mine === self.selectSeq) self.status(UNREACHABLE, true);
    });
  };

  FillPage.prototype.show = function (tpl, keep) {
    var $ = this.$;
    this.tpl = tpl;
    this.inputs = {};
    this.touched = {};
    this.parsedFor = {};
    this.results = {};
    this.seq += 1;
    if (this.controller) this.controller.abort();

    $("kb-fill-list").querySelectorAll("button[data-id]").forEach(function (button) {
      var on = button.dataset.id === tpl.id;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("kb-fill-item--current", on);
    });
    var url = new URL(location.href);
    if (url.searchParams.get("id") !== tpl.id) {
      url.searchParams.set("id", tpl.id);
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    }

    $("kb-fill-current").hidden = false;
    $("kb-fill-title").textContent = tpl.title;
    $("kb-fill-id").textContent = tpl.id;
    $("kb-fill-doc").href = KB.url(tpl.url);
    $("kb-fill-applies").textContent = tpl.applies_when ? "适用：" + tpl.applies_when : (tpl.summary || "");
    $("kb-fill-form-empty").hidden = true;
    $("kb-fill-actions").hidden = false;
    $("kb-fill-example").hidden = !tpl.fields.some(function (f) { return !f.computed && f.example; });

    this.buildFields();
    if (keep) {
      // another community chosen: what was typed stays (a building only if the new one has it)
      var inputs = this.inputs;
      var touched = this.touched;
      Object.keys(keep).forEach(function (name) {
        var input = inputs[name];
        if (!input || !keep[name]) return;
        if (input.tagName === "SELECT" && !Array.prototype.some.call(input.options, function (o) { return o.value === keep[name]; })) return;
        input.value = keep[name];
        touched[name] = true;
      });
    }
    this.buildPreviews();
    this.status("");
    this.schedule(0);
  };

  FillPage.prototype.buildFields = function () {
    var self = this;
    var box = this.$("kb-fill-fields");
    clear(box);
    var editable = this.tpl.fields.filter(function (f) { return !f.computed; });
    var computed = this.tpl.fields.filter(function (f) { return f.computed; });
    editable.forEach(function (f) { box.appendChild(self.buildField(f)); });
    if (computed.length) {
      var group = el("fieldset", { className: "kb-fill-auto" });
      group.appendChild(el("legend", null, "自动填入（无需填写）"));
      computed.forEach(function (f) { group.appendChild(self.buildComputed(f)); });
      box.appendChild(group);
    }
  };

  FillPage.prototype.buildField = function (f) {
    var id = "kb-fill-f-" + f.name;
    var wrap = el("div", { className: "kb-fill-field kb-fill-field--" + f.type, "data-field": f.name, "data-type": f.type });
    var label = el("label", { "for": id, className: "kb-fill-label" }, f.label);
    if (f.required) label.appendChild(el("span", { className: "kb-fill-req", title: "必填" }, " *"));
    label.appendChild(el("span", { className: "kb-fill-type" }, f.type_name || f.type));
    wrap.appendChild(label);

    var described = ["kb-fill-err-" + f.name, "kb-fill-parsed-" + f.name, "kb-fill-help-" + f.name].join(" ");
    var input;
    if (f.type === "choice" || f.type === "building") {
      input = el("select", { id: id, name: f.name, className: "kb-fill-input" });
      input.appendChild(el("option", { value: "" }, f.required ? "请选择…" : "（不填）"));
      (f.choices || []).forEach(function (choice) {
        input.appendChild(el("option", { value: choice }, choice));
      });
    } else if (f.type === "multiline") {
      input = el("textarea", { id: id, name: f.name, rows: 3, className: "kb-fill-input" });
    } else {
      var attrs = { id: id, name: f.name, type: "text", className: "kb-fill-input", spellcheck: "false" };
      if (f.type === "phone") { attrs.type = "tel"; attrs.inputmode = "tel"; }
      if (f.type === "number" || f.type === "money") attrs.inputmode = "decimal";
      input = el("input", attrs);
    }
    var placeholder = f.example || {
      timerange: "2026-12-01 08:00 至 2026-12-01 18:00",
      datetime: "2026-12-01 09:30 或 明天 下午2点",
      date: "2026-12-01 或 明天",
      phone: "13800001234 或 0571-12345678",
      money: "1280.00"
    }[f.type];
    if (placeholder && input.tagName !== "SELECT") input.placeholder = "例如 " + placeholder;
    input.setAttribute("aria-describedby", described);
    if (f.required) input.setAttribute("aria-required", "true");
    this.inputs[f.name] = input;
    wrap.appendChild(input);

    wrap.appendChild(el("p", { id: "kb-fill-err-" + f.name, className: "kb-fill-error", hidden: true }));
    wrap.appendChild(el("p", { id: "kb-fill-parsed-" + f.name, className: "kb-fill-parsed", hidden: true }));
    var help = f.help || "";
    if (f.max_length) help += "（最多 " + f.max_length + " 字）";
    wrap.appendChild(el("p", { id: "kb-fill-help-" + f.name, className: "kb-fill-help" }, help));
    return wrap;
  };

  FillPage.prototype.buildComputed = function (f) {
    var wrap = el("div", { className: "kb-fill-field kb-fill-field--computed", "data-field": f.name, "data-type": f.type });
    wrap.appendChild(el("span", { className: "kb-fill-label", id: "kb-fill-label-" + f.name }, f.label));
    wrap.appendChild(el("div", {
      id: "kb-fill-f-" + f.name, className: "kb-fill-computed", role: "textbox", "aria-readonly": "true",
      "aria-labelledby": "kb-fill-label-" + f.name, "aria-describedby": "kb-fill-parsed-" + f.name
    }, "自动：" + (f.computed_from || "系统")));
    wrap.appendChild(el("p", { id: "kb-fill-parsed-" + f.name, className: "kb-fill-parsed", hidden: true }));
    if (f.help) wrap.appendChild(el("p", { className: "kb-fill-help" }, f.help));
    return wrap;
  };

  FillPage.prototype.buildPreviews = function () {
    var tpl = this.tpl;
    var box = this.$("kb-fill-previews");
    clear(box);
    box.style.setProperty("--kb-fill-columns", String(tpl.channels.length));
    tpl.channels.forEach(function (channel) {
      var name = (tpl.channel_names && tpl.channel_names[channel]) || channel;
      var column = el("div", { className: "kb-fill-channel", "data-channel": channel });
      var head = el("div", { className: "kb-fill-channel-head" });
      head.appendChild(el("h3", { className: "kb-fill-channel-name" }, name));
      head.appendChild(el("span", { id: "kb-fill-count-" + channel, className: "kb-fill-count", "aria-live": "polite" }));
      head.appendChild(el("button", {
        type: "button", id: "kb-fill-copy-" + channel, className: "md-button kb-fill-small kb-fill-copy",
        "data-copy-channel": channel, "aria-label": "复制" + name, disabled: true
      }, "复制"));
      column.appendChild(head);
      column.appendChild(el("div", {
        id: "kb-fill-preview-" + channel, className: "kb-fill-text kb-fill-text--empty", tabindex: "0",
        role: "region", "aria-label": name + "预览", "data-placeholder": "填好必填项后在这里显示" + name + "预览"
      }));
      box.appendChild(column);
    });
    this.docChannel = DOC_CHANNELS.filter(function (c) { return tpl.channels.indexOf(c) !== -1; })[0] || null;
    var printOpen = this.$("kb-fill-print-open");
    printOpen.textContent = PRINT_LABEL[this.docChannel] || "打印通知";
    printOpen.disabled = true;
    printOpen.hidden = !this.docChannel;
    this.$("kb-fill-print-hint").textContent = this.docChannel
      ? "填好必填项后可打印 A4 " + (this.docChannel === "letter" ? "信函" : "通知") + "。"
      : "这个模板没有张贴通知或信函，不需要打印。";
    this.$("kb-fill-output").hidden = false;
    this.showResults(null);
  };

  // -- filling ----------------------------------------------------------------------------------

  FillPage.prototype.values = function () {
    var out = {};
    var inputs = this.inputs;
    Object.keys(inputs).forEach(function (name) { out[name] = inputs[name].value; });
    return out;
  };

  FillPage.prototype.touchAll = function () {
    var touched = this.touched;
    Object.keys(this.inputs).forEach(function (name) { touched[name] = true; });
  };

  FillPage.prototype.fillExamples = function () {
    var self = this;
    this.tpl.fields.forEach(function (f) {
      var input = self.inputs[f.name];
      if (!input || !f.example) return;
      if (input.tagName === "SELECT" && !Array.prototype.some.call(input.options, function (o) { return o.value === f.example; })) return;
      input.value = f.example;
    });
    this.touchAll();
    this.schedule(0);
  };

  FillPage.prototype.clearFields = function () {
    var inputs = this.inputs;
    Object.keys(inputs).forEach(function (name) { inputs[name].value = ""; });
    this.touched = {};
    this.schedule(0);
  };

  FillPage.prototype.schedule = function (delay) {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.render(); }, delay);
  };

  FillPage.prototype.render = function () {
    var self = this;
    var tpl = this.tpl;
    if (!this.alive() || !tpl) return;
    var mine = ++this.seq;
    if (this.controller) this.controller.abort();
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    this.controller = controller;
    var fields = this.values();
    var url = KB.api("templates/" + encodeURIComponent(tpl.id) + "/render");
    this.root.classList.add("kb-fill-busy");
    Promise.all(tpl.channels.map(function (channel) {
      return KB.sendJSON("POST", url, self.community ? { channel: channel, fields: fields, community: self.community }
        : { channel: channel, fields: fields }, { signal: controller ? controller.signal : undefined }).then(function (answer) { answer.channel = channel; return answer; });
    })).then(function (answers) {
      if (!self.alive() || mine !== self.seq) return;
      self.root.classList.remove("kb-fill-busy");
      self.apply(answers, fields);
    }, function (error) {
      if (!self.alive() || mine !== self.seq || (error && error.name === "AbortError")) return;
      self.root.classList.remove("kb-fill-busy");
      self.showResults(null);
      self.status(UNREACHABLE, true);
    });
  };

  FillPage.prototype.apply = function (answers, fields) {
    var self = this;
    var failed = answers.filter(function (a) { return a.status !== 200 && a.status !== 422; })[0];
    if (failed) {
      this.showResults(null);
      this.status((failed.data && failed.data.error) || "预览生成失败（" + failed.status + "），请稍后再试。", true);
      return;
    }
    var errors = {};
    var general = [];
    answers.forEach(function (a) {
      if (a.status !== 422) return;
      ((a.data && a.data.errors) || []).forEach(function (e) {
        if (self.inputs[e.field]) { if (!errors[e.field]) errors[e.field] = e.message; }
        else if (general.indexOf(e.message) === -1) general.push(e.message);
      });
      if (!(a.data && a.data.errors && a.data.errors.length) && a.data && a.data.error) general.push(a.data.error);
    });
    var ok = answers.every(function (a) { return a.status === 200; });

    // Field errors: shown for fields the user has touched; fixed ones are cleared.
    var waiting = [];
    this.tpl.fields.forEach(function (f) {
      if (f.computed) return;
      var message = errors[f.name];
      if (message && !self.touched[f.name]) { waiting.push(f.label); message = ""; }
      self.fieldError(f.name, message || "");
    });

    if (ok) {
      var values = answers[0].data.values || {};
      this.results = {};
      answers.forEach(function (a) { self.results[a.channel] = a.data; });
      this.showParsed(values, fields);
      this.forPublishing(values);
      this.showResults(this.results);
      this.status("");
      return;
    }
    // Invalid: a parsed value stays only while its field still holds what was parsed.
    Object.keys(this.inputs).forEach(function (name) {
      if (errors[name] || self.parsedFor[name] !== fields[name]) self.parsed(name, "");
    });
    this.showResults(null);
    var messages = general.slice();
    var shown = Object.keys(errors).filter(function (n) { return self.touched[n]; }).length;
    if (shown) messages.unshift("有 " + shown + " 项需要修改，见字段下方的红色提示。");
    if (waiting.length) messages.push("还需填写：" + waiting.join("、") + "。");
    this.status(messages.join(" "), general.length > 0);
  };

  // What "发布到小区公告" carries besides the text (notices.js): the community chosen here and,
  // from the template's time range (停水 9:00 至 15:00), when the notice stops being current: the
  // end of the outage. Values are Beijing wall-clock "2026-12-05 15:00" as the service parsed them.
  FillPage.prototype.forPublishing = function (values) {
    var button = document.getElementById("kb-fill-publish");
    if (!button) return;
    var end = "";
    this.tpl.fields.forEach(function (f) {
      var v = values[f.name];
      if (f.type === "timerange" && v && v.end && v.end > end) end = v.end;
    });
    button.dataset.community = this.community || "";
    // a range already over (the page warns about it) does not make the notice end before it starts
    button.dataset.validUntil = end > beijingNow() ? end : "";
  };

  // "2026-12-05 15:00" in Beijing time, comparable with the service's parsed values.
  function beijingNow() {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + (parts.hour === "24" ? "00" : parts.hour) + ":" + parts.minute;
  }

  FillPage.prototype.fieldError = function (name, message) {
    var input = this.inputs[name];
    var box = document.getElementById("kb-fill-err-" + name);
    if (!input || !box) return;
    box.textContent = message;
    box.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.closest(".kb-fill-field").classList.toggle("kb-fill-invalid", !!message);
  };

  FillPage.prototype.parsed = function (name, text) {
    var box = document.getElementById("kb-fill-parsed-" + name);
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  };

  FillPage.prototype.showParsed = function (values, fields) {
    var self = this;
    this.tpl.fields.forEach(function (f) {
      var value = values[f.name];
      var shown = showValue(f.type, value);
      if (f.computed) {
        self.parsed(f.name, shown ? "当前：" + shown : "");
        return;
      }
      var raw = (fields[f.name] || "").trim();
      self.parsedFor[f.name] = fields[f.name];
      var always = f.type === "date" || f.type === "datetime" || f.type === "timerange";
      var useful = ["phone", "number", "money", "building"].indexOf(f.type) !== -1 && shown !== raw;
      self.parsed(f.name, shown && (always || useful) ? "识别为 " + shown : "");
    });
  };

  // results: {channel: rendered} or null (not valid yet / unreachable).
  FillPage.prototype.showResults = function (results) {
    var self = this;
    var warnings = [];
    (this.tpl ? this.tpl.channels : []).forEach(function (channel) {
      var data = results && results[channel];
      var preview = document.getElementById("kb-fill-preview-" + channel);
      var count = document.getElementById("kb-fill-count-" + channel);
      var button = document.getElementById("kb-fill-copy-" + channel);
      if (!preview) return;
      preview.textContent = data ? data.text : "";
      preview.classList.toggle("kb-fill-text--empty", !data);
      button.disabled = !data;
      if (channel === "sms") {
        count.textContent = data ? "字数 " + data.length + " · 条数 " + data.segments : "字数 — · 条数 —";
        count.classList.toggle("kb-fill-over", !!data && data.segments > 1);
      } else {
        count.textContent = data ? "字数 " + data.length : "";
      }
      if (data) {
        count.dataset.length = String(data.length);
        (data.warnings || []).forEach(function (w) { if (warnings.indexOf(w) === -1) warnings.push(w); });
      } else {
        delete count.dataset.length;
      }
    });
    var list = this.$("kb-fill-warnings");
    clear(list);
    warnings.forEach(function (w) { list.appendChild(el("li", null, w)); });
    this.$("kb-fill-warnings-box").hidden = !warnings.length;
    var printOpen = this.$("kb-fill-print-open");
    printOpen.disabled = !(results && self.docChannel && results[self.docChannel] && results[self.docChannel].parts);
  };

  FillPage.prototype.copyChannel = function (button) {
    var self = this;
    var data = this.results[button.dataset.copyChannel];
    if (!data) return;
    KB.copyText(data.text).then(function () {
      button.textContent = "已复制";
      button.classList.add("kb-copied");
      setTimeout(function () {
        button.textContent = "复制";
        button.classList.remove("kb-copied");
      }, 1500);
    }, function () {
      self.status("复制失败：浏览器不允许访问剪贴板，请在预览中选中文字后按 Ctrl+C 复制。", true);
    });
  };

  FillPage.prototype.status = function (message, problem) {
    var box = this.$("kb-fill-status");
    box.textContent = message || "";
    box.classList.toggle("kb-fill-problem", !!problem);
  };

  // -- print view -------------------------------------------------------------------------------

  FillPage.prototype.openPrint = function () {
    var $ = this.$;
    var data = this.docChannel && this.results[this.docChannel];
    if (!data || !data.parts) return;
    var parts = data.parts;
    $("kb-fill-sheet-title").textContent = parts.title || "";
    var body = $("kb-fill-sheet-body");
    clear(body);
    (parts.body || "").split("\n").forEach(function (line, index) {
      if (!line.trim()) return;
      var p = el("p", null, line);
      if (index === 0 && /[：:]\s*$/.test(line)) p.className = "kb-fill-sheet-salutation";
      body.appendChild(p);
    });
    $("kb-fill-sheet-signature").textContent = parts.signature || "";
    $("kb-fill-sheet-date").textContent = parts.date || "";
    $("kb-fill-print").hidden = false;
    document.body.classList.add("kb-print-mode");
    window.scrollTo(0, 0);
    $("kb-fill-print-back").focus();
  };

  FillPage.prototype.closePrint = function () {
    leavePrintMode();
    var open = this.$("kb-fill-print-open");
    if (open) open.focus();
  };

  function leavePrintMode() {
    document.body.classList.remove("kb-print-mode");
    var view = document.getElementById("kb-fill-print");
    if (view) view.hidden = true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("kb-print-mode")) {
      var back = document.getElementById("kb-fill-print-back");
      if (back) back.click(); else leavePrintMode();
    }
  });

  function mount() {
    var root = document.getElementById("kb-fill");
    if (!root || !document.getElementById("kb-fill-form")) {
      leavePrintMode(); // navigated away from the fill page while printing
      return;
    }
    if (root.dataset.kbFillBound) return;
    root.dataset.kbFillBound = "1";
    new FillPage(root).start();
  }

  KB.onPage(mount);
})();
