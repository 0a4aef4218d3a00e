// 来电记录面板: record the current call from the lookup page (staff/lookup.md) or a script page,
// with type/category prefilled from the open script, the commitments' deadlines shown, the
// caller's earlier entries looked up from the phone number, and a login round trip that loses
// nothing typed (sessionStorage). Keyboard first: F2 (or R outside a text field) opens it,
// Enter in the last field saves, Esc closes. Plain ES2017, no libraries; kbcore.js (KB) first.
(function () {
  "use strict";

  // Under the site root (KB), so that a site served under a sub-path (https://host/kb/) works.
  const CONFIG_URL = KB.api("lookup");
  const SESSION_URL = KB.api("staff/session");
  const LOG_URL = KB.api("improvement-log");
  const DRAFT_KEY = "kb-call-draft";
  const TZ = "Asia/Shanghai";
  const FIELDS = ["community", "type", "tier", "category", "occurred_at", "location", "contact_name", "contact_phone",
    "consent", "content", "emotion", "cause", "proposed"];

  let config = null;
  let script = null;        // {id, title, url} of the open script
  let panel = null;
  let idempotencyKey = "";
  let historyTimer = 0;
  let historyCtrl = null;
  let historySeq = 0;
  let lastHistory = null;
  let ownCommunity = null;  // the signed-in account's community: the only one offered
  let communityFrom = "";
  let saveDone = false;     // this call is saved: nothing more to keep across a page load   // "page", "history", "own" or "person": where the chosen community came from

  // ---- helpers ------------------------------------------------------------------------------
  const el = KB.el;

  function beijing(date, withTime) {
    const parts = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    const hour = parts.hour === "24" ? "00" : parts.hour;
    return parts.year + "-" + parts.month + "-" + parts.day + (withTime ? "T" + hour + ":" + parts.minute : "");
  }

  function shown(iso) {  // Beijing time with the weekday: 2026-11-27 10:30（周五）
    if (!iso) return "";
    const d = new Date(iso);
    return beijing(d, true).replace("T", " ") + "（周" + "日一二三四五六"[weekdayIndex(d)] + "）";
  }

  function weekdayIndex(d) {
    const name = new Intl.DateTimeFormat("en-US", { timeZone: TZ, weekday: "short" }).format(d);
    return ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(name);
  }

  function isEditable(t) {
    if (!t || !t.tagName) return false;
    const tag = t.tagName.toUpperCase();
    return t.isContentEditable || tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && ["checkbox", "radio", "button", "submit"].indexOf((t.type || "").toLowerCase()) < 0);
  }

  function loadConfig() {
    const get = typeof window.kbLookupConfig === "function" ? window.kbLookupConfig() :
      KB.getJSON(CONFIG_URL).then(function (answer) { return answer.ok ? answer.data : null; });
    return Promise.resolve(get).then(function (c) { config = c; return c; });
  }

  function scriptOfPage() {
    const here = window.location.pathname;
    const scripts = KB.path("scripts/");   // "/kb/scripts/" when the site is under /kb/
    const m = here.indexOf(scripts) === 0 ? here.slice(scripts.length).match(/^([a-z]+\.[a-z0-9-]+)\/$/) : null;
    if (!m) return null;
    const h1 = document.querySelector(".md-content h1");
    return { id: m[1], title: h1 ? h1.textContent.trim() : m[1], url: window.location.pathname };
  }

  function field(name) { return panel ? panel.querySelector("[name='" + name + "']") : null; }

  function values() {
    const out = {};
    FIELDS.forEach(function (name) {
      const f = field(name);
      if (f) out[name] = f.type === "checkbox" ? f.checked : f.value;
    });
    return out;
  }

  function setValues(v) {
    FIELDS.forEach(function (name) {
      const f = field(name);
      if (!f || !(name in v)) return;
      if (f.type === "checkbox") f.checked = !!v[name]; else f.value = v[name];
    });
    syncType();
  }

  function typeSpec() {
    const id = field("type") && field("type").value;
    return ((config && config.record && config.record.types) || []).filter(function (t) { return t.id === id; })[0] || null;
  }

  // ---- the panel ----------------------------------------------------------------------------
  function options(items, empty) {
    const out = empty ? [el("option", { value: "", text: empty })] : [];
    return out.concat(items.map(function (i) { return el("option", { value: i.id, text: i.label || i.name }); }));
  }

  function communities() { return (config && config.communities) || []; }

  // The community this page is about: a community page's data-community, or ?community= in the address.
  function pageCommunity() {
    const ids = communities().map(function (c) { return c.id; });
    const marked = document.querySelector("[data-community]");
    const asked = new URLSearchParams(window.location.search).get("community");
    const found = [marked && marked.getAttribute("data-community"), asked].filter(function (c) { return ids.indexOf(c) >= 0; });
    return found[0] || "";
  }

  // Offer every community, or only the account's own (preset and fixed: the server fills it in too).
  function syncCommunities() {
    const box = field("community");
    if (!box) return;
    const all = communities();
    const offered = ownCommunity ? all.filter(function (c) { return c.id === ownCommunity; }) : all;
    const keep = box.value;
    box.textContent = "";
    options(offered, ownCommunity ? "" : "请选择小区").forEach(function (o) { box.appendChild(o); });
    if (ownCommunity) { box.value = ownCommunity; communityFrom = "own"; }
    else box.value = offered.some(function (c) { return c.id === keep; }) ? keep : "";
    panel.querySelector("#kb-call-community-label").hidden = all.length < 2;
  }

  function build(host) {
    const rec = config.record;
    panel = el("section", { id: "kb-call", className: "kb-call", hidden: true, "aria-labelledby": "kb-call-title" }, [
      el("h2", { id: "kb-call-title", text: "记录这通来电" }),
      el("p", { className: "kb-call-script", id: "kb-call-script" }),
      el("form", { id: "kb-call-form", className: "kb-call-form", novalidate: true }, [
        el("div", { className: "kb-call-grid" }, [
          el("label", { id: "kb-call-community-label" }, ["小区", el("select", { name: "community" }, [])]),
          el("label", {}, ["类型", el("select", { name: "type" }, options(rec.types))]),
          el("label", { id: "kb-call-tier-label" }, ["报修档位", el("select", { name: "tier" }, [])]),
          el("label", {}, ["分类", el("select", { name: "category" }, options(rec.categories, "（未分类）"))]),
          el("label", {}, ["发生时间", el("input", { name: "occurred_at", type: "datetime-local" })]),
          el("label", {}, ["地点 / 房号", el("input", { name: "location", maxlength: 100, placeholder: "例如 3 号楼 2 单元 301" })]),
          el("label", {}, ["业主称呼", el("input", { name: "contact_name", maxlength: 50 })]),
          el("label", {}, ["来电号码", el("input", { name: "contact_phone", type: "tel", maxlength: 30, autocomplete: "off" })]),
          el("label", {}, ["业主情绪", el("select", { name: "emotion" }, options(rec.emotions, "（未记录）"))]),
        ]),
        el("label", { className: "kb-check" }, [el("input", { type: "checkbox", name: "consent" }),
          " 业主同意留下称呼和电话用于回访（不勾选则不保存）"]),
        el("div", { id: "kb-call-history", className: "kb-call-history", "aria-live": "polite" }),
        el("label", {}, ["来电内容", el("textarea", { name: "content", rows: 3, maxlength: 2000, required: true })]),
        el("label", {}, ["原因分析", el("textarea", { name: "cause", rows: 2, maxlength: 2000 })]),
        el("label", {}, ["拟处理方式（在此按 Enter 保存）", el("input", { name: "proposed", maxlength: 2000 })]),
        el("p", { id: "kb-call-deadlines", className: "kb-call-deadlines" }),
        el("p", {}, [el("button", { type: "submit", className: "md-button md-button--primary", text: "保存记录（Enter）" }),
          " ", el("button", { type: "button", className: "md-button", id: "kb-call-close", text: "关闭（Esc）" })]),
      ]),
      el("div", { id: "kb-call-result", className: "kb-call-result", "aria-live": "polite" }),
      el("p", { id: "kb-call-status", className: "kb-call-status", role: "status" }),
    ]);
    host.appendChild(panel);
    panel.querySelector("#kb-call-form").addEventListener("submit", function (e) { e.preventDefault(); save(); });
    panel.querySelector("#kb-call-close").addEventListener("click", close);
    field("type").addEventListener("change", syncType);
    field("community").addEventListener("change", function () { communityFrom = "person"; });
    syncCommunities();
    field("tier").addEventListener("change", showDeadlines);
    field("category").addEventListener("change", function () { renderHistory(lastHistory); });
    field("contact_phone").addEventListener("input", scheduleHistory);
    field("proposed").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); save(); }
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
    });
    panel.addEventListener("input", keepDraft);
    panel.addEventListener("change", keepDraft);
  }

  function syncType() {
    const spec = typeSpec();
    const tier = field("tier");
    const keep = tier.value;
    tier.textContent = "";
    const tiers = spec && spec.tiers ? spec.tiers : [];
    options(tiers.map(function (t) { return { id: t.id, label: t.name + "（" + t.text + "内）" }; }), "（按默认时限）")
      .forEach(function (o) { tier.appendChild(o); });
    tier.value = tiers.some(function (t) { return t.id === keep; }) ? keep : "";
    panel.querySelector("#kb-call-tier-label").hidden = !tiers.length;
    showDeadlines();
  }

  function showDeadlines() {
    const spec = typeSpec();
    const out = panel.querySelector("#kb-call-deadlines");
    out.textContent = "";
    if (!spec) return;
    const tierId = field("tier").value;
    const tier = (spec.tiers || []).filter(function (t) { return t.id === tierId; })[0];
    const first = tier || spec.response;
    const parts = [];
    if (first) parts.push((tier ? tier.name : first.name) + "：" + first.text + "内");
    if (spec.result) parts.push(spec.result.name + "：" + spec.result.text + "内");
    out.textContent = parts.length ? "时限（服务标准）：" + parts.join("；") + "。" : "这一类型没有承诺的答复时限。";
  }

  function prefill() {
    const pre = script && config.record.prefill ? config.record.prefill[script.id] || {} : {};
    if (!ownCommunity && !field("community").value) {
      const here = pageCommunity();
      if (here) { field("community").value = here; communityFrom = "page"; }
    }
    if (pre.type) field("type").value = pre.type;
    syncType();
    if (pre.tier) field("tier").value = pre.tier;
    if (pre.category) field("category").value = pre.category;
    showDeadlines();
  }

  function showScript() {
    const line = panel.querySelector("#kb-call-script");
    line.textContent = "";
    if (script) line.append("按话术：", el("a", { href: script.url, text: script.title }), " ", el("code", { text: script.id }));
    else line.textContent = "没有打开话术（可先在速查里打开一条）。";
  }

  function fresh() {
    saveDone = false;
    idempotencyKey = "call-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    panel.querySelector("#kb-call-form").reset();
    field("occurred_at").value = beijing(new Date(), true);
    panel.querySelector("#kb-call-result").textContent = "";
    panel.querySelector("#kb-call-history").textContent = "";
    lastHistory = null;
    communityFrom = "";
    syncCommunities();
    prefill();
  }

  function open() {
    if (!panel) return;
    const wasHidden = panel.hidden;
    panel.hidden = false;
    if (wasHidden && !panel.dataset.restored) fresh();
    panel.dataset.restored = "";
    showScript();
    setStatus("");
    learnAccount();
    field("contact_phone").focus();
    if (panel.scrollIntoView) panel.scrollIntoView({ block: "nearest" });
  }

  function close() {
    if (!panel) return;
    panel.hidden = true;
    const box = document.getElementById("kb-lookup-q");
    if (box) box.focus();
  }

  function setStatus(text, kind) {
    const s = panel.querySelector("#kb-call-status");
    s.textContent = text || "";
    s.className = "kb-call-status" + (kind ? " kb-call-status--" + kind : "");
  }

  // ---- draft kept across the login round trip ----------------------------------------------
  function lookupQuery() {
    const box = document.getElementById("kb-lookup-q");
    return box ? box.value.trim() : "";
  }

  function keepDraft() {
    // after saving, the "change" of the field left for the copy button must not bring the saved
    // call back as a draft on the next page load
    if (saveDone) return;
    try {
      sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ path: window.location.pathname, query: lookupQuery(),
        script: script, values: values(), key: idempotencyKey }));
    } catch (e) { /* private mode: nothing to keep */ }
  }

  function takeDraft() {
    try {
      const raw = sessionStorage.getItem(DRAFT_KEY);
      const draft = raw ? JSON.parse(raw) : null;
      return draft && draft.path === window.location.pathname ? draft : null;
    } catch (e) { return null; }
  }

  function dropDraft() {
    try { sessionStorage.removeItem(DRAFT_KEY); } catch (e) { /* nothing */ }
  }

  function toLogin() {
    keepDraft();
    const q = lookupQuery();
    const back = window.location.pathname + (q ? "?q=" + encodeURIComponent(q) : "") + "#kb-call";
    window.location.assign(KB.path("staff/login") + "?next=" + encodeURIComponent(back));
  }

  // ---- saving -------------------------------------------------------------------------------
  function session() {
    return KB.getJSON(SESSION_URL).then(function (answer) {
      const sess = answer.status === 401 ? null : answer.data;
      if (sess && (sess.community || null) !== ownCommunity) { ownCommunity = sess.community || null; syncCommunities(); }
      return sess;
    });
  }

  // Who is signed in (if anyone): a community's account gets its community preset and fixed.
  function learnAccount() {
    session().catch(function () { /* offline: the server still checks on saving */ });
  }

  function body() {
    const v = values();
    const out = { type: v.type, content: v.content, consent: !!v.consent, idempotency_key: idempotencyKey,
      record: { occurred_at: v.occurred_at, place: v.location, emotion: v.emotion, cause: v.cause, proposed: v.proposed } };
    ["community", "category", "tier", "location", "contact_name", "contact_phone"].forEach(function (k) { if (v[k]) out[k] = v[k]; });
    if (script) out.script_id = script.id;
    return out;
  }

  function save() {
    if (!field("content").value.trim()) {
      setStatus("请先写来电内容。", "error");
      field("content").focus();
      return;
    }
    if (communities().length > 1 && !field("community").value && !ownCommunity) {
      setStatus("请先选择小区（业主住在哪个小区）。", "error");
      field("community").focus();
      return;
    }
    keepDraft();
    setStatus("正在保存…", "busy");
    session().then(function (sess) {
      if (!sess) {
        setStatus("需要登录：正在转到登录页，登录后回到这里，已填的内容不会丢。", "busy");
        toLogin();
        return null;
      }
      return KB.sendJSON("POST", LOG_URL, body(), { headers: { "X-CSRF-Token": sess.csrf } }).then(function (res) {
        if (res.status === 401) { toLogin(); return; }
        if (res.status !== 201) {
          const errs = (res.data.errors || []).map(function (x) { return x.field + "：" + x.message; }).join("；");
          setStatus("没有保存：" + (errs || res.data.error || "请检查后重试"), "error");
          return;
        }
        saveDone = true;
        dropDraft();
        saved(res.data);
      });
    }).catch(function () { setStatus("保存失败：连不上服务，已填内容仍在，请稍后再按 Enter。", "error"); });
  }

  function saved(entry) {
    const result = panel.querySelector("#kb-call-result");
    result.textContent = "";
    const due = entry.respond_by ? shown(entry.respond_by) : "";
    const say = "您的登记编号是 " + entry.reference + (due ? "，我们会在 " + due + " 前联系您" : "") + "。";
    const ref = el("code", { id: "kb-call-reference", text: entry.reference });
    const copyRef = el("button", { type: "button", className: "md-button", text: "复制编号" });
    const copySay = el("button", { type: "button", className: "md-button", text: "复制告知语" });
    copyRef.addEventListener("click", function () {
      KB.copyText(entry.reference).then(function () { setStatus("已复制编号。", "ok"); });
    });
    copySay.addEventListener("click", function () { KB.copyText(say).then(function () { setStatus("已复制告知语。", "ok"); }); });
    result.append(
      el("p", {}, [el("strong", { text: "已登记。" }), "编号 ", ref, " ", copyRef]),
      due ? el("p", { id: "kb-call-due" }, ["首次联系业主时限：", el("strong", { text: due })]) : null,
      el("p", { className: "kb-call-say" }, ["告诉业主：", el("span", { id: "kb-call-say", text: say }), " ", copySay]),
      el("p", {}, [el("a", { href: KB.path("staff/entries/" + entry.id), text: "打开条目跟进" })]));
    setStatus("已保存，编号 " + entry.reference + "。", "ok");
    copyRef.focus();
  }

  // ---- caller history -----------------------------------------------------------------------
  function digits(text) {
    let d = (text || "").replace(/\D/g, "");
    if (d.indexOf("0086") === 0) d = d.slice(4);
    else if (d.indexOf("86") === 0 && d.length === 13) d = d.slice(2);
    return d;
  }

  function scheduleHistory() {
    clearTimeout(historyTimer);
    const d = digits(field("contact_phone").value);
    if (d.length < 11 && !(d.length >= 7 && d[0] === "0")) {
      if (historyCtrl) historyCtrl.abort();
      historySeq += 1;
      lastHistory = null;
      panel.querySelector("#kb-call-history").textContent = "";
      return;
    }
    historyTimer = setTimeout(function () { lookupHistory(d); }, 150);
  }

  function lookupHistory(number) {
    if (historyCtrl) historyCtrl.abort();
    const ctrl = new AbortController();
    historyCtrl = ctrl;
    const seq = ++historySeq;
    KB.getJSON(LOG_URL + "?phone=" + encodeURIComponent(number) + "&limit=10", { signal: ctrl.signal })
      .then(function (answer) { return answer.status === 401 ? { login: true } : answer.data; })
      .then(function (data) {
        if (seq !== historySeq) return;
        lastHistory = data;
        communityFromHistory(data);
        renderHistory(data);
      }).catch(function () { /* aborted or offline: the record can still be saved */ });
  }

  // A caller who called before most likely lives where they lived then: preset the community of
  // their latest entry unless someone (or the page) chose one already.
  function communityFromHistory(data) {
    const box = field("community");
    if (!data || !data.entries || !data.entries.length || ownCommunity) return;
    if (box.value && communityFrom !== "history") return;
    const latest = data.entries[0].community;
    if (latest && communities().some(function (c) { return c.id === latest; })) {
      box.value = latest;
      communityFrom = "history";
      keepDraft();
    }
  }

  function renderHistory(data) {
    const box = panel.querySelector("#kb-call-history");
    box.textContent = "";
    if (!data) return;
    if (data.login) {
      box.append(el("p", { className: "kb-meta", text: "登录后可以看到这个号码以前的来电。" }));
      return;
    }
    if (!data.total) {
      box.append(el("p", { className: "kb-meta", id: "kb-call-first", text: "这个号码以前没有登记过。" }));
      return;
    }
    const category = field("category").value;
    const repeat = data.repeat || {};
    if (category && (repeat.categories || []).indexOf(category) >= 0) {
      const flag = el("p", { id: "kb-call-repeat", className: "kb-call-repeat", role: "alert" }, [
        el("strong", { text: "重复来电：" }), repeat.window_days + " 天内同一分类已经来电过。"]);
      if (repeat.script) {
        const link = el("a", { href: repeat.script.url, id: "kb-call-repeat-script", text: "用“" + repeat.script.title + "”话术" });
        link.addEventListener("click", function (e) {
          if (typeof window.kbLookupOpen === "function") { e.preventDefault(); window.kbLookupOpen(repeat.script); }
        });
        flag.append(" ", link);
      }
      box.append(flag);
    }
    const rows = el("tbody", {}, data.entries.map(function (e) {
      return el("tr", {}, [el("td", { text: shown(e.created_at).slice(0, 10) }), el("td", { text: e.category_label || "—" }),
        el("td", { text: e.type_label }), el("td", { text: e.status_label }), el("td", {}, [el("code", { text: e.reference })])]);
    }));
    box.append(el("p", { text: "这个号码以前的来电（" + data.total + " 条）：" }),
      el("table", { className: "kb-call-history-table" }, [el("thead", {}, [el("tr", {}, ["日期", "分类", "类型", "状态", "编号"]
        .map(function (h) { return el("th", { text: h }); }))]), rows]));
  }

  // ---- start --------------------------------------------------------------------------------
  let keysBound = false;
  function bindKeys() {
    if (keysBound) return;
    keysBound = true;
    window.addEventListener("keydown", function (e) {
      if (!panel || !document.body.contains(panel) || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "F2" || ((e.key === "r" || e.key === "R") && !isEditable(e.target) && panel.hidden)) {
        e.preventDefault();
        e.stopImmediatePropagation();
        open();
      }
    }, true);
    document.addEventListener("kb:script-opened", function (e) {
      script = { id: e.detail.id, title: e.detail.title, url: e.detail.url };
      if (panel && !panel.hidden) { showScript(); prefill(); keepDraft(); }
    });
  }

  function bind() {
    const lookupHost = document.getElementById("kb-lookup");
    const pageScript = scriptOfPage();
    const host = lookupHost || (pageScript ? document.querySelector(".md-content__inner") : null);
    if (!host || host.querySelector("#kb-call")) return;
    bindKeys();
    script = pageScript;
    loadConfig().then(function (c) {
      if (!c || !c.record || host.querySelector("#kb-call")) return;
      const opener = el("button", { type: "button", className: "md-button kb-call-open", id: "kb-call-open",
        text: "记录来电（F2）" });
      opener.addEventListener("click", open);
      host.appendChild(el("p", {}, [opener]));
      build(host);
      const draft = takeDraft();
      if (draft) {
        script = draft.script || script;
        idempotencyKey = draft.key || "";
        panel.hidden = false;
        setValues(draft.values || {});
        showScript();
        if (draft.script && lookupHost && typeof window.kbLookupOpen === "function") window.kbLookupOpen(draft.script, true);
        panel.dataset.restored = "1";
        learnAccount();
        setStatus("已恢复刚才填写的内容。按 Enter 保存。", "ok");
        field("proposed").focus();
        scheduleHistory();
      }
    });
  }

  window.kbCallRecord = { open: open };
  KB.onPage(bind);
})();
