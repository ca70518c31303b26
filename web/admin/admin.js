// The brand's console (/admin): consents, events, guardrails, audits, the
// model, the policy and the privacy notice, and the API keys, on top of the
// documented API only (GET /v1/admin/overview, /v1/audits,
// /v1/admin/keys, /v1/privacy-notice).
//
// The admin key is typed into the form, or arrives as /admin#key=KEY: the
// fragment never leaves the browser, and the page removes it from the
// address bar at once. The key is kept in this page's memory only (no
// cookie, no storage, no query string: a reload asks for it again), and
// goes to the API as its Authorization header only; switching languages
// re-renders in place so that it is not lost. Nothing here writes HTML
// from data: every node is built with textContent.
"use strict";
(() => {
  const LANGS = ["en", "es", "pl"];
  const I18N = globalThis.MESURA_ADMIN_I18N;
  const Chart = globalThis.MesuraChart;
  const { pickLang, word, h } = globalThis.MesuraDom;
  const DAYS = 90; // of consents charted
  const SCOPES = ["ingest", "consent", "catalog", "recommend", "subjects", "audit", "admin"];
  const OUTCOMES = ["stored", "no_consent", "third_party", "restricted", "expired", "invalid", "forgotten"];
  const COLORS = { granted: "#1d6b35", withdrawn: "#a3161a", bar: "#1f4fbf" };
  let lang = pickLang(LANGS);
  let adminKey = null;

  // ------------------------------------------------------------- helpers

  function t(k, vars) {
    return word(I18N, lang, k, vars);
  }

  const when = (ts) => {
    const d = new Date(ts);
    return !ts || isNaN(d) ? String(ts ?? "") : new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(d);
  };
  const num = (n) => Number(n).toLocaleString(lang);

  function say(text, isError) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || "HTTP " + status);
      this.status = status;
    }
  }

  async function call(method, path, body) {
    const headers = { "Accept-Language": lang, Authorization: "Bearer " + adminKey };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
  }

  async function api(method, path, body) {
    const r = await call(method, path, body);
    const text = await r.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
    if (!r.ok) throw new ApiError(r.status, parsed);
    return parsed;
  }

  function fail(e) {
    if (e instanceof ApiError && e.status === 401) {
      adminKey = null;
      showForm(t("bad_key"));
    } else {
      say(t("failed", { message: e.message }), true);
    }
  }

  function action(fn) {
    return async (ev) => {
      ev?.preventDefault?.();
      const btn = ev?.submitter || ev?.currentTarget;
      if (btn && btn.tagName === "BUTTON") btn.disabled = true;
      try { await fn(ev); } catch (e) { fail(e); } finally { if (btn && btn.isConnected) btn.disabled = false; }
    };
  }

  function section(id, title, ...body) {
    return h("section", { id, "aria-labelledby": id + "-h", tabindex: "-1" }, h("h2", { id: id + "-h" }, title), body);
  }

  // A table of the figures a chart shows, folded under a summary.
  function figures(caption, head, rows) {
    return h("details", { class: "figures" }, h("summary", {}, t("show_table")),
      h("table", {}, h("caption", {}, caption),
        h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
        h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) =>
          i ? h("td", { class: "num" }, c) : h("th", { scope: "row" }, c)))))));
  }

  // ------------------------------------------------------------- sections

  function consentsSection(c) {
    const from = c.dates[0], to = c.dates[c.dates.length - 1];
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const blocks = c.purposes.map((p) => {
      const label = t("consents_chart", { purpose: p.purpose, from, to });
      const g = sum(p.granted), w = sum(p.withdrawn);
      return h("div", { class: "purpose-chart" },
        h("h3", {}, p.purpose),
        h("p", { class: "muted" }, `${num(g)} ${t("granted")} · ${num(w)} ${t("withdrawn")}` +
          (g + w ? ` · ${Math.round((100 * g) / (g + w))}% ${t("share_granted")}` : "")),
        Chart.lines([
          { name: t("granted"), values: p.granted, color: COLORS.granted },
          { name: t("withdrawn"), values: p.withdrawn, color: COLORS.withdrawn, dash: "6 4" },
        ], c.dates, { label }),
        figures(label, [t("purpose"), t("granted"), t("withdrawn")],
          c.dates.map((d, i) => [d, num(p.granted[i]), num(p.withdrawn[i])]).filter((r, i) =>
            p.granted[i] || p.withdrawn[i])));
    });
    return section("consents", t("consents_h"), h("p", {}, t("consents_intro", { days: c.days })), blocks);
  }

  function barSection(id, title, intro, chartLabel, head, rows) {
    if (!rows.length) return section(id, title, h("p", {}, intro), h("p", { class: "muted" }, t("none_yet")));
    return section(id, title, h("p", {}, intro),
      Chart.bars(rows.map((r) => ({ label: r.label, value: r.value, color: r.color })), { label: chartLabel }),
      figures(chartLabel, head, rows.map((r) => [r.label, num(r.value)])));
  }

  // Events by outcome over the overview's days: the totals as bars, then
  // stored and not stored per day.
  function eventsSection(overview) {
    const dates = overview.consents.dates;
    const series = overview.events.filter((s) => s.total > 0);
    const rows = series.map((s) => ({
      label: OUTCOMES.includes(s.outcome) ? t("outcome_" + s.outcome) : s.outcome, value: s.total,
      color: s.outcome === "stored" ? COLORS.granted : COLORS.bar,
    }));
    const sec = barSection("events", t("events_h"), t("events_intro", { days: dates.length }),
      t("events_chart", { from: dates[0], to: dates[dates.length - 1] }), [t("outcome"), t("count")], rows);
    if (!rows.length) return sec;
    const stored = new Array(dates.length).fill(0), refused = new Array(dates.length).fill(0);
    for (const s of series) {
      const into = s.outcome === "stored" ? stored : s.outcome === "forgotten" ? null : refused;
      if (into) s.per_day.forEach((v, i) => { into[i] += v; });
    }
    const label = t("events_daily", { from: dates[0], to: dates[dates.length - 1] });
    sec.append(h("h3", {}, t("per_day")), Chart.lines([
      { name: t("outcome_stored"), values: stored, color: COLORS.granted },
      { name: t("not_stored"), values: refused, color: COLORS.withdrawn, dash: "6 4" },
    ], dates, { label }), figures(label, [t("date"), t("outcome_stored"), t("not_stored")],
      dates.map((d, i) => [d, num(stored[i]), num(refused[i])]).filter((r, i) => stored[i] || refused[i])));
    return sec;
  }

  function suppressionsSection(overview) {
    const dates = overview.consents.dates;
    const rows = overview.suppressions.filter((s) => s.total > 0).sort((a, b) => b.total - a.total)
      .map((s) => ({ label: s.rule, value: s.total }));
    return barSection("suppressions", t("supp_h"), t("supp_intro", { days: dates.length }),
      t("supp_chart", { from: dates[0], to: dates[dates.length - 1] }), [t("rule"), t("count")], rows);
  }

  async function downloadReport(id) {
    const r = await call("GET", "/v1/audits/" + encodeURIComponent(id) + "/report.html");
    if (!r.ok) {
      let body = null;
      try { body = await r.json(); } catch { body = null; }
      throw new ApiError(r.status, body);
    }
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: `audit-${id}.html`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function auditsSection(list) {
    if (!list.audits.length)
      return section("audits", t("audits_h"), h("p", { class: "muted" }, t("audits_none")));
    const items = list.audits.map((a) => {
      const flags = a.flags || { disparities: 0, proxies: 0 };
      const flagged = a.flagged.map((f) => h("li", { class: "flag" }, f.kind === "proxy"
        ? t("flag_proxy", { attribute: f.attribute, protected: f.protected, v: f.cramers_v })
        : t("flag_disparity", { attribute: f.attribute, measure: f.measure, ratio: f.ratio })));
      return h("li", { class: "audit" },
        h("h3", {}, t("audit_title", { id: a.id, when: when(a.created_at) })),
        h("p", {}, t("audit_head", { status: t("status_" + a.status), n: a.audited ?? "–",
          attrs: (a.attributes || []).join(", ") })),
        a.status === "done" ? h("p", {}, t("audit_flags", { d: flags.disparities, p: flags.proxies })) : null,
        flagged.length ? h("ul", { class: "flags" }, flagged)
          : a.status === "done" ? h("p", { class: "muted" }, t("no_flags")) : null,
        a.status === "done" ? h("button", { type: "button", "aria-label": t("report_label", { id: a.id }),
          onclick: action(() => downloadReport(a.id)) }, t("report")) : null);
    });
    return section("audits", t("audits_h"), h("p", {}, t("audits_intro")), h("ul", { class: "rows audits" }, items));
  }

  function modelSection(m) {
    const live = m.live;
    const rows = live ? [
      [t("model_kind"), live.kind],
      [t("model_trained"), when(live.trained_at)],
      [t("model_items"), num(live.items)],
      [t("model_events"), num(live.events)],
      [t("model_subjects"), num(live.subjects)],
      [t("model_memory"), `${(live.memory_bytes / 1048576).toFixed(1)} MiB`],
      [t("model_next"), m.next_retrain_at ? when(m.next_retrain_at) : t("model_next_none")],
    ] : [];
    return section("model", t("model_h"),
      live ? h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]))
        : h("p", {}, t("model_none")),
      m.retrain_every_minutes > 0 ? h("p", { class: "muted" },
        t("model_rule", { minutes: m.retrain_every_minutes, pct: m.retrain_after_events_pct })) : null);
  }

  function policySection(p) {
    return section("policy", t("policy_h"), h("p", {}, t("policy_intro", { version: p.version || "–" })),
      h("pre", { class: "yaml", tabindex: "0", "aria-label": t("policy_h") }, p.yaml || ""));
  }

  function noticeSection(n) {
    const parts = [h("p", { class: "muted" }, t("notice_intro")), h("h3", {}, n.title)];
    for (const k of ["who", "intro", "opt_in", "gpc_text"]) if (n[k]) parts.push(h("p", {}, n[k]));
    parts.push(h("h4", {}, n.headings?.purposes || ""));
    for (const p of n.purposes || []) {
      parts.push(h("h5", {}, p.description || p.name));
      for (const k of ["gpc_text", "channels_text", "data_text"]) if (p[k]) parts.push(h("p", {}, p[k]));
      if (p.data?.length) parts.push(h("ul", {}, p.data.map((d) => h("li", {}, d.text))));
    }
    if (n.categories?.length || n.categories_text) {
      parts.push(h("h4", {}, n.headings?.categories || ""));
      if (n.categories_text) parts.push(h("p", {}, n.categories_text));
      parts.push(h("ul", {}, (n.categories || []).map((c) => h("li", {}, c.text))));
    }
    parts.push(h("h4", {}, n.headings?.rights || ""));
    if (n.rights_text) parts.push(h("p", {}, n.rights_text));
    parts.push(h("ul", {}, (n.rights || []).map((r) => h("li", {}, r.text))));
    for (const k of ["third_party_data", "decisions"]) if (n[k]?.text) parts.push(h("p", {}, n[k].text));
    if (n.version_text) parts.push(h("p", { class: "muted" }, n.version_text));
    return section("notice", t("notice_h"), h("div", { class: "notice", lang: n.language || lang }, parts));
  }

  function keysSection(list) {
    const rows = list.keys.map((k) => h("tr", {},
      h("th", { scope: "row" }, k.name),
      h("td", {}, k.scopes.join(", ")),
      h("td", {}, when(k.created_at)),
      h("td", {}, k.active ? (k.yours ? t("key_yours") : t("key_active")) : t("key_revoked", { when: when(k.revoked_at) })),
      h("td", {}, k.active && !k.yours ? h("button", { type: "button", class: "danger",
        "aria-label": t("revoke_label", { name: k.name }), onclick: action(() => revokeKey(k.name)) }, t("revoke")) : "")));
    const table = h("div", { class: "scroll" }, h("table", { class: "keys" }, h("caption", {}, t("keys_h")),
      h("thead", {}, h("tr", {}, [t("key_name"), t("key_scopes"), t("key_created"), t("key_state"), ""].map((c) =>
        h("th", { scope: "col" }, c)))), h("tbody", {}, rows)));
    const form = h("form", { id: "create-key", onsubmit: action(createKey) },
      h("h3", {}, t("create_h")),
      h("label", { for: "new-key-name" }, t("create_name")),
      h("input", { id: "new-key-name", name: "name", type: "text", required: true, maxlength: 64,
        pattern: "[A-Za-z0-9._\\-]+", autocomplete: "off" }),
      h("fieldset", {}, h("legend", {}, t("create_scopes")), SCOPES.map((s) => h("div", { class: "check" },
        h("input", { type: "checkbox", id: "scope-" + s, name: "scopes", value: s }),
        h("label", { for: "scope-" + s }, t("scope_" + s))))),
      h("button", { type: "submit", class: "primary" }, t("create_go")),
      h("div", { id: "new-secret", "aria-live": "polite" }));
    return section("keys", t("keys_h"), h("p", {}, t("keys_intro")), table, form);
  }

  async function createKey(ev) {
    const form = ev.currentTarget;
    const name = form.elements.name.value.trim();
    const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((i) => i.value);
    const made = await api("POST", "/v1/admin/keys", { name, scopes });
    await renderKeys();
    const out = document.getElementById("new-secret");
    out.replaceChildren(h("p", { role: "status" }, t("created", { name: made.name })),
      h("label", { for: "secret-value" }, t("secret", { name: made.name })),
      h("input", { id: "secret-value", type: "text", readonly: true, value: made.key, class: "secret" }));
    document.getElementById("secret-value").focus();
    document.getElementById("secret-value").select();
  }

  async function revokeKey(name) {
    await api("DELETE", "/v1/admin/keys/" + encodeURIComponent(name));
    await renderKeys();
    say(t("revoked", { name }));
    document.getElementById("keys").focus();
  }

  async function renderKeys() {
    const old = document.getElementById("keys");
    const fresh = keysSection(await api("GET", "/v1/admin/keys"));
    old.replaceWith(fresh);
  }

  // ------------------------------------------------------------- the page

  function showForm(message) {
    document.getElementById("sign-out").hidden = true;
    const input = h("input", { id: "key", name: "key", type: "password", required: true, autocomplete: "off",
      "aria-describedby": "key-help" });
    const form = h("form", { id: "key-form", onsubmit: (ev) => {
      ev.preventDefault();
      adminKey = input.value.trim();
      load();
    } },
      h("h2", {}, t("key_h")),
      h("label", { for: "key" }, t("key_label")), input,
      h("p", { id: "key-help", class: "muted" }, t("key_help")),
      h("button", { type: "submit", class: "primary" }, t("key_go")));
    document.getElementById("app").replaceChildren(form);
    say(message || "", !!message);
    input.focus();
    document.body.dataset.ready = "form";
  }

  async function load() {
    delete document.body.dataset.ready;
    say(t("loading"));
    try {
      const [overview, audits, keys, notice] = await Promise.all([
        api("GET", "/v1/admin/overview?days=" + DAYS), api("GET", "/v1/audits?limit=10"),
        api("GET", "/v1/admin/keys"), api("GET", "/v1/privacy-notice"),
      ]);
      document.getElementById("intro").textContent = t("intro", { site: overview.policy.site || notice.site || "" });
      const parts = [
        consentsSection(overview.consents), eventsSection(overview), suppressionsSection(overview),
        auditsSection(audits), modelSection(overview.model), keysSection(keys), policySection(overview.policy),
        noticeSection(notice),
      ];
      const toc = h("nav", { class: "toc", "aria-label": t("nav") }, h("ul", {}, parts.map((s) =>
        h("li", {}, h("a", { href: "#" + s.id }, s.querySelector("h2").textContent)))));
      document.getElementById("app").replaceChildren(toc, ...parts);
      document.getElementById("sign-out").hidden = false;
      say("");
      document.body.dataset.ready = "true";
    } catch (e) {
      fail(e);
    }
  }

  function applyWords() {
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    document.getElementById("lang").value = lang;
  }

  function start() {
    applyWords();
    document.getElementById("lang").addEventListener("change", (ev) => {
      lang = ev.target.value;
      const u = new URL(location.href);
      u.searchParams.set("lang", lang);
      history.replaceState(null, "", u.pathname + u.search);
      applyWords();
      if (adminKey) load();
      else showForm();
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      adminKey = null;
      document.getElementById("intro").textContent = "";
      showForm();
    });
    // A key in the fragment moves to memory and out of the address bar
    // (and so out of the history and any bookmark).
    adminKey = new URLSearchParams(location.hash.slice(1)).get("key");
    if (adminKey) history.replaceState(null, "", location.pathname + location.search);
    if (adminKey) load();
    else showForm();
  }

  start();
})();
