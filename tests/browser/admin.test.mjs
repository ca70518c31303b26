// The brand's console (/admin) as the brand uses it, in headless chromium
// against the real server: opened with /admin#key=… (the key then leaves
// the address bar) or through its form; the consent chart per purpose, the
// events by outcome, a finished audit with its flag and its report
// downloaded with the key; a key created (its secret shown once, working
// at once) and revoked from the page (then refused by the API with 401),
// the page's own key offered no revoke button. In English, Spanish and
// Polish; at phone and desktop widths (screenshots under build/artifacts/);
// with no serious or critical axe-core violation, no request to another
// origin, no cookie, the key in no URL sent and in no storage.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, launchBrowser, seriousViolations, screenshots, WIDTHS } from "./harness.mjs";

const POLICY = `\
site: Console Test Store
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggest products"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
audit: {min_group_size: 5}
`;

// Postal code stands in for ethnicity among the audited people: the audit
// must flag it as a proxy.
const PEOPLE = Array.from({ length: 12 }, (_, i) => [`aud-${i}`, {
  ethnicity: i < 6 ? "a" : "b", postal_code: i < 6 ? "28001" : "28002",
}]);

let srv, browser, admin;

async function ok(p) {
  const r = await p;
  assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

before(async () => {
  srv = await startServer({ policy: POLICY, keys: { admin: "admin" } });
  admin = srv.keys.admin;
  await ok(srv.api("POST", "/v1/items", { key: admin, body: { items: ["a", "b", "c", "d"].map((id) => ({ id, title: id, categories: ["x"] })) } }));
  const events = [];
  for (const [who, attrs] of PEOPLE) {
    for (const purpose of ["personalization", "audit"])
      await ok(srv.api("PUT", `/v1/subjects/${who}/consents/${purpose}`, { key: admin, body: { status: "granted" } }));
    await ok(srv.api("PUT", `/v1/audit/subjects/${who}/attributes`, { key: admin, body: attrs }));
    events.push({ subject: who, type: "view", item: "a" });
  }
  await ok(srv.api("PUT", "/v1/subjects/aud-0/consents/personalization", { key: admin, body: { status: "denied" } }));
  // Two events of someone who never agreed: counted as not stored.
  events.push({ subject: "stranger", type: "view", item: "b" }, { subject: "stranger", type: "view", item: "c" });
  const sent = await ok(srv.api("POST", "/v1/events", { key: admin, body: { events } }));
  assert.equal(sent.not_stored.no_consent, 3); // aud-0 withdrew, and the stranger's two
  const auditor = await ok(srv.api("POST", "/v1/admin/keys", { key: admin, body: { name: "auditor", scopes: ["audit"] } }));
  const audit = await ok(srv.api("POST", "/v1/audits", { key: auditor.key, body: { attributes: ["ethnicity"] } }));
  assert.ok(audit.flags.proxies >= 1, JSON.stringify(audit.proxies));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  assert.equal(await srv?.stop(), 0);
});

async function openAdmin({ lang, locale, viewport = WIDTHS.desktop, withKey = admin } = {}) {
  const context = await browser.newContext({ viewport, locale: locale || "en-US", acceptDownloads: true });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const seen = { requests: [], errors: [] };
  page.on("request", (r) => seen.requests.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  const q = lang ? `?lang=${lang}` : "";
  await page.goto(`${srv.base}/admin${q}${withKey ? "#key=" + encodeURIComponent(withKey) : ""}`);
  await page.waitForSelector("body[data-ready]");
  const check = async (allowErrors = 0) => {
    for (const u of seen.requests) {
      assert.ok(u.startsWith(srv.base + "/") || u.startsWith("blob:"), `request to another origin: ${u}`);
      assert.ok(!u.includes(admin), `the key went into a URL: ${u}`);
    }
    // A refused key shows as a failed request in the console, nothing else.
    assert.equal(seen.errors.filter((e) => !/status of 401/.test(e)).length, 0, seen.errors.join("\n"));
    assert.ok(seen.errors.length <= allowErrors, seen.errors.join("\n"));
    assert.deepEqual(await context.cookies(), []);
    // The key lives in the page's memory only.
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  };
  return { page, context, seen, check };
}

test("opened with #key=, the console charts consents and events and lists the audit with its flag", async () => {
  const { page, context, check } = await openAdmin();
  assert.equal(await page.getAttribute("body", "data-ready"), "true");
  assert.ok(!page.url().includes("#key"), "the key stays in the address bar: " + page.url());
  assert.equal(await page.textContent("#intro"), "How Console Test Store uses personal data: consents, events, guardrails, audits, keys and the model.");

  // Consents: one chart per purpose, today's grants in its table.
  const charts = await page.$$eval("#consents svg[role=img]", (s) => s.map((e) => e.getAttribute("aria-label")));
  assert.equal(charts.length, 2);
  assert.match(charts[0], /^personalization: consents granted and withdrawn per day/);
  assert.match(charts[1], /^audit: /);
  const summary = await page.textContent("#consents .purpose-chart:first-of-type p");
  assert.match(summary, /^12 granted · 1 withdrawn · 92% granted of all decisions$/);
  // The chart draws 90 days of each series.
  assert.equal(await page.$$eval("#consents .purpose-chart:first-of-type svg polyline", (p) => p.length), 2);
  assert.equal(await page.$$eval("#consents .purpose-chart:first-of-type svg circle", (c) => c.length), 180);

  // Events by outcome: stored and not stored for lack of consent.
  const rowsOf = (sel) => page.$$eval(sel, (rows) => rows.map((r) => [...r.children].map((c) => c.textContent).join(" ")));
  assert.deepEqual(await rowsOf("#events details:first-of-type table tbody tr"), ["stored 11", "not stored: no consent 3"]);
  assert.equal(await page.$$eval("#events svg rect", (r) => r.length), 2);
  // ... and per day: all of them today, stored and not stored as two lines over the 90 days.
  const today = new Date().toISOString().slice(0, 10);
  assert.deepEqual(await rowsOf("#events details:last-of-type table tbody tr"), [`${today} 11 3`]);
  assert.equal(await page.$$eval("#events svg polyline", (p) => p.length), 2);

  // The audit, done, with its proxy flag, and its report downloaded with the key.
  const audit = await page.textContent("#audits li.audit");
  assert.match(audit, /Audit 1 of /);
  assert.match(audit, /done; 12 people; attributes: ethnicity/);
  assert.match(audit, /Proxy: postal_code stands in for ethnicity \(V = 1\)/);
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.click("#audits button[aria-label='Download the report of audit 1']")]);
  assert.equal(download.suggestedFilename(), "audit-1.html");
  const html = readFileSync(await download.path(), "utf8");
  assert.match(html, /postal_code stands in for ethnicity/);

  // Model, policy and notice.
  assert.match(await page.textContent("#model"), /No model has been trained yet/);
  assert.equal(await page.textContent("#policy pre"), POLICY);
  assert.match(await page.textContent("#notice"), /Suggest products/);

  assert.deepEqual(await seriousViolations(page), []);
  await screenshots(page, "admin");
  await check();
  await context.close();
});

test("a key created from the console works at once; revoked from it, the API answers 401", async () => {
  const { page, context, check } = await openAdmin();
  // The page's own key has no revoke button.
  const own = await page.$$eval("#keys tbody tr", (rows) => rows.map((r) => [r.querySelector("th").textContent, !!r.querySelector("button")]));
  assert.deepEqual(own.find(([n]) => n === "admin"), ["admin", false]);

  await page.fill("#new-key-name", "shop-frontend");
  await page.check("#scope-recommend");
  await page.check("#scope-catalog");
  await page.click("#create-key button[type=submit]");
  await page.waitForSelector("#secret-value");
  const secret = await page.inputValue("#secret-value");
  assert.match(await page.textContent("#new-secret"), /The key shop-frontend was created/);
  assert.equal((await srv.api("GET", "/v1/items", { key: secret })).status, 200);
  assert.equal((await srv.api("GET", "/v1/admin/keys", { key: secret })).status, 403);
  const row = await page.textContent("#keys tbody tr:has(th:text-is('shop-frontend'))");
  assert.match(row, /catalog, recommend/);

  await page.click("#keys button[aria-label='Revoke the key shop-frontend']");
  await page.waitForSelector("#keys tbody tr:has(th:text-is('shop-frontend')) >> text=/revoked/");
  assert.match(await page.textContent("#status"), /The key shop-frontend is revoked/);
  const refused = await srv.api("GET", "/v1/items", { key: secret });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, "unauthorized");
  await check();
  await context.close();
});

test("the form takes a key, refuses a wrong one, and forgets it on request", async () => {
  const { page, context, check } = await openAdmin({ withKey: null, viewport: WIDTHS.phone });
  assert.equal(await page.getAttribute("body", "data-ready"), "form");
  await page.fill("#key", "not-a-key");
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("body[data-ready=form] #status.error");
  assert.match(await page.textContent("#status"), /This key was not accepted/);
  await page.fill("#key", admin);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("body[data-ready=true]");
  assert.deepEqual(await seriousViolations(page), []);
  // Switching the language keeps the key (in memory) and re-renders in place.
  await page.selectOption("#lang", "pl");
  await page.waitForSelector("body[data-ready=true] >> text=Zgody według celu");
  assert.ok(page.url().endsWith("/admin?lang=pl"), page.url());
  await page.click("#sign-out");
  await page.waitForSelector("body[data-ready=form]");
  // Forgotten: a reload asks for the key again.
  await page.reload();
  await page.waitForSelector("body[data-ready=form]");
  await check(5);
  await context.close();
});

test("in Spanish and Polish, by ?lang= and by the browser's language", async () => {
  for (const [opts, heading, consents] of [
    [{ lang: "es" }, "Consola", "Consentimientos por finalidad"],
    [{ locale: "pl-PL" }, "Konsola", "Zgody według celu"],
  ]) {
    const { page, context, check } = await openAdmin(opts);
    assert.equal(await page.textContent("h1"), heading);
    assert.equal(await page.textContent("#consents h2"), consents);
    assert.equal(await page.getAttribute("html", "lang"), opts.lang || "pl");
    assert.deepEqual(await seriousViolations(page), []);
    await check();
    await context.close();
  }
});
