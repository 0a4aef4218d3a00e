// 话术速查 (staff/lookup.md): search-as-you-type against /api/search, scripts opened inline from
// /api/scripts/{id}, every step reachable from the keyboard. Plain ES2017, no libraries; kbcore.js
// (KB) first. Runs only on pages that have #kb-lookup-q, on every page view (KB.onPage: Material's
// instant navigation).
(function () {
  "use strict";

  // Under the site root (KB), so that a site served under a sub-path (https://host/kb/) works.
  const SEARCH_URL = KB.api("search");
  const SCRIPT_URL = KB.api("scripts/");
  const SCRIPTS_PAGE = KB.path("scripts/");
  const LIMIT = 8;
  const CONFIG_URL = KB.api("lookup");
  // Short: the previous request is aborted and older answers are dropped (sequence number), so
  // a short debounce only spares the server the keystrokes of a fast typist (see bench/README.md).
  const DEBOUNCE_MS = 25;
  const SLOW_MS = 400;       // show "正在检索…" only when a request is slow
  const TIMEOUT_MS = 8000;   // never leave the status line waiting forever
  const KIND_TEXT = { script: "话术", template: "模板", page: "手册" };
  const MSG_ZERO = "没有找到，换个说法试试，例如“停水”“投诉”。";
  const MSG_NO_SCRIPT = "没有专门的话术。";
  const MSG_WEAK = "可能相关，请核对";
  const PICKS_URL = KB.api("lookup/picks");
  const SESSION_URL = KB.api("staff/session");

  // Material opens its own search overlay for any ?q= in the address (its shared-search link) and
  // gives it the keystrokes. Here q is the lookup box's query (the record panel's login round trip
  // comes back to ?q=…#kb-call). Material has mounted (and opened its search) by the time this
  // script runs, so its search is shut again and emptied. Unchecked without a change event: Material
  // reads the toggle when a key is pressed, and does not take q out of the address, which the
  // lookup box reads.
  (function shutSiteSearch() {
    if (!document.getElementById("kb-lookup-q") || !new URL(window.location.href).searchParams.has("q")) return;
    const toggle = document.getElementById("__search");
    const box = document.querySelector("input.md-search__input");
    if (box) { box.value = ""; box.blur(); }
    if (toggle) toggle.checked = false;
  })();

  // The general fallbacks (snippets/lookup.yaml), fetched once per page load.
  let config = null;
  let configPromise = null;
  function lookupConfig() {
    if (!configPromise) {
      configPromise = KB.getJSON(CONFIG_URL)
        .then(function (answer) { return answer.ok ? answer.data : null; })
        .then(function (data) { config = data; return data; }, function () { configPromise = null; return null; });
    }
    return configPromise;
  }
  window.kbLookupConfig = lookupConfig;

  // ---- small DOM helpers ----------------------------------------------------------------
  const el = KB.el;

  function isEditable(target) {
    if (!target || target === document || target === window) return false;
    if (target.isContentEditable) return true;
    const tag = (target.tagName || "").toUpperCase();
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") {
      const type = (target.getAttribute("type") || "text").toLowerCase();
      return ["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].indexOf(type) < 0;
    }
    return false;
  }

  function hasSelection() {
    const sel = window.getSelection ? window.getSelection() : null;
    return !!(sel && !sel.isCollapsed && sel.toString().length > 0);
  }

  // KB.getJSON with an abort signal and a time limit; resolves the data, rejects on network
  // errors and non-2xx (either way the status line offers the full pages instead).
  function timedJSON(url, controller) {
    let timedOut = false;
    const timer = setTimeout(function () { timedOut = true; controller.abort(); }, TIMEOUT_MS);
    return KB.getJSON(url, { signal: controller.signal })
      .then(function (answer) {
        if (!answer.ok) {
          const err = new Error("HTTP " + answer.status);
          err.status = answer.status;
          throw err;
        }
        return answer.data;
      })
      .then(function (data) {
        clearTimeout(timer);
        return data;
      }, function (err) {
        clearTimeout(timer);
        if (timedOut) {
          const e = new Error("timeout");
          e.timeout = true;
          throw e;
        }
        throw err;
      });
  }

  function isAbort(err, controller) {
    return !!err && err.name === "AbortError" && !err.timeout && controller.signal.aborted;
  }

  // ---- "/" (and Material's "s") focus the lookup box on this page ------------------------
  // Material binds "/" and "s" to its own search on window (bubble phase); we run first, in the
  // capture phase, and stop it while the lookup box exists.
  let globalKeysBound = false;
  function bindGlobalKeys() {
    if (globalKeysBound) return;
    globalKeysBound = true;
    window.addEventListener("keydown", function (event) {
      const input = document.getElementById("kb-lookup-q");
      if (!input || event.isComposing) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key !== "/" && event.key !== "s") return;
      if (isEditable(event.target)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      input.focus();
      input.select();
    }, true);
  }

  // ---- the page ----------------------------------------------------------------------------
  function bind() {
    const input = document.getElementById("kb-lookup-q");
    if (!input) return;
    bindGlobalKeys();
    if (input.dataset.kbLookupBound) return;
    input.dataset.kbLookupBound = "1";

    const status = document.getElementById("kb-lookup-status");
    const list = document.getElementById("kb-lookup-results");
    const detail = document.getElementById("kb-lookup-detail");
    if (!status || !list || !detail) return;

    let results = [];
    let active = -1;
    let debounceTimer = 0;
    let slowTimer = 0;
    let searchCtrl = null;
    let searchSeq = 0;
    let lastQuery = "";
    let pendingOpen = false;       // Enter pressed before the results arrived
    let scriptCtrl = null;
    let scriptSeq = 0;
    let sayRows = [];
    let sayActive = -1;
    let feedbackTimer = 0;
    let answerMatch = "";          // the match of the answer shown (recorded with a pick)
    let urgent = null;             // {query, result}: the emergency matched while this query was typed

    // -- status line --
    function setStatus(text, kind) {
      status.textContent = text || "";
      status.className = "kb-lookup-status" + (kind ? " kb-lookup-status--" + kind : "");
    }

    function setOffline(extraUrl) {
      status.textContent = "";
      status.className = "kb-lookup-status kb-lookup-status--error";
      status.appendChild(document.createTextNode("检索服务暂时连不上。请直接浏览"));
      status.appendChild(el("a", { href: SCRIPTS_PAGE, text: "话术库" }));
      status.appendChild(document.createTextNode("，或稍后再试。"));
      if (extraUrl) {
        status.appendChild(document.createTextNode("也可以"));
        status.appendChild(el("a", { href: extraUrl, text: "打开完整页面" }));
        status.appendChild(document.createTextNode("。"));
      }
    }

    // -- results list --
    function clearResults() {
      results = [];
      active = -1;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function cancelSearch() {
      clearTimeout(debounceTimer);
      clearTimeout(slowTimer);
      if (searchCtrl) searchCtrl.abort();
      searchCtrl = null;
      searchSeq += 1;
    }

    function highlight(index) {
      const options = list.querySelectorAll("[role=option]");
      if (!options.length) { active = -1; return; }
      active = Math.max(0, Math.min(index, options.length - 1));
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      const current = options[active];
      input.setAttribute("aria-activedescendant", current.id);
      if (current.scrollIntoView) current.scrollIntoView({ block: "nearest" });
    }

    // The answer's results come first, in the search's order: the best answer is always the first
    // option (a weak one marked 可能相关，请核对). The general scripts (snippets/lookup.yaml) follow
    // them; only when there is no answer at all (match none) do they come first. No id twice.
    function renderResults(data) {
      clearResults();
      let related = Array.isArray(data.results) ? data.results.slice() : [];
      let match = data.match || "";
      const query = typeof data.query === "string" ? data.query.trim() : "";
      // While the query is still being typed, an emergency already matched stays first: the
      // caller said 电梯 … 困 and the rest of the sentence must not push it down.
      if (related.length && related[0].emergency) {
        urgent = { query: query, result: related[0] };
      } else if (urgent && query.indexOf(urgent.query) === 0) {
        const kept = urgent.result;
        related = [Object.assign({}, kept, { kept: true })].concat(related.filter(function (r) { return r.id !== kept.id; }));
        match = "strong";
      } else {
        urgent = null;
      }
      answerMatch = match;
      const none = match === "none" || !related.length;
      const weak = match === "weak";
      const seen = {};
      related.forEach(function (r) { seen[r.id] = true; });
      const general = match !== "strong" && config && Array.isArray(config.fallbacks) ? config.fallbacks.filter(function (f) {
        return !seen[f.id];
      }).map(function (f) {
        return { id: f.id, kind: "script", title: f.title, url: f.url, snippet: f.summary || "", general: true };
      }) : [];
      results = none ? general.concat(related) : related.concat(general);
      list.dataset.match = match;
      list.dataset.query = query;
      if (!results.length) {
        setStatus(MSG_ZERO, "empty");
        return;
      }
      const firstGeneral = none ? 0 : related.length;
      results.forEach(function (r, i) {
        if (none && i === 0) {
          list.appendChild(el("li", { role: "presentation", className: "kb-lookup-group kb-lookup-nomatch",
            id: "kb-lookup-nomatch" }, [el("strong", { text: MSG_NO_SCRIPT }), general.length ? "先用通用话术：" : ""]));
        }
        if (none && i === general.length && related.length) {
          list.appendChild(el("li", { role: "presentation", className: "kb-lookup-group", text: "相关结果（不是专门的答案）" }));
        }
        if (!none && general.length && i === firstGeneral) {
          list.appendChild(el("li", { role: "presentation", className: "kb-lookup-group kb-lookup-nomatch",
            id: "kb-lookup-nomatch" }, [weak ? "上面都不对时：" : "", el("strong", { text: MSG_NO_SCRIPT }), "可用通用话术："]));
        }
        const kindText = KIND_TEXT[r.kind] || r.kind;
        const snippet = el("div", { className: "kb-lookup-snippet" });
        snippet.innerHTML = r.snippet || "";  // already HTML-escaped by the API, with <mark>
        const badges = [];
        if (r.emergency) badges.push(el("span", { className: "kb-lookup-badge kb-lookup-badge--urgent", text: "紧急" }));
        if (r.colleagues) badges.push(el("span", { className: "kb-lookup-badge kb-lookup-badge--colleagues", text: "同事常选" }));
        if (weak && i === 0 && !r.general) badges.push(el("span", { className: "kb-lookup-badge kb-lookup-badge--weak", text: MSG_WEAK }));
        const parts = [
          el("span", { className: "kb-lookup-hit-head" }, badges.concat([
            el("span", { className: "kb-lookup-kind kb-lookup-kind--" + r.kind, text: kindText }),
            el("span", { className: "kb-lookup-title", text: r.title }),
            el("code", { className: "kb-lookup-id", text: r.id }),
          ])),
        ];
        // An emergency shows its first action right in the list: it can be read out before opening.
        if (r.emergency && r.first_action) {
          parts.push(el("div", { className: "kb-lookup-first-action" }, [
            el("span", { className: "kb-label", text: "先说" }), r.first_action,
          ]));
        } else {
          parts.push(snippet);
        }
        const link = el("a", { className: "kb-lookup-hit", href: KB.path(r.url), tabindex: "-1" }, parts);
        list.appendChild(el("li", {
          id: "kb-lookup-opt-" + i, role: "option", "aria-selected": "false",
          className: "kb-lookup-option" + (r.general ? " kb-lookup-option--general" : "")
            + (r.emergency ? " kb-lookup-option--urgent" : "") + (weak && i === 0 && !r.general ? " kb-lookup-option--weak" : ""),
          "data-id": r.id, "data-kind": r.kind, "data-index": i, "data-general": r.general ? "1" : null,
          "data-emergency": r.emergency ? "1" : null,
        }, [link]));
      });
      input.setAttribute("aria-expanded", "true");
      highlight(0);
      if (results[0].emergency) {
        setStatus("紧急情况：先按第一条处理。按 Enter 打开。", "urgent");
        return;
      }
      if (none) {
        setStatus((related.length ? MSG_NO_SCRIPT + "下面是通用话术和相关结果，" : MSG_ZERO + MSG_NO_SCRIPT + "下面是通用话术，")
          + "按 ↑/↓ 选择，Enter 打开。", "nomatch");
        return;
      }
      if (weak) {
        setStatus("第一条" + MSG_WEAK + "；都不对时用后面的通用话术。按 ↑/↓ 选择，Enter 打开。", "nomatch");
        return;
      }
      const total = typeof data.total === "number" ? data.total : related.length;
      const head = total > related.length ? "找到 " + total + " 条，显示前 " + related.length + " 条。" : "找到 " + related.length + " 条。";
      setStatus(head + "按 ↑/↓ 选择，Enter 打开。", "ok");
    }

    // What an agent opened from the list, for /staff/gaps and 同事常选 (POST /api/lookup/picks).
    // Staff only; without a session nothing is sent. Never waits: the script opens regardless.
    let csrf = null;
    function recordPick(r) {
      const query = list.dataset.query || "";
      if (!query || !r || !r.id) return;
      const send = function (token) {
        return KB.sendJSON("POST", PICKS_URL, { query: query, id: r.id, match: answerMatch || "none" },
          { headers: { "X-CSRF-Token": token } });
      };
      (csrf ? Promise.resolve(csrf) : KB.getJSON(SESSION_URL).then(function (answer) {
        csrf = answer.ok && answer.data ? answer.data.csrf : null;
        return csrf;
      })).then(function (token) { if (token) return send(token); }).catch(function () { /* not recorded */ });
    }

    function search(query) {
      cancelSearch();
      const ctrl = new AbortController();
      searchCtrl = ctrl;
      const seq = searchSeq;
      lastQuery = query;
      slowTimer = setTimeout(function () {
        if (seq === searchSeq) setStatus("正在检索…", "busy");
      }, SLOW_MS);
      const url = SEARCH_URL + "?q=" + encodeURIComponent(query) + "&limit=" + LIMIT;
      Promise.all([timedJSON(url, ctrl), config ? null : lookupConfig()]).then(function (both) {
        const data = both[0];
        if (seq !== searchSeq) return;  // an older answer arriving late
        clearTimeout(slowTimer);
        searchCtrl = null;
        renderResults(data);
        if (pendingOpen) {
          pendingOpen = false;
          if (results.length) openResult(active < 0 ? 0 : active);
        }
      }).catch(function (err) {
        if (seq !== searchSeq || isAbort(err, ctrl)) return;
        clearTimeout(slowTimer);
        searchCtrl = null;
        pendingOpen = false;
        clearResults();
        setOffline();
      });
    }

    function onInput() {
      const query = input.value.trim();
      clearTimeout(debounceTimer);
      if (!query) {
        cancelSearch();
        pendingOpen = false;
        lastQuery = "";
        urgent = null;
        clearResults();
        setStatus("");
        return;
      }
      if (query === lastQuery && searchCtrl === null && results.length) return;
      debounceTimer = setTimeout(function () { search(query); }, DEBOUNCE_MS);
    }

    function openResult(index) {
      const r = results[index];
      if (!r) return;
      highlight(index);
      recordPick(r);
      if (r.kind === "script") {
        openScript(r);
        return;
      }
      // templates and handbook pages: go to the page (Material's instant navigation picks up the click)
      const link = list.querySelector("#kb-lookup-opt-" + index + " a.kb-lookup-hit");
      if (link) link.click(); else window.location.assign(KB.path(r.url));
    }

    // the record panel (callrecord.js) reopens a script after the login round trip, or the
    // repeat-complaint script when a caller calls again
    window.kbLookupOpen = function (r, keepFocus) { openScript(r, keepFocus); };

    // -- script detail --
    function openScript(r, keepFocus) {
      if (scriptCtrl) scriptCtrl.abort();
      const ctrl = new AbortController();
      scriptCtrl = ctrl;
      const seq = ++scriptSeq;
      sayRows = [];
      sayActive = -1;
      detail.textContent = "";
      detail.appendChild(el("p", { className: "kb-lookup-loading", text: "正在打开“" + r.title + "”…" }));
      timedJSON(SCRIPT_URL + encodeURIComponent(r.id), ctrl).then(function (script) {
        if (seq !== scriptSeq) return;
        scriptCtrl = null;
        renderScript(script);
        document.dispatchEvent(new CustomEvent("kb:script-opened", { detail: script }));
        setStatus("已打开“" + script.title + "”。J/K 或 ↑/↓ 选句子，C 复制，Esc 回到搜索框。", "ok");
        if (keepFocus) return;
        if (sayRows.length) moveSay(0); else detail.focus();
      }).catch(function (err) {
        if (seq !== scriptSeq || isAbort(err, ctrl)) return;
        scriptCtrl = null;
        detail.textContent = "";
        setOffline(KB.path(r.url));
      });
    }

    function renderScript(s) {
      detail.textContent = "";
      const parts = [];
      parts.push(el("h2", { className: "kb-lookup-script-title", id: "kb-lookup-script-title", text: s.title }));
      parts.push(el("p", { className: "kb-meta" }, [
        "话术 · ", el("code", { text: s.id }), s.category_name ? " · " + s.category_name : null,
      ]));
      if (s.applies_when) {
        parts.push(el("p", { className: "kb-lookup-applies" }, [
          el("span", { className: "kb-label", text: "适用" }), s.applies_when,
        ]));
      }

      const steps = el("ol", { className: "kb-steps kb-lookup-steps" });
      let sayIndex = 0;
      (s.steps || []).forEach(function (step) {
        const li = el("li");
        if (step.say) {
          const n = sayIndex + 1;
          const row = el("div", {
            className: "kb-say kb-lookup-say", tabindex: "0", "data-say-index": sayIndex,
            "aria-label": "第 " + n + " 句：" + step.say,
          }, [
            el("span", { className: "kb-say-label", text: "说" }),
            el("span", { className: "kb-say-text", text: step.say }),
            el("button", { type: "button", className: "md-button kb-copy kb-lookup-copy", title: "复制这句话（C）", text: "复制" }),
          ]);
          row.dataset.copy = step.say;
          sayRows.push(row);
          sayIndex += 1;
          li.appendChild(row);
        }
        if (step.do) li.appendChild(el("p", { className: "kb-do" }, [el("span", { className: "kb-label", text: "做" }), step.do]));
        if (step.note) li.appendChild(el("p", { className: "kb-note" }, [el("span", { className: "kb-label", text: "提示" }), step.note]));
        steps.appendChild(li);
      });
      parts.push(el("h3", { text: "通话步骤" }));
      parts.push(steps);

      if (s.avoid && s.avoid.length) {
        parts.push(el("h3", { text: "不要这样说" }));
        const body = el("tbody");
        s.avoid.forEach(function (a) {
          body.appendChild(el("tr", null, [
            el("td", { text: a.phrase || "" }), el("td", { text: a.instead || "" }), el("td", { text: a.why || "" }),
          ]));
        });
        parts.push(el("div", { className: "kb-lookup-table" }, [el("table", null, [
          el("thead", null, [el("tr", null, [el("th", { text: "不要说" }), el("th", { text: "可以说" }), el("th", { text: "原因" })])]),
          body,
        ])]));
      }

      if (s.commitments && s.commitments.length) {
        parts.push(el("h3", { text: "依据的服务承诺" }));
        parts.push(el("ul", { className: "kb-lookup-commitments" }, s.commitments.map(function (c) {
          return el("li", null, [
            el("strong", { text: c.name || c.id }), "：" + (c.text || ""),
            c.applies_to ? el("span", { className: "kb-meta", text: "（" + c.applies_to + "）" }) : null,
          ]);
        })));
      }

      if (s.url) parts.push(el("p", { className: "kb-lookup-full" }, [el("a", { href: KB.path(s.url), text: "打开完整页面" })]));
      detail.appendChild(el("article", { className: "kb-lookup-script", "aria-labelledby": "kb-lookup-script-title" }, parts));
    }

    function moveSay(index) {
      if (!sayRows.length) return;
      sayActive = Math.max(0, Math.min(index, sayRows.length - 1));
      sayRows.forEach(function (row, i) {
        row.classList.toggle("kb-lookup-say--active", i === sayActive);
        if (i === sayActive) row.setAttribute("aria-current", "true"); else row.removeAttribute("aria-current");
      });
      const row = sayRows[sayActive];
      if (document.activeElement !== row) row.focus();
    }

    function copySay(index) {
      const row = sayRows[index];
      if (!row) return;
      const button = row.querySelector("button.kb-lookup-copy");
      KB.copyText(row.dataset.copy).then(function () {
        clearTimeout(feedbackTimer);
        sayRows.forEach(function (r) {
          const b = r.querySelector("button.kb-lookup-copy");
          if (b) { b.classList.remove("kb-copied"); b.textContent = "复制"; }
        });
        if (button) { button.classList.add("kb-copied"); button.textContent = "已复制"; }
        row.classList.add("kb-lookup-say--copied");
        setStatus("已复制第 " + (index + 1) + " 句。", "ok");
        feedbackTimer = setTimeout(function () {
          if (button) { button.classList.remove("kb-copied"); button.textContent = "复制"; }
          row.classList.remove("kb-lookup-say--copied");
        }, 1500);
      }, function () {
        setStatus("复制失败：请选中文字后按 Ctrl+C。", "error");
      });
    }

    // -- events --
    input.addEventListener("input", onInput);

    input.addEventListener("keydown", function (event) {
      if (event.isComposing || event.keyCode === 229) return;  // IME is composing: its Enter/arrows
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!results.length) return;
        event.preventDefault();
        const n = results.length;
        if (event.key === "ArrowDown") highlight(active < 0 ? 0 : (active + 1) % n);
        else highlight(active <= 0 ? n - 1 : active - 1);
      } else if (event.key === "Enter") {
        event.preventDefault();
        const query = input.value.trim();
        if (!query) return;
        const stale = query !== lastQuery || searchCtrl !== null;
        if (stale) {
          pendingOpen = true;
          if (query !== lastQuery) { clearTimeout(debounceTimer); search(query); }
          return;
        }
        if (results.length) openResult(active < 0 ? 0 : active);
      } else if (event.key === "Escape") {
        if (input.value) {
          event.preventDefault();
          input.value = "";
          onInput();
        }
      }
    });

    list.addEventListener("click", function (event) {
      const option = event.target.closest("[role=option]");
      if (!option) return;
      const index = Number(option.dataset.index);
      const r = results[index];
      if (!r) return;
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;  // new tab etc.
      recordPick(r);
      if (r.kind === "script") {
        event.preventDefault();
        highlight(index);
        openScript(r);
      }
    });

    detail.addEventListener("click", function (event) {
      const button = event.target.closest("button.kb-lookup-copy");
      if (!button) return;
      const row = button.closest(".kb-lookup-say");
      const index = sayRows.indexOf(row);
      if (index < 0) return;
      moveSay(index);
      copySay(index);
    });

    detail.addEventListener("focusin", function (event) {
      const row = event.target.closest && event.target.closest(".kb-lookup-say");
      const index = sayRows.indexOf(row);
      if (index >= 0 && index !== sayActive) moveSay(index);
    });

    detail.addEventListener("keydown", function (event) {
      if (event.altKey || event.isComposing) return;
      const key = event.key;
      const mod = event.ctrlKey || event.metaKey;
      if (key === "Escape") {
        event.preventDefault();
        input.focus();
        input.select();
        return;
      }
      if (!sayRows.length) return;
      if (!mod && (key === "j" || key === "J" || key === "ArrowDown")) {
        event.preventDefault();
        moveSay(sayActive < 0 ? 0 : sayActive + 1);
      } else if (!mod && (key === "k" || key === "K" || key === "ArrowUp")) {
        event.preventDefault();
        moveSay(sayActive < 0 ? 0 : sayActive - 1);
      } else if (key === "c" || key === "C") {
        if (hasSelection()) return;  // the person selected text: let the normal copy happen
        if (sayActive < 0) return;
        event.preventDefault();
        copySay(sayActive);
      }
    });

    // -- start --
    input.focus();
    const initial = new URLSearchParams(window.location.search).get("q");
    if (initial && !input.value) input.value = initial;
    if (input.value.trim()) search(input.value.trim());
  }

  KB.onPage(bind);
})();
