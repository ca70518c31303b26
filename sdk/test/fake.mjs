// A small stand-in for the browser the SDK runs in: a DOM that knows
// elements, text, attributes and click listeners (and refuses markup: any
// use of innerHTML throws), `navigator`, `document` events, and a fetch
// that answers like a mesura server and records every request.
import { createRequire } from "node:module";
import { webcrypto } from "node:crypto";

const require = createRequire(import.meta.url);
const SDK = require.resolve("../mesura.js");

export class El {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.attrs = {};
    this.listeners = {};
    this.own = "";
    this.hidden = false;
    this.className = "";
  }
  appendChild(c) {
    if (c.parentNode) c.parentNode.removeChild(c);
    c.parentNode = this;
    this.children.push(c);
    return c;
  }
  removeChild(c) {
    this.children = this.children.filter((x) => x !== c);
    c.parentNode = null;
    return c;
  }
  get firstChild() { return this.children[0] || null; }
  // In the document: its topmost ancestor is the body (or the head).
  get isConnected() {
    let e = this;
    while (e.parentNode) e = e.parentNode;
    return e === globalThis.document.body || e === globalThis.document.head;
  }
  contains(e) {
    for (; e; e = e.parentNode) if (e === this) return true;
    return false;
  }
  // Focus follows the browser's rule: only an element in the document takes it.
  focus() { if (this.isConnected) globalThis.document.activeElement = this; }
  get textContent() { return this.own + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) {
    for (const c of this.children) c.parentNode = null;
    this.children = [];
    this.own = String(v);
  }
  set innerHTML(_) { throw new Error("the SDK wrote markup (innerHTML)"); }
  insertAdjacentHTML() { throw new Error("the SDK wrote markup (insertAdjacentHTML)"); }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  addEventListener(type, f) { (this.listeners[type] ||= []).push(f); }
  // A click focuses a button, as in a browser, before its listeners run.
  click() {
    if (this.tagName === "BUTTON") this.focus();
    for (const f of this.listeners.click || []) f({ type: "click", preventDefault() {} });
  }
  // Every element below this one (depth first) for which pred is true.
  all(pred) {
    const out = [];
    const walk = (e) => { for (const c of e.children) { if (pred(c)) out.push(c); walk(c); } };
    walk(this);
    return out;
  }
  byClass(cls) { return this.all((e) => e.className.split(" ").includes(cls)); }
}

export const NOTICE = {
  site: "Test Shop", language: "en", policy_version: "2026-12",
  opt_in: "Everything below is off until you say yes.",
  headings: { data: "What it uses and for how long" },
  purposes: [
    { name: "personalization", description: "Suggest products", gpc: "ignored",
      data: [{ event_type: "view", text: "Products you view. Kept for 180 days." },
             { event_type: "click", text: "Suggestions you open. Kept for 90 days." },
             { event_type: "purchase", text: "Purchases. Kept for 730 days." }] },
    { name: "ads_retargeting", description: "Show you our ads on other sites", gpc: "honored",
      data: [{ event_type: "ad_click", text: "Ads you click. Kept for 30 days." },
             { event_type: "purchase", text: "Purchases. Kept for 730 days." }] },
  ],
};

// Installs the fake browser on globalThis and returns it:
//   calls: every fetch, {method, url, path, headers, body (parsed), keepalive}
//   server.consents: purpose -> {status, history: [...]} as the server holds them
//   server.hold: when set to a promise, consent PUTs wait for it
//   server.failConsents: how many consent PUTs answer 503 before the rest succeed
//   server.notice: the privacy notice it serves (NOTICE, or the `notice` given)
//   server.failEvents: how many event POSTs answer server.failStatus (503)
//     before the rest succeed
//   granted: purpose -> true (or "over_gpc"): receipts the server already
//     holds, recorded under the notice version `version` (NOTICE's by default)
export function browser({ gpc = false, language = "en-GB", granted = {}, recs = [], version = NOTICE.policy_version,
                          notice = NOTICE } = {}) {
  const doc = {
    body: new El("body"), head: new El("head"), visibilityState: "visible", listeners: {}, activeElement: null,
    createElement: (t) => new El(t),
    addEventListener(type, f) { (this.listeners[type] ||= []).push(f); },
  };
  const win = { listeners: {} };
  const server = { consents: {}, history: [], events: [], hold: null, failEvents: 0, failConsents: 0, recs, notice };
  for (const [p, over] of Object.entries(granted)) {
    server.consents[p] = "granted";
    server.history.push({ purpose: p, status: "granted", over_gpc: over === "over_gpc", policy_version: version });
  }
  const calls = [];
  const reply = (status, body) => ({ ok: status < 300, status, json: async () => body });
  async function fetch(url, init = {}) {
    const u = new URL(url);
    const body = init.body === undefined ? undefined : JSON.parse(init.body);
    const call = { method: init.method || "GET", url, path: u.pathname, headers: init.headers || {}, body,
                   keepalive: !!init.keepalive, credentials: init.credentials };
    calls.push(call);
    await null;
    let m;
    if (call.path === "/v1/privacy-notice") return reply(200, server.notice);
    if ((m = /^\/v1\/(subjects|visitors)\/([^/]+)\/consents$/.exec(call.path))) {
      const purposes = {};
      for (const p of NOTICE.purposes) purposes[p.name] = { status: server.consents[p.name] || "denied" };
      return reply(200, { purposes, history: server.history });
    }
    if ((m = /^\/v1\/(subjects|visitors)\/([^/]+)\/consents\/([^/]+)$/.exec(call.path))) {
      if (server.hold) await server.hold;
      if (server.failConsents > 0) { server.failConsents--; return reply(503, { error: { code: "unavailable" } }); }
      const purpose = decodeURIComponent(m[3]);
      server.consents[purpose] = body.status;
      const receipt = { receipt_id: "rcp_" + calls.length, subject: decodeURIComponent(m[2]), purpose, ...body };
      server.history.push(receipt);
      return reply(200, receipt);
    }
    if (call.path === "/v1/events") {
      if (server.failEvents > 0) { server.failEvents--; return reply(server.failStatus || 503, { error: { code: "refused" } }); }
      server.events.push(...body.events);
      return reply(200, { accepted: body.events.length, stored: body.events.length });
    }
    if (call.path === "/v1/recommendations")
      return reply(200, { request_id: "r_1", personalized: true, items: server.recs });
    return reply(404, { error: { code: "not_found", message: "no such thing" } });
  }
  doc.activeElement = doc.body;
  Object.assign(globalThis, { document: doc, fetch, addEventListener: (t, f) => (win.listeners[t] ||= []).push(f) });
  // A browser's crypto (Node 18, Debian 12's, has it only as node:crypto's).
  if (!globalThis.crypto) Object.defineProperty(globalThis, "crypto", { value: webcrypto, configurable: true });
  Object.defineProperty(globalThis, "navigator", {
    value: { language, globalPrivacyControl: gpc ? true : undefined }, configurable: true, writable: true,
  });
  delete require.cache[SDK]; // a fresh SDK per test, as on a fresh page
  const Mesura = require(SDK);
  return {
    Mesura, doc, calls, server,
    events: () => calls.filter((c) => c.path === "/v1/events"),
    hide() {
      doc.visibilityState = "hidden";
      for (const f of doc.listeners.visibilitychange || []) f({});
    },
    pagehide() { for (const f of win.listeners.pagehide || []) f({}); },
  };
}

export const tick = () => new Promise((r) => setImmediate(r));
