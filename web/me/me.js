// The shopper's dashboard (/me): what the shop holds about one person, and
// their rights over it, on top of the documented API only.
//
// The page is opened as /me#token=TOKEN&subject=ID. The fragment never
// leaves the browser; the token goes to the API as its Authorization
// header and nowhere else (no cookie, no storage, no query string). Every
// text from the server (purposes, reasons, the access log, inferred
// interests) is asked for in the page's language; the page's own words are
// in /shared/i18n.js. Nothing here writes HTML from data: every node is
// built with textContent, so a title cannot inject markup.
"use strict";
(() => {
  const LANGS = ["en", "es", "pl"];
  const I18N = globalThis.MESURA_I18N;
  const { pickLang, word, h } = globalThis.MesuraDom;
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  const subject = fragment.get("subject");
  const lang = pickLang(LANGS);
  const SUBJECT_PATH = "/v1/subjects/" + encodeURIComponent(subject || "");
  const EVENTS_SHOWN = 25;

  let doc = null; // the last export
  let notice = null; // the privacy notice, in lang
  let showAll = false;

  // ------------------------------------------------------------- helpers

  function t(key, vars) {
    return word(I18N, lang, key, vars);
  }

  const dateFmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  function when(ts) {
    const d = new Date(ts);
    return isNaN(d) ? String(ts) : dateFmt.format(d);
  }
  function timeEl(ts) {
    return h("time", { datetime: ts }, when(ts));
  }

  function say(text, isError) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || "HTTP " + status);
      this.status = status;
      this.code = body?.error?.code;
    }
  }

  async function api(method, path, body) {
    const headers = { "Accept-Language": lang };
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    const text = await r.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    if (!r.ok) throw new ApiError(r.status, parsed);
    return parsed;
  }

  function fail(e) {
    if (e instanceof ApiError && e.status === 401) say(t("expired"), true);
    else say(t("failed", { message: e.message }), true);
  }

  // Runs an action from a button, keeping the button busy meanwhile.
  function action(fn) {
    return async (ev) => {
      const btn = ev?.currentTarget;
      if (btn) btn.disabled = true;
      try { await fn(ev); } catch (e) { fail(e); } finally { if (btn && btn.isConnected) btn.disabled = false; }
    };
  }

  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function title(item) {
    const known = doc?.items?.[item];
    return known && known.title ? known.title : known ? t("unknown_item") : item;
  }

  function eventLabel(type) {
    for (const p of notice?.purposes || [])
      for (const d of p.data || []) if (d.event_type === type && d.label) return d.label;
    return type;
  }

  function describeEvent(ev) {
    const what = ev.item ? `${eventLabel(ev.type)}: ${title(ev.item)}` : eventLabel(ev.type);
    return what;
  }

  // ----------------------------------------------------------- receipts

  // RFC 8785 canonical JSON: keys sorted by UTF-16 code units, no blanks,
  // strings and numbers as JSON.stringify writes them.
  function canonical(v) {
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    if (v && typeof v === "object")
      return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
    return JSON.stringify(v);
  }
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

  // True, false, or null when this browser cannot verify here.
  async function verifyReceipt(receipt) {
    if (!globalThis.crypto?.subtle) return null;
    const { public_key } = await api("GET", "/v1/receipts/public-key");
    const { signature, ...signed } = receipt;
    try {
      const key = await crypto.subtle.importKey("raw", b64(public_key), { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, b64(signature),
        new TextEncoder().encode(canonical(signed)));
    } catch {
      return null;
    }
  }

  function receiptControls(receipt, out) {
    return h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => {
        download(`receipt-${receipt.receipt_id}.json`, "application/json", JSON.stringify(receipt, null, 2));
        say(t("downloaded"));
      } }, t("receipt_download")),
      h("button", { type: "button", onclick: action(async () => {
        const ok = await verifyReceipt(receipt);
        const text = ok === null ? t("receipt_cannot") : ok ? t("receipt_ok") : t("receipt_bad");
        if (out) out.textContent = text;
        say(text, ok === false);
      }) }, t("receipt_verify")));
  }

  // ------------------------------------------------------------ sections

  function section(id, heading, ...body) {
    return h("section", { id, "aria-labelledby": id + "-h", tabindex: "-1" }, h("h2", { id: id + "-h" }, heading), ...body);
  }

  function storeSection() {
    const prefs = doc.preferences || {};
    const rows = [
      ["kind_events", doc.events.length],
      ["kind_consents", (doc.consents?.history || []).length],
      ["kind_preferences", (prefs.interests || []).length + (prefs.exclude_categories || []).length +
        Object.keys(prefs.declared || {}).length],
      ["kind_interests", (doc.interests?.categories || []).length],
      ["kind_decisions", (doc.decisions || []).length],
      ["kind_impressions", (doc.impressions || []).length],
      ["kind_access_log", (doc.access_log || []).length],
      ["kind_attributes", Object.keys(doc.protected_attributes || {}).length],
    ];
    return section("store", t("store_h"),
      h("table", {},
        h("caption", { class: "muted" }, t("store_intro")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("store_kind")), h("th", { scope: "col", class: "num" }, t("store_count")))),
        h("tbody", {}, rows.map(([k, n]) => h("tr", { "data-kind": k.slice(5) }, h("th", { scope: "row" }, t(k)), h("td", { class: "num" }, n))))));
  }

  async function forgetEvent(ev) {
    const what = describeEvent(ev);
    await api("DELETE", `${SUBJECT_PATH}/events/${encodeURIComponent(ev.event_id)}`);
    await reload();
    say(t("forgotten", { what }));
    // Its row is gone: keep the keyboard where it was, in the timeline.
    if (document.activeElement === document.body) document.getElementById("activity")?.focus();
  }

  // "Don't use this for recommendations": the item's events stay held but
  // stop driving suggestions (preferences.do_not_use_items).
  async function setUnused(item, unused) {
    const list = { do_not_use_items: [item] };
    await patchPreferences(unused ? { add: list } : { remove: list });
    say(t(unused ? "dont_use_done" : "use_again_done", { what: title(item) }));
  }

  function eventRow(ev) {
    const what = describeEvent(ev);
    const unused = !!ev.item && (doc.preferences?.do_not_use_items || []).includes(ev.item);
    const id = "use-" + ev.event_id;
    return h("li", { "data-event": ev.event_id },
      h("span", { class: "row-text" }, h("strong", {}, what), " · ", timeEl(ev.ts),
        ev.channel ? " · " + t("on_channel", { channel: ev.channel }) : "",
        unused ? h("span", { class: "flag" }, " · " + t("not_used")) : null),
      h("span", { class: "actions" },
        ev.item
          ? h("button", { type: "button", id, "data-use": ev.item,
            "aria-label": t(unused ? "use_again_label" : "dont_use_label", { what }),
            onclick: action(async () => { await setUnused(ev.item, !unused); document.getElementById(id)?.focus(); }) },
          t(unused ? "use_again" : "dont_use"))
          : null,
        h("button", { type: "button", "aria-label": t("forget_label", { what }), onclick: action(() => forgetEvent(ev)) },
          t("forget"))));
  }

  function activitySection() {
    const events = [...doc.events].sort((a, b) => String(b.ts).localeCompare(String(a.ts)));
    const shown = showAll ? events : events.slice(0, EVENTS_SHOWN);
    return section("activity", t("activity_h"),
      h("p", { class: "muted" }, t("activity_intro")),
      events.length ? h("ul", { class: "rows" }, shown.map(eventRow)) : h("p", {}, t("activity_none")),
      events.length > shown.length
        ? h("button", { type: "button", onclick: () => { showAll = true; render(); document.getElementById("activity").focus(); } },
          t("show_all", { n: events.length }))
        : null);
  }

  function inferredSection() {
    const it = doc.interests || {};
    const cats = it.categories || [];
    return section("inferred", t("inferred_h"),
      it.method ? h("p", {}, it.method) : null,
      cats.length
        ? h("ul", {}, cats.map((c) => h("li", {}, h("strong", {}, c.label || c.category), " — ",
          t("inferred_from", { n: c.count }), " (",
          Object.entries(c.by_type || {}).map(([ty, n]) => `${eventLabel(ty)}: ${n}`).join(", "), ")")))
        : h("p", {}, t("inferred_none")));
  }

  function prefList(field, heading, inputLabel) {
    const list = doc.preferences?.[field] || [];
    const inputId = "add-" + field;
    return h("div", {},
      h("h3", {}, heading),
      list.length
        ? h("ul", { class: "rows" }, list.map((c) => h("li", {}, h("span", { class: "row-text" }, c),
          h("button", { type: "button", "aria-label": t("remove_label", { what: c }),
            onclick: action(async () => {
              await patchPreferences({ remove: { [field]: [c] } });
              say(t("saved"));
            }) }, t("remove")))))
        : h("p", { class: "muted" }, t("none")),
      h("form", { class: "add", onsubmit: action(async (ev) => {
        ev.preventDefault();
        const input = document.getElementById(inputId);
        const v = input.value.trim();
        if (!v) return;
        await patchPreferences({ add: { [field]: [v] } });
        say(t("saved"));
      }) },
        h("label", { for: inputId }, inputLabel,
          h("input", { type: "text", id: inputId, autocomplete: "off", list: "known-categories" })),
        h("button", { type: "submit" }, t("add"))));
  }

  function prefsSection() {
    const known = new Set((doc.interests?.categories || []).map((c) => c.category));
    for (const c of notice?.categories || []) if (c.name || c.category) known.add(c.name || c.category);
    return section("preferences", t("prefs_h"),
      h("p", { class: "muted" }, t("prefs_intro")),
      h("datalist", { id: "known-categories" }, [...known].map((c) => h("option", { value: c }))),
      prefList("interests", t("interests"), t("add_interest")),
      prefList("exclude_categories", t("excluded"), t("add_excluded")));
  }

  function lastReceipt(purpose) {
    const hist = (doc.consents?.history || []).filter((r) => r.purpose === purpose);
    return hist.length ? hist[hist.length - 1] : null;
  }

  function purposeBlock(p) {
    const state = doc.consents?.purposes?.[p.name]?.status === "granted";
    const descId = "purpose-" + p.name + "-desc";
    const out = h("p", { class: "muted", "aria-live": "polite" });
    const receipt = lastReceipt(p.name);
    const sw = h("button", {
      type: "button", role: "switch", class: "switch", "aria-checked": String(state), "aria-describedby": descId,
      "data-purpose": p.name,
      onclick: action(async () => {
        const next = sw.getAttribute("aria-checked") !== "true";
        await api("PUT", `${SUBJECT_PATH}/consents/${encodeURIComponent(p.name)}`, { status: next ? "granted" : "denied" });
        doc.consents = await api("GET", `${SUBJECT_PATH}/consents`);
        render();
        say(t(next ? "now_on" : "now_off", { what: p.description }));
        document.querySelector(`[data-purpose="${CSS.escape(p.name)}"]`)?.focus();
      }),
    }, h("span", { class: "knob", "aria-hidden": "true" }), h("span", {}, p.description),
      h("span", { class: "muted-state" }, " — " + t(state ? "purpose_on" : "purpose_off")));
    return h("div", { class: "purpose" },
      sw,
      h("p", { id: descId }, [p.channels_text, p.gpc_text].filter(Boolean).join(" ")),
      (p.data || []).length ? h("ul", {}, p.data.map((d) => h("li", {}, d.text))) : null,
      receipt ? h("p", {}, t("last_receipt", { status: t("status_" + receipt.status), when: when(receipt.ts) })) : null,
      receipt ? receiptControls(receipt, out) : null,
      out);
  }

  function purposesSection() {
    return section("purposes", t("purposes_h"),
      h("p", { class: "muted" }, t("purposes_intro")),
      (notice?.purposes || []).map(purposeBlock));
  }

  function recentItems() {
    const seen = new Map();
    const decisions = [...(doc.decisions || [])].reverse();
    for (const d of decisions)
      for (const it of d.items || []) if (!seen.has(it.item) && seen.size < 10) seen.set(it.item, it);
    return [...seen.values()];
  }

  async function showWhy(item, box) {
    const w = await api("GET", `${SUBJECT_PATH}/why?item=${encodeURIComponent(item)}`);
    box.replaceChildren(
      h("p", {}, w.text),
      w.reason ? h("p", { "data-reason": w.reason.code }, h("strong", {}, w.reason.text)) : null,
      h("h3", {}, t("why_data")),
      (w.data_used || []).length
        ? h("ul", { class: "rows" }, w.data_used.map((ev) => {
          const ev2 = { ...ev, event_id: ev.event_id };
          return h("li", { "data-event": ev.event_id }, h("span", { class: "row-text" }, describeEvent(ev), " · ", timeEl(ev.ts)),
            ev.event_id ? h("button", { type: "button", "aria-label": t("forget_label", { what: describeEvent(ev) }),
              onclick: action(() => forgetEvent(ev2)) }, t("forget")) : null);
        }))
        : h("p", {}, w.data_used_text || t("why_no_data")),
      h("div", { class: "actions" }, (w.actions || []).filter((a) => a.action !== "delete_event").map((a) =>
        h("button", { type: "button", onclick: action(async () => {
          if (!a.path.startsWith(SUBJECT_PATH + "/")) return; // only this person's own resources
          await api(a.method, a.path, a.body);
          await reload();
          say(t("saved"));
        }) }, a.text))));
    box.hidden = false;
    box.focus();
  }

  function whySection() {
    const items = recentItems();
    return section("why", t("why_h"),
      h("p", { class: "muted" }, t("why_intro")),
      items.length
        ? h("ul", { class: "rows" }, items.map((it) => {
          const box = h("div", { class: "why-detail", hidden: true, tabindex: "-1", "aria-label": t("why_h") });
          return h("li", { "data-item": it.item }, h("span", { class: "row-text" }, h("strong", {}, title(it.item)),
            it.reason?.text ? " — " + it.reason.text : ""),
            h("button", { type: "button", "aria-label": t("why_ask_label", { what: title(it.item) }),
              onclick: action(() => showWhy(it.item, box)) }, t("why_ask")),
            box);
        }))
        : h("p", {}, t("why_none")));
  }

  function restrictSection() {
    const restricted = !!doc.summary?.restricted;
    return section("restrict", t("restrict_h"),
      h("p", { id: "restrict-state" }, t(restricted ? "restrict_on" : "restrict_off")),
      h("button", { type: "button", id: "restrict-toggle", onclick: action(async () => {
        const r = await api("PUT", `${SUBJECT_PATH}/restriction`, { restricted: !restricted });
        doc.summary = { ...doc.summary, restricted: r.restricted };
        render();
        say(t(restricted ? "unrestricted_now" : "restricted_now"));
        document.getElementById("restrict-toggle")?.focus();
      }) }, t(restricted ? "restrict_undo" : "restrict_do")));
  }

  function accessSection() {
    const entries = [...(doc.access_log || [])].reverse();
    return section("access", t("access_h"),
      entries.length
        ? h("table", {},
          h("thead", {}, h("tr", {}, ["access_when", "access_who", "access_why", "access_what"].map((k) => h("th", { scope: "col" }, t(k))))),
          h("tbody", {}, entries.map((e) => h("tr", {}, h("td", {}, timeEl(e.at)), h("td", {}, e.reader),
            h("td", {}, e.purpose), h("td", {}, e.altered ? [e.text, " ", h("strong", { class: "altered" }, t("access_altered"))] : e.text)))))
        : h("p", {}, t("access_none")));
  }

  // A standalone, readable copy of the export: plain HTML, no script.
  function readableCopy(d) {
    const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
    const table = (caption, head, rows) =>
      `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((x) => `<th scope="col">${esc(x)}</th>`).join("")}</tr></thead>` +
      `<tbody>${rows.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
    const site = notice?.site || "";
    const events = [...d.events].sort((a, b) => String(b.ts).localeCompare(String(a.ts)));
    return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${esc(t("copy_title", { site }))}</title></head><body><h1>${esc(t("copy_title", { site }))}</h1>` +
      `<p>${esc(t("copy_exported", { when: when(d.exported_at) }))}</p>` +
      `<h2>${esc(t("activity_h"))}</h2>` +
      table(t("activity_h"), [t("access_when"), t("access_what"), "channel", "event_id"],
        events.map((e) => [when(e.ts), describeEvent(e), e.channel || "", e.event_id])) +
      `<h2>${esc(t("purposes_h"))}</h2>` +
      table(t("purposes_h"), ["purpose", t("access_what"), t("access_when")],
        Object.entries(d.consents?.purposes || {}).map(([p, v]) => [p, t("status_" + v.status), v.since ? when(v.since) : ""])) +
      `<h2>${esc(t("prefs_h"))}</h2><p>${esc(t("interests"))}: ${esc((d.preferences?.interests || []).join(", ") || t("none"))}</p>` +
      `<p>${esc(t("excluded"))}: ${esc((d.preferences?.exclude_categories || []).join(", ") || t("none"))}</p>` +
      `<h2>${esc(t("inferred_h"))}</h2><p>${esc(d.interests?.method || "")}</p>` +
      table(t("inferred_h"), [t("store_kind"), t("store_count")], (d.interests?.categories || []).map((c) => [c.label || c.category, c.count])) +
      `<h2>${esc(t("why_h"))}</h2>` +
      table(t("why_h"), [t("access_when"), t("access_what"), t("access_why")],
        (d.decisions || []).flatMap((dec) => (dec.items || []).map((it) => [dec.ts ? when(dec.ts) : "", title(it.item), it.reason?.text || ""]))) +
      `<h2>${esc(t("access_h"))}</h2>` +
      table(t("access_h"), [t("access_when"), t("access_who"), t("access_why"), t("access_what")],
        (d.access_log || []).map((e) => [when(e.at), e.reader, e.purpose, e.text])) +
      `</body></html>`;
  }

  function downloadSection() {
    return section("download", t("download_h"),
      h("p", { class: "muted" }, t("download_intro")),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "download-json", onclick: action(async () => {
          const d = await api("GET", `${SUBJECT_PATH}/export`);
          download(`my-data-${d.exported_at.slice(0, 10)}.json`, "application/json", JSON.stringify(d, null, 2));
          say(t("downloaded"));
        }) }, t("download_json")),
        h("button", { type: "button", id: "download-html", onclick: action(async () => {
          const d = await api("GET", `${SUBJECT_PATH}/export`);
          doc = { ...d, items: { ...(doc?.items || {}), ...(d.items || {}) } };
          download(`my-data-${d.exported_at.slice(0, 10)}.html`, "text/html", readableCopy(d));
          say(t("downloaded"));
        }) }, t("download_html"))));
  }

  function eraseSection() {
    const confirm = h("div", { class: "confirm", id: "erase-confirm", hidden: true, role: "group", "aria-labelledby": "erase-confirm-h" });
    const understood = h("input", { type: "checkbox", id: "erase-understand" });
    const go = h("button", { type: "button", class: "danger", id: "erase-now", disabled: true, onclick: action(erase) }, t("erase_now"));
    understood.addEventListener("change", () => { go.disabled = !understood.checked; });
    const start = h("button", { type: "button", class: "danger", id: "erase-start", "aria-expanded": "false", "aria-controls": "erase-confirm",
      onclick: () => {
        confirm.hidden = false;
        start.setAttribute("aria-expanded", "true");
        understood.focus();
      } }, t("erase_start"));
    confirm.append(
      h("h3", { id: "erase-confirm-h" }, t("erase_confirm_h")),
      h("p", {}, t("erase_confirm_text")),
      h("label", { for: "erase-understand" }, understood, t("erase_understand")),
      h("div", { class: "actions" }, go, h("button", { type: "button", onclick: () => {
        confirm.hidden = true;
        understood.checked = false;
        go.disabled = true;
        start.setAttribute("aria-expanded", "false");
        start.focus();
      } }, t("cancel"))));
    return section("erase", t("erase_h"), h("p", {}, t("erase_intro")), start, confirm);
  }

  async function erase() {
    const r = await api("DELETE", SUBJECT_PATH);
    const receipt = r.receipt;
    const out = h("p", { "aria-live": "polite" });
    const removed = receipt.removed || {};
    const model = receipt.model?.contribution;
    document.getElementById("nav-toc")?.remove();
    const app = document.getElementById("app");
    app.replaceChildren(section("erased", t("erased_h"),
      h("p", {}, t("erased_intro", { when: when(receipt.ts) })),
      h("dl", { class: "removed" }, Object.entries(removed).flatMap(([k, v]) => [
        h("dt", {}, t("removed_" + k)), h("dd", { "data-removed": k }, v === true ? t("yes") : String(v))])),
      model ? h("p", {}, t("erased_model", { what: t("model_" + model) })) : null,
      h("p", {}, t("erased_receipt")),
      receiptControls(receipt, out), out));
    doc = null;
    say(t("erased_h"));
    document.getElementById("erased").focus();
  }

  // ------------------------------------------------------------ the page

  function nav() {
    const ids = [["store", "store_h"], ["activity", "activity_h"], ["inferred", "inferred_h"], ["preferences", "prefs_h"],
      ["purposes", "purposes_h"], ["why", "why_h"], ["restrict", "restrict_h"], ["access", "access_h"],
      ["download", "download_h"], ["erase", "erase_h"]];
    return h("nav", { class: "toc", id: "nav-toc", "aria-label": t("nav") },
      h("ul", {}, ids.map(([id, k]) => h("li", {}, h("a", { href: "#" + id, onclick: (ev) => {
        ev.preventDefault(); // the fragment holds the token: keep it
        const target = document.getElementById(id);
        target.scrollIntoView();
        target.focus();
      } }, t(k))))));
  }

  function render() {
    const app = document.getElementById("app");
    const focusedId = document.activeElement?.id;
    app.replaceChildren(nav(), storeSection(), activitySection(), inferredSection(), prefsSection(), purposesSection(),
      whySection(), restrictSection(), accessSection(), downloadSection(), eraseSection());
    if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
  }

  // A change of preferences answers with the preferences as stored: no need
  // to read (and log) the whole export again. Only a change of the events
  // themselves (forgetting one, dismissing an item) reloads the export.
  async function patchPreferences(body) {
    doc.preferences = await api("PATCH", `${SUBJECT_PATH}/preferences`, body);
    render();
  }

  async function reload() {
    doc = await api("GET", `${SUBJECT_PATH}/export`);
    render();
  }

  async function start() {
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    const sel = document.getElementById("lang");
    sel.value = lang;
    sel.addEventListener("change", () => {
      const u = new URL(location.href);
      u.searchParams.set("lang", sel.value);
      location.replace(u.toString()); // the fragment (the token) stays in the browser
    });
    if (!token || !subject) {
      document.getElementById("app").replaceChildren(h("p", {}, t("no_token")));
      return;
    }
    try {
      notice = await api("GET", "/v1/privacy-notice");
      document.getElementById("site-intro").textContent = t("site_intro", { site: notice.site });
      await reload();
      document.body.dataset.ready = "true";
    } catch (e) {
      document.getElementById("app").replaceChildren();
      fail(e);
      document.body.dataset.ready = "error";
    }
  }

  start();
})();
