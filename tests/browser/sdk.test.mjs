// The browser SDK (/sdk/mesura.js) on a brand's shop, in headless chromium
// against the real server. The shop is another origin (a small node server
// on its own loopback port, listed in the policy's cors.allowed_origins)
// whose backend mints each shopper's browser token with its `subjects` key
// and hands it to the page, as a brand would. Checked: no event leaves
// before consent and, once the shopper accepts (with the keyboard), they
// arrive in the store; with Global Privacy Control a purpose that honours
// it is not offered and none of its events is sent; what is left goes when
// the page goes away (keepalive); the widget shows items with a working
// "why?"; an anonymous visitor's token records the visitor's own consent
// and events; no request to a third origin, the token in no URL; the prompt
// has no serious or critical axe-core violation; after a choice focus lands
// on the widget's "Your data" link and "Saved" is announced; a changed
// privacy notice brings the prompt back once; under GPC, ads are granted
// only through the prompt's "despite GPC" box. The example shop page that
// `mesura demo` links to (/sdk/example.html, same origin, the server's CSP)
// shows the prompt, the widget with why?, and a click held until consent and
// then stored, in the language the SDK chooses. Screenshots at phone and
// desktop widths under build/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, launchBrowser, seriousViolations, screenshots, WIDTHS } from "./harness.mjs";

const ITEMS = [
  ["tent", "Trail Tent", "camping"], ["stove", "Camp Stove", "camping"], ["lamp", "Head Lamp", "camping"],
  ["bag", "Sleeping Bag", "camping"], ["mat", "Sleeping Mat", "camping"], ["pot", "Camp Pot", "camping"],
];
const TITLES = Object.fromEntries(ITEMS.map(([id, title]) => [id, title]));

const policy = (shop) => `\
site: SDK Test Shop
languages: [en, es, pl]
purposes:
  personalization:
    description: {en: "Suggest products from what you browse and buy", es: "Sugerir productos", pl: "Proponowanie produktów"}
    gpc: ignored
  ads_retargeting:
    description: {en: "Show you our ads on other sites", es: "Mostrarte nuestros anuncios", pl: "Pokazywanie naszych reklam"}
    gpc: honored
    channels: [ads]
event_types:
  view:     {purposes: [personalization], retention_days: 180}
  click:    {purposes: [personalization], retention_days: 180}
  ad_click: {purposes: [ads_retargeting], retention_days: 30}
cors:
  allowed_origins: ["${shop}"]
model: {kind: ease, retrain_every_minutes: 525600, retrain_after_events_pct: 0}
`;

let srv, shop, shopBase, browser;
const minted = []; // every token handed to a page

async function ok(p) {
  const r = await p;
  assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// The brand's shop: its page loads the SDK from the mesura server, its
// backend mints the shopper's tokens (a browser token, and one for the
// dashboard link) with its own key, which never reaches the page.
function shopPage(req, res) {
  const u = new URL(req.url, shopBase);
  if (u.pathname === "/shop.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" });
    res.end(`
      const d = document.body.dataset;
      const TITLES = ${JSON.stringify(TITLES)};
      const m = Mesura.init({endpoint: d.endpoint, token: d.token, subject: d.subject, anonymousId: d.visitor,
                             dashboardToken: d.dashboard, flushMs: 600000});
      window.shop = m;
      m.track("view", {item: "tent"});
      m.track("ad_click", {item: "tent"});
      window.recs = m.widget(document.getElementById("recs"), {placement: "home", n: 4, title: (id) => TITLES[id]});
    `);
    return;
  }
  if (u.pathname === "/favicon.ico") { res.writeHead(204); res.end(); return; }
  if (u.pathname !== "/") { res.writeHead(404); res.end(); return; }
  // A signed-in customer (?who=) gets a browser token and a dashboard
  // token; a visitor (?visitor=) a visitor's token only.
  const who = u.searchParams.get("who"), visitor = u.searchParams.get("visitor");
  Promise.all(who ? [
    ok(srv.api("POST", `/v1/subjects/${who}/tokens`, { key: srv.keys.shop, body: { use: "browser" } })),
    ok(srv.api("POST", `/v1/subjects/${who}/tokens`, { key: srv.keys.shop })),
  ] : [ok(srv.api("POST", `/v1/visitors/${visitor}/tokens`, { key: srv.keys.shop }))]).then(([browserTok, dash]) => {
    minted.push(browserTok.token, ...(dash ? [dash.token] : []));
    const attr = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    const person = who ? `data-subject="${attr(who)}" data-dashboard="${attr(dash.token)}"` : `data-visitor="${attr(visitor)}"`;
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>SDK Test Shop</title></head>
<body data-endpoint="${attr(srv.base)}" data-token="${attr(browserTok.token)}" ${person}>
<main><h1>SDK Test Shop</h1><p>Trail Tent, for two.</p><div id="recs"></div></main>
<script src="${attr(srv.base)}/sdk/mesura.js"></script><script src="/shop.js"></script></body></html>`);
  }, (e) => { res.writeHead(500); res.end(String(e)); });
}

before(async () => {
  shop = http.createServer(shopPage);
  await new Promise((r) => shop.listen(0, "127.0.0.1", r));
  shopBase = `http://127.0.0.1:${shop.address().port}`;
  srv = await startServer({ policy: policy(shopBase), keys: { admin: "admin", shop: "subjects" } });
  const admin = srv.keys.admin;
  await ok(srv.api("POST", "/v1/items", { key: admin, body: { items: ITEMS.map(([id, title, cat]) => ({ id, title, categories: [cat] })) } }));
  const events = [];
  for (let p = 0; p < 12; p++) {
    await ok(srv.api("PUT", `/v1/subjects/p${p}/consents/personalization`, { key: admin, body: { status: "granted" } }));
    for (let k = 0; k < 3; k++) events.push({ subject: `p${p}`, type: "view", item: ITEMS[(p + k) % 6][0] });
  }
  assert.equal((await ok(srv.api("POST", "/v1/events", { key: admin, body: { events } }))).stored, events.length);
  srv.train();
  await srv.waitForLog((ls) => ls.some((l) => l.includes(" is live")));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await new Promise((r) => shop?.close(r));
  assert.equal(await srv?.stop(), 0);
});

// The shop's page for one shopper, with every request seen (URL, method,
// headers, body) and the guards every test wants: only the shop and the
// mesura server are reached, no token in any URL, no page error.
async function openShop(who, { gpc = false, viewport = WIDTHS.desktop, visitor = false } = {}) {
  const context = await browser.newContext({ viewport, locale: "en-US", extraHTTPHeaders: gpc ? { "Sec-GPC": "1" } : {} });
  context.setDefaultTimeout(10000);
  if (gpc) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
  const page = await context.newPage();
  const seen = { requests: [], errors: [] };
  page.on("request", (r) => seen.requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postData() }));
  seen.acks = [];
  page.on("response", async (r) => {
    if (r.url() === srv.base + "/v1/events" && r.request().method() === "POST") seen.acks.push(await r.json());
  });
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  await page.goto(`${shopBase}/?${visitor ? "visitor" : "who"}=${encodeURIComponent(who)}`);
  await page.evaluate(() => window.shop.ready);
  const events = () => seen.requests.filter((r) => r.url === srv.base + "/v1/events" && r.method === "POST")
    .flatMap((r) => JSON.parse(r.body).events);
  const check = () => {
    for (const r of seen.requests) {
      assert.ok(r.url.startsWith(shopBase + "/") || r.url.startsWith(srv.base + "/"), `request to a third origin: ${r.url}`);
      for (const t of minted) assert.ok(!r.url.includes(t), `a token went into a URL: ${r.url}`);
    }
    assert.deepEqual(seen.errors, []);
  };
  return { page, context, seen, events, check };
}

const held = (who) => srv.api("GET", `/v1/subjects/${who}/export`, { key: srv.keys.admin }).then((r) => r.body.events || []);

async function until(pred, what) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out: " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("no event before consent; accepted with the keyboard, they arrive in the store; the rest goes as the page leaves", async () => {
  const { page, context, events, check } = await openShop("ana");
  const prompt = page.getByRole("region", { name: /Your privacy choices on SDK Test Shop/ });
  await prompt.waitFor();
  await page.evaluate(() => window.shop.flush());
  assert.deepEqual(events(), [], "an event went out before consent");
  assert.deepEqual(await held("ana"), []);
  assert.deepEqual(await seriousViolations(page), [], "axe on the shop with the prompt");
  await screenshots(page, "sdk-prompt");
  await page.setViewportSize(WIDTHS.desktop);

  // Keyboard only: tab to "Accept all" (no trap on the way), Enter.
  let reached = false;
  for (let i = 0; i < 30 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.textContent === "Accept all");
  }
  assert.ok(reached, "Accept all cannot be reached with Tab");
  await page.evaluate(() => window.recs);
  await page.keyboard.press("Enter");
  await prompt.waitFor({ state: "detached" });
  // Focus is not lost to the top of the page: it lands on the widget's
  // "Your data" link; "Saved" is announced in a live region that stays.
  assert.deepEqual(await page.evaluate(() => [document.activeElement.className, document.activeElement.textContent,
                                               !!document.activeElement.closest(".mesura-recs")]),
                   ["mesura-link", "Your data", true]);
  const live = page.getByRole("status").filter({ hasText: "Saved." });
  assert.equal(await live.count(), 1);

  // The receipt names the notice version shown and the browser token.
  const consents = await ok(srv.api("GET", "/v1/subjects/ana/consents", { key: srv.keys.admin }));
  const notice = await ok(srv.api("GET", "/v1/privacy-notice"));
  assert.equal(consents.purposes.personalization.status, "granted");
  assert.equal(consents.purposes.ads_retargeting.status, "granted");
  for (const r of consents.history) {
    assert.equal(r.policy_version, notice.policy_version);
    assert.equal(r.source, "banner");
    assert.equal(r.recorded_by, "browser-token");
  }
  await page.evaluate(() => window.shop.flush());
  const sent = events();
  assert.deepEqual(sent.map((e) => e.type).sort(), ["ad_click", "view"]);
  const stored = await held("ana");
  assert.deepEqual(stored.map((e) => e.event_id).sort(), sent.map((e) => e.event_id).sort());

  // One more, left in the queue; the shopper leaves the page: it is sent
  // on the way out (keepalive) and stored.
  await page.evaluate(() => window.shop.track("view", { item: "lamp" }));
  assert.deepEqual(await page.evaluate(() => window.shop.pending()), { held: 0, outbox: 1 });
  await page.goto("about:blank");
  await until(async () => (await held("ana")).some((e) => e.item === "lamp"), "the event flushed on page hide");
  check();
  await context.close();
});

test("with Global Privacy Control, ads are not offered and no ad event is sent, even after an earlier grant", async () => {
  // Bea allowed ads once, from a browser without GPC; hers sends it now.
  await ok(srv.api("PUT", "/v1/subjects/bea/consents/ads_retargeting", { key: srv.keys.admin, body: { status: "granted" } }));
  const { page, context, seen, events, check } = await openShop("bea", { gpc: true });
  assert.equal(await page.evaluate(() => navigator.globalPrivacyControl), true);
  const ads = page.locator('.mesura-consent [data-purpose="ads_retargeting"]');
  assert.equal(await ads.locator(".mesura-consent__switch").isDisabled(), true);
  assert.equal(await ads.locator(".mesura-consent__switch").isChecked(), false);
  assert.match(await ads.textContent(), /Global Privacy Control/);
  assert.deepEqual(await seriousViolations(page), [], "axe on the prompt under GPC");
  await page.getByRole("button", { name: "Accept all" }).click();
  await page.locator(".mesura-consent").waitFor({ state: "detached" });
  const puts = seen.requests.filter((r) => r.method === "PUT").map((r) => r.url.split("/").pop());
  assert.deepEqual(puts, ["personalization"]);
  await page.evaluate(() => { window.shop.track("ad_click", { item: "stove" }); window.shop.track("view", { item: "stove" }); });
  await page.evaluate(() => window.shop.flush());
  assert.deepEqual(events().map((e) => e.type).sort(), ["view", "view"]);
  // The browser itself told the server too, on every call.
  for (const r of seen.requests.filter((r) => r.url.startsWith(srv.base + "/v1/"))) assert.equal(r.headers["sec-gpc"], "1", r.url);
  const stored = await held("bea");
  assert.deepEqual(stored.map((e) => e.type).sort(), ["view", "view"]);
  const consents = await ok(srv.api("GET", "/v1/subjects/bea/consents", { key: srv.keys.admin }));
  assert.equal(consents.purposes.ads_retargeting.status, "denied");
  check();
  await context.close();
});

test("the widget shows the recommendations, and 'why?' reveals each reason; the dashboard link carries its token in the fragment", async () => {
  const { page, context, check } = await openShop("cy");
  const answer = await page.evaluate(() => window.recs);
  assert.ok(answer.items.length > 0, "the server recommended nothing");
  const record = await ok(srv.api("GET", `/v1/recommendations/${answer.request_id}`, { key: srv.keys.admin }));
  const recs = page.getByRole("region", { name: "Recommended for you" });
  const items = recs.locator(".mesura-recs__item");
  assert.equal(await items.count(), record.items.length);
  for (let i = 0; i < record.items.length; i++) {
    const it = record.items[i], li = items.nth(i);
    assert.equal(await li.locator(".mesura-recs__title").textContent(), TITLES[it.item]);
    const reason = li.locator(".mesura-recs__reason");
    assert.equal(await reason.isVisible(), false);
    const why = li.getByRole("button", { name: `Why? ${TITLES[it.item]}` });
    await why.click();
    assert.equal(await reason.isVisible(), true);
    assert.equal(await reason.textContent(), it.reason.text);
    assert.equal(await why.getAttribute("aria-expanded"), "true");
  }
  const href = await recs.getByRole("link", { name: "Your data" }).getAttribute("href");
  const dash = new URL(href);
  assert.equal(dash.origin + dash.pathname, srv.base + "/me");
  assert.equal(dash.search, "?lang=en");
  const frag = new URLSearchParams(dash.hash.slice(1));
  assert.ok(minted.includes(frag.get("token")));
  assert.equal(frag.get("subject"), "cy");
  // Decline everything: the prompt goes, the widget stays, nothing is sent.
  await page.getByRole("button", { name: "Reject all" }).click();
  await page.locator(".mesura-consent").waitFor({ state: "detached" });
  assert.deepEqual(await seriousViolations(page), [], "axe on the widget");
  await screenshots(page, "sdk-widget");
  await page.evaluate(() => window.shop.flush());
  assert.deepEqual(await held("cy"), []);
  check();
  await context.close();
});

test("an anonymous visitor's consent and events are theirs, under a visitor's token", async () => {
  const { page, context, seen, events, check } = await openShop("c-9f1", { visitor: true });
  await page.evaluate(() => window.shop.flush());
  assert.deepEqual(events(), []);
  // No dashboard for a visitor: the link is the privacy notice.
  const href = await page.locator(".mesura-consent .mesura-link").getAttribute("href");
  assert.equal(href, srv.base + "/v1/privacy-notice");
  await page.getByRole("button", { name: "Accept all" }).click();
  await page.locator(".mesura-consent").waitFor({ state: "detached" });
  const consents = await ok(srv.api("GET", "/v1/visitors/c-9f1/consents", { key: srv.keys.admin }));
  assert.equal(consents.purposes.personalization.status, "granted");
  assert.ok(consents.history.every((r) => r.anonymous === true));
  await page.evaluate(() => window.shop.flush());
  const sent = events();
  assert.deepEqual(sent.map((e) => e.type).sort(), ["ad_click", "view"]);
  assert.ok(sent.every((e) => e.anonymous_id === "c-9f1" && !("subject" in e)));
  await until(() => seen.acks.length > 0, "the events' reply");
  assert.deepEqual(seen.acks.map((a) => [a.accepted, a.stored]), [[2, 2]], "the server stored what was sent");
  check();
  await context.close();
});

test("the prompt comes back when the privacy notice changed since the shopper chose, and not once they chose again", async () => {
  // Dan chose under an older notice; the one in force has another version.
  for (const p of ["personalization", "ads_retargeting"])
    await ok(srv.api("PUT", `/v1/subjects/dan/consents/${p}`, { key: srv.keys.admin, body: { status: "granted", policy_version: "2000-01" } }));
  const notice = await ok(srv.api("GET", "/v1/privacy-notice"));
  assert.notEqual(notice.policy_version, "2000-01");
  let { page, context, check } = await openShop("dan");
  const prompt = page.getByRole("region", { name: /Your privacy choices/ });
  await prompt.waitFor();
  assert.match(await prompt.textContent(), /This notice has changed since your last choice/);
  await page.getByRole("button", { name: "Save my choices" }).click();
  await prompt.waitFor({ state: "detached" });
  const consents = await ok(srv.api("GET", "/v1/subjects/dan/consents", { key: srv.keys.admin }));
  assert.deepEqual(consents.history.slice(-2).map((r) => [r.purpose, r.status, r.policy_version]).sort(),
                   [["ads_retargeting", "granted", notice.policy_version], ["personalization", "granted", notice.policy_version]],
                   "the standing choices, shown switched on, are recorded again under the notice in force");
  check();
  await context.close();
  // The next visit: nothing changed since, nothing asked.
  ({ page, context, check } = await openShop("dan"));
  assert.equal(await page.locator(".mesura-consent").count(), 0);
  check();
  await context.close();
});

test("with GPC, a shopper may still want ads: only through the prompt's own 'despite GPC' box, recorded as such", async () => {
  const { page, context, events, check } = await openShop("eve", { gpc: true });
  const ads = page.locator('.mesura-consent [data-purpose="ads_retargeting"]');
  const despite = ads.getByRole("checkbox", { name: "I want this despite Global Privacy Control" });
  assert.equal(await despite.isChecked(), false);
  await despite.check();
  assert.deepEqual(await seriousViolations(page), [], "axe on the prompt with the GPC box");
  await page.getByRole("button", { name: "Accept all" }).click();
  await page.locator(".mesura-consent").waitFor({ state: "detached" });
  const consents = await ok(srv.api("GET", "/v1/subjects/eve/consents", { key: srv.keys.admin }));
  assert.equal(consents.purposes.ads_retargeting.status, "granted");
  const receipt = consents.history.find((r) => r.purpose === "ads_retargeting");
  assert.equal(receipt.over_gpc, true, "the receipt says it was given over GPC");
  // The page's first ad_click was dropped while GPC refused ads; the next
  // one is sent under the grant. (Whether the server stores it from a
  // browser that sends Sec-GPC is the server's rule, not the SDK's.)
  await page.evaluate(() => { window.shop.track("ad_click", { item: "stove" }); return window.shop.flush(); });
  assert.deepEqual(events().map((e) => [e.type, e.item]).sort(), [["ad_click", "stove"], ["view", "tent"]]);
  check();
  await context.close();
});

// The example shop page that `mesura demo` links to, on this server: same
// origin, under the server's own Content-Security-Policy.
async function openExample(who, { locale = "en-US", query = "" } = {}) {
  const [b, d] = await Promise.all([
    ok(srv.api("POST", `/v1/subjects/${who}/tokens`, { key: srv.keys.shop, body: { use: "browser" } })),
    ok(srv.api("POST", `/v1/subjects/${who}/tokens`, { key: srv.keys.shop })),
  ]);
  minted.push(b.token, d.token);
  const context = await browser.newContext({ viewport: WIDTHS.desktop, locale });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const seen = { requests: [], errors: [] };
  page.on("request", (r) => seen.requests.push({ url: r.url(), method: r.method(), body: r.postData() }));
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  await page.goto(`${srv.base}/sdk/example.html${query}#token=${b.token}&subject=${who}&dashboard=${d.token}`);
  const events = () => seen.requests.filter((r) => r.url === srv.base + "/v1/events" && r.method === "POST")
    .flatMap((r) => JSON.parse(r.body).events);
  const check = () => {
    for (const r of seen.requests) {
      assert.ok(r.url.startsWith(srv.base + "/"), `request to a third origin: ${r.url}`);
      for (const t of minted) assert.ok(!r.url.includes(t), `a token went into a URL: ${r.url}`);
    }
    assert.deepEqual(seen.errors, []);
  };
  return { page, context, events, check };
}

test("the example shop page shows the SDK at work: the prompt, the widget with why?, a click held until consent and then stored", async () => {
  const { page, context, events, check } = await openExample("newbie");
  const prompt = page.getByRole("region", { name: "Your privacy choices on SDK Test Shop" });
  await prompt.waitFor();
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Example shop");
  const recs = page.getByRole("region", { name: "Recommended for you" });
  await recs.waitFor();
  const first = recs.locator(".mesura-recs__item").first();
  const why = first.getByRole("button", { name: /^Why\?/ });
  await why.click();
  assert.ok((await first.locator(".mesura-recs__reason").textContent()).length > 0);
  assert.equal(await first.locator(".mesura-recs__reason").isVisible(), true);
  assert.deepEqual(await seriousViolations(page), [], "axe on the example page with the prompt");
  await screenshots(page, "sdk-example");
  await page.setViewportSize(WIDTHS.desktop);

  // Opening a recommendation: a click (and a view of it), held until consent.
  const item = await first.getAttribute("data-item");
  await first.locator("a.mesura-recs__title").click();
  await page.getByRole("heading", { name: `You are looking at ${item}` }).waitFor();
  await page.getByRole("region", { name: "Similar items" }).waitFor();
  assert.match(await page.locator("#queue").textContent(), /waiting for your choice: 2\. Stored by the server: 0\./);
  assert.deepEqual(events(), [], "an event went out before consent");

  await page.getByRole("button", { name: "Accept all" }).click();
  await prompt.waitFor({ state: "detached" });
  await until(async () => (await held("newbie")).length === 2, "the click and the view stored");
  assert.deepEqual((await held("newbie")).map((e) => [e.type, e.item]).sort(), [["click", item], ["view", item]]);
  assert.deepEqual(events().map((e) => e.type).sort(), ["click", "view"]);
  await page.locator("#queue", { hasText: "Stored by the server: 2." }).waitFor();
  assert.match(await page.locator('#purposes [data-purpose="personalization"]').textContent(), /personalization: allowed/);
  assert.match(await page.getByRole("status").filter({ hasText: "Saved." }).textContent(), /^Saved\./);
  // The "privacy choices" button reopens the prompt with focus in it.
  await page.getByRole("button", { name: "Privacy choices" }).click();
  await prompt.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.className), "mesura-consent__title");
  await page.getByRole("button", { name: "Reject all" }).click();
  await prompt.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement.id), "choices", "focus back on the button that opened it");
  check();
  await context.close();
});

test("the example shop page speaks the language the SDK chooses: the browser's, or ?lang=", async () => {
  for (const [who, locale, query, h1, accept] of [["nuevo", "es-ES", "", "Tienda de ejemplo", "Aceptar todo"],
                                                   ["nowy", "en-US", "?lang=pl", "Przykładowy sklep", "Akceptuj wszystko"]]) {
    const { page, context, check } = await openExample(who, { locale, query });
    await page.getByRole("button", { name: accept }).waitFor();
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), h1);
    assert.equal(await page.evaluate(() => document.documentElement.lang), query ? "pl" : "es");
    check();
    await context.close();
  }
  // Opened without a token: it says, in the browser's language, where the link comes from.
  const context = await browser.newContext({ locale: "pl-PL" });
  const page = await context.newPage();
  await page.goto(`${srv.base}/sdk/example.html`);
  assert.match(await page.getByRole("status").textContent(), /^Ta strona potrzebuje linku z tokenem przeglądarki .*mesura demo/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "pl");
  await context.close();
});
