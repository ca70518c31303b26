// The shopper's dashboard (/me) as a shopper uses it, in headless chromium
// against the real server: what it shows (titles, counts, inferred
// interests, the access log) and that each control does what it says, as
// the API then reports it: a purpose switched off, an event forgotten (the
// reason citing it goes), processing restricted, the export downloaded
// (JSON and a readable copy), everything erased with a receipt. In English,
// Spanish and Polish; at phone and desktop widths (screenshots under
// build/artifacts/); with no serious or critical axe-core violation, no
// request to another origin, no cookie, and the token in no URL sent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, launchBrowser, seriousViolations, screenshots, WIDTHS } from "./harness.mjs";

const POLICY = `\
site: Browser Test Store
languages: [en, es, pl]
purposes:
  personalization:
    description:
      en: "Suggest products from what you browse and buy"
      es: "Sugerir productos a partir de lo que miras y compras"
      pl: "Proponowanie produktów na podstawie tego, co oglądasz i kupujesz"
    gpc: ignored
  ads_retargeting:
    description: {en: "Show you our ads on other sites", es: "Mostrarte nuestros anuncios en otros sitios", pl: "Pokazywanie naszych reklam na innych stronach"}
    gpc: honored
    channels: [ads]
event_types:
  view:     {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730}
  dismiss:  {purposes: [personalization], retention_days: 730}
guardrails:
  frequency_cap: {max_impressions: 100000, window_hours: 1}
model: {kind: ease, retrain_every_minutes: 525600, retrain_after_events_pct: 0}
`;

const ITEMS = [
  ["tent", "Trail Tent", "camping"], ["stove", "Camp Stove", "camping"], ["lamp", "Head Lamp", "camping"],
  ["bag", "Sleeping Bag", "camping"], ["mat", "Sleeping Mat", "camping"], ["pot", "Camp Pot", "camping"],
  ["knife", "Chef's Knife", "kitchen"], ["pan", "Frying Pan", "kitchen"], ["kettle", "Kettle", "kitchen"],
  ["board", "Cutting Board", "kitchen"], ["oven", "Dutch Oven", "kitchen"], ["rack", "Spice Rack", "kitchen"],
];
const TITLES = Object.fromEntries(ITEMS.map(([id, title]) => [id, title]));
const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString();

let srv, browser, token, ana;

async function ok(p) {
  const r = await p;
  assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

before(async () => {
  srv = await startServer({ policy: POLICY, keys: { admin: "admin" } });
  const admin = srv.keys.admin;
  await ok(srv.api("POST", "/v1/items", { key: admin, body: { items: ITEMS.map(([id, title, cat]) => ({ id, title, categories: [cat] })) } }));
  const now = Date.now();
  const events = [];
  // A crowd whose views pair the items of each category.
  for (let p = 0; p < 24; p++) {
    const who = `p${p}`;
    await ok(srv.api("PUT", `/v1/subjects/${who}/consents/personalization`, { key: admin, body: { status: "granted" } }));
    const cat = p % 2 ? ITEMS.slice(0, 6) : ITEMS.slice(6);
    for (let k = 0; k < 4; k++)
      events.push({ subject: who, type: "view", item: cat[(p + k) % 6][0], ts: iso(now - 3 * DAY + p * 60000 + k * 1000) });
  }
  // The shopper: camping views and a purchase, ads allowed too.
  ana = "ana-42";
  for (const purpose of ["personalization", "ads_retargeting"])
    await ok(srv.api("PUT", `/v1/subjects/${ana}/consents/${purpose}`, { key: admin, body: { status: "granted" } }));
  const anaEvents = [["view", "tent"], ["view", "stove"], ["view", "lamp"], ["purchase", "tent"], ["view", "knife"]];
  anaEvents.forEach(([type, item], k) =>
    events.push({ subject: ana, type, item, ts: iso(now - DAY + k * 60000), event_id: `ana-${k}` }));
  const stored = await ok(srv.api("POST", "/v1/events", { key: admin, body: { events } }));
  assert.equal(stored.stored, events.length);
  srv.train();
  await srv.waitForLog((ls) => ls.some((l) => l.includes(" is live")));
  // Recommendations made for her, as the shop's site would ask.
  await ok(srv.api("POST", "/v1/recommendations", { key: admin, body: { subject: ana, count: 4 } }));
  token = (await ok(srv.api("POST", `/v1/subjects/${ana}/tokens`, { key: admin }))).token;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await srv?.stop();
  assert.equal(code, 0);
});

// A page on /me with the guards every test wants: requests stay on the
// server's origin, the token is in no URL sent, no cookie, no console error
// (a CSP violation is one).
async function openMe({ lang, locale, viewport = WIDTHS.desktop } = {}) {
  const context = await browser.newContext({ viewport, locale: locale || "en-US", acceptDownloads: true });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const seen = { requests: [], errors: [] };
  page.on("request", (r) => seen.requests.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  const q = lang ? `?lang=${lang}` : "";
  await page.goto(`${srv.base}/me${q}#token=${encodeURIComponent(token)}&subject=${encodeURIComponent(ana)}`);
  await page.waitForSelector("body[data-ready]");
  assert.equal(await page.getAttribute("body", "data-ready"), "true");
  const check = async () => {
    for (const u of seen.requests) {
      assert.ok(u.startsWith(srv.base + "/") || u.startsWith("blob:"), `request to another origin: ${u}`);
      assert.ok(!u.includes(token), `the token went into a URL: ${u}`);
    }
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(await context.cookies(), []);
  };
  return { page, context, seen, check };
}

async function apiAna(method, path, body) {
  return srv.api(method, `/v1/subjects/${ana}${path}`, { key: token, body });
}

test("shows what is held, with titles and counts, accessible at phone and desktop widths", async () => {
  const { page, context, check } = await openMe();
  // The timeline names items by their titles, never only by ids.
  const activity = await page.textContent("#activity");
  for (const id of ["tent", "stove", "lamp", "knife"]) assert.ok(activity.includes(TITLES[id]), `${TITLES[id]} in ${activity}`);
  // "What we store" counts what the export holds.
  const exp = (await apiAna("GET", "/export")).body;
  assert.equal(await page.textContent('#store tr[data-kind="events"] td'), String(exp.events.length));
  assert.equal(await page.textContent('#store tr[data-kind="decisions"] td'), String(exp.decisions.length));
  // What was inferred, and from what.
  assert.match(await page.textContent("#inferred"), /Camping|camping/);
  // Every recommendation made is listed under "why".
  const recommended = exp.decisions.flatMap((d) => d.items.map((i) => i.item));
  assert.ok(recommended.length > 0);
  for (const item of recommended) assert.ok(await page.$(`#why li[data-item="${item}"]`), item);
  // The access log names the reads of her data.
  assert.match(await page.textContent("#access"), /You /);
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    assert.deepEqual(await seriousViolations(page), [], `axe at ${label} width`);
    // Nothing wider than the screen: a phone scrolls down, never sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${overflow}px of horizontal overflow at ${label}`);
  }
  await screenshots(page, "me");
  // Keyboard: the skip link comes first and leads to the content.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await check();
  await context.close();
});

test("switching a purpose off takes effect at once, says what changes, and gives a verifiable receipt", async () => {
  const { page, context, check } = await openMe();
  const sw = '#purposes [data-purpose="ads_retargeting"]';
  assert.equal(await page.getAttribute(sw, "aria-checked"), "true");
  await page.click(sw);
  await page.waitForSelector(`${sw}[aria-checked="false"]`);
  assert.match(await page.textContent("#status"), /Now off: Show you our ads on other sites/);
  let consents = (await apiAna("GET", "/consents")).body;
  assert.equal(consents.purposes.ads_retargeting.status, "denied");
  // The receipt of that change is offered, and checks out against the shop's key.
  const block = page.locator("#purposes .purpose", { has: page.locator('[data-purpose="ads_retargeting"]') });
  assert.match(await block.textContent(), /Last decision: denied/);
  const [dl] = await Promise.all([page.waitForEvent("download"), block.getByRole("button", { name: "Download the receipt" }).click()]);
  const receipt = JSON.parse(readFileSync(await dl.path(), "utf8"));
  assert.equal(receipt.purpose, "ads_retargeting");
  assert.equal(receipt.status, "denied");
  await block.getByRole("button", { name: "Verify the receipt" }).click();
  await page.waitForFunction(() => /signature/.test(document.getElementById("status").textContent));
  assert.match(await page.textContent("#status"), /signature is valid/);
  // And back on.
  await page.click(sw);
  await page.waitForSelector(`${sw}[aria-checked="true"]`);
  consents = (await apiAna("GET", "/consents")).body;
  assert.equal(consents.purposes.ads_retargeting.status, "granted");
  await check();
  await context.close();
});

test("downloads the export as JSON and as a readable HTML copy", async () => {
  const { page, context, check } = await openMe();
  const [json] = await Promise.all([page.waitForEvent("download"), page.click("#download-json")]);
  assert.match(json.suggestedFilename(), /^my-data-\d{4}-\d{2}-\d{2}\.json$/);
  const doc = JSON.parse(readFileSync(await json.path(), "utf8"));
  assert.equal(doc.subject, ana);
  assert.ok(doc.events.length >= 5);
  assert.equal(doc.items.tent.title, "Trail Tent");
  const [html] = await Promise.all([page.waitForEvent("download"), page.click("#download-html")]);
  assert.match(html.suggestedFilename(), /\.html$/);
  const copy = readFileSync(await html.path(), "utf8");
  assert.match(copy, /<html lang="en">/);
  assert.ok(copy.includes("Trail Tent") && copy.includes("Browser Test Store"));
  assert.ok(!/<script/i.test(copy));
  await check();
  await context.close();
});

test("forgetting an event takes it out of the recommendation reason that cited it", async () => {
  const { page, context, check } = await openMe();
  // An item recommended because of her own events.
  const exp = (await apiAna("GET", "/export")).body;
  let item = null, cited = null;
  for (const it of exp.decisions.flatMap((d) => d.items)) {
    const why = (await apiAna("GET", `/why?item=${encodeURIComponent(it.item)}`)).body;
    const hit = (why.data_used || []).find((e) => (why.reason?.based_on || []).some((b) => b.item === e.item && b.ts === e.ts));
    if (hit) { item = it.item; cited = hit; break; }
  }
  assert.ok(item, "a recommendation whose reason cites her events");
  const li = `#why li[data-item="${item}"]`;
  await page.click(`${li} button`);
  await page.waitForSelector(`${li} .why-detail:not([hidden]) [data-event="${cited.event_id}"]`);
  await page.click(`${li} .why-detail [data-event="${cited.event_id}"] button`);
  await page.waitForFunction(() => /Forgotten/.test(document.getElementById("status").textContent));
  // The API no longer has it, and the reason no longer cites it.
  const after = (await apiAna("GET", `/why?item=${encodeURIComponent(item)}`)).body;
  assert.ok(!(after.data_used || []).some((e) => e.event_id === cited.event_id));
  assert.ok(!(after.reason?.based_on || []).some((b) => b.item === cited.item && b.ts === cited.ts));
  assert.equal((await apiAna("DELETE", `/events/${cited.event_id}`)).status, 404);
  // Nor does the page, asked again.
  assert.equal(await page.$(`#activity [data-event="${cited.event_id}"]`), null);
  await page.click(`${li} button`);
  await page.waitForSelector(`${li} .why-detail:not([hidden])`);
  assert.equal(await page.$(`${li} .why-detail [data-event="${cited.event_id}"]`), null);
  await check();
  await context.close();
});

test("\"don't use for recommendations\" stops an item driving her recommendations", async () => {
  const { page, context, check } = await openMe();
  const cited = async () => {
    const r = await ok(srv.api("POST", "/v1/recommendations", { key: srv.keys.admin, body: { subject: ana, count: 4 } }));
    return new Set(r.items.flatMap((it) => (it.reason.based_on || []).map((b) => b.item)));
  };
  const before = await cited();
  const item = ["stove", "lamp", "tent", "knife"].find((i) => before.has(i));
  assert.ok(item, `a reason cites one of her items: ${[...before]}`);
  const button = `#activity button[data-use="${item}"]`;
  await page.click(button);
  await page.waitForFunction(() => /no longer drives/.test(document.getElementById("status").textContent));
  assert.deepEqual((await apiAna("GET", "/preferences")).body.do_not_use_items, [item]);
  assert.ok(!(await cited()).has(item), "no reason cites it any more");
  // Still held, and marked so; the same button takes it back.
  assert.match(await page.textContent("#activity"), /not used for recommendations/);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.use), item);
  await page.click(button);
  await page.waitForFunction(() => /may drive/.test(document.getElementById("status").textContent));
  assert.equal((await apiAna("GET", "/preferences")).body.do_not_use_items, undefined);
  assert.ok((await cited()).has(item));
  await check();
  await context.close();
});

test("preferences are edited in place, by keyboard too", async () => {
  const { page, context, check } = await openMe();
  const reads = async () => (await apiAna("GET", "/access-log")).body.entries.length;
  const readsBefore = await reads();
  // Type a category to exclude and press Enter: the form submits it.
  await page.fill("#add-exclude_categories", "kitchen");
  await page.press("#add-exclude_categories", "Enter");
  await page.waitForFunction(() => /Saved/.test(document.getElementById("status").textContent));
  assert.deepEqual((await apiAna("GET", "/preferences")).body.exclude_categories, ["kitchen"]);
  await page.fill("#add-interests", "camping");
  await page.click('#preferences form:has(#add-interests) button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#preferences button[aria-label="Remove camping"]'));
  assert.deepEqual((await apiAna("GET", "/preferences")).body.interests, ["camping"]);
  // Removing, with the keyboard: focus the button, press Space.
  for (const what of ["kitchen", "camping"]) {
    await page.focus(`#preferences button[aria-label="Remove ${what}"]`);
    await page.keyboard.press("Space");
    await page.waitForFunction((w) => !document.querySelector(`#preferences button[aria-label="Remove ${w}"]`), what);
  }
  const prefs = (await apiAna("GET", "/preferences")).body;
  assert.deepEqual([prefs.interests, prefs.exclude_categories], [[], []]);
  // A purpose switch answers the keyboard as well.
  const sw = '#purposes [data-purpose="ads_retargeting"]';
  await page.focus(sw);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`${sw}[aria-checked="false"]`);
  assert.equal((await apiAna("GET", "/consents")).body.purposes.ads_retargeting.status, "denied");
  assert.equal(await page.evaluate(() => document.activeElement.dataset.purpose), "ads_retargeting");
  await page.keyboard.press("Enter");
  await page.waitForSelector(`${sw}[aria-checked="true"]`);
  assert.equal((await apiAna("GET", "/consents")).body.purposes.ads_retargeting.status, "granted");
  // Changing a choice reads none of her data: her access log did not grow.
  assert.equal(await reads(), readsBefore);
  await check();
  await context.close();
});

test("restricting processing is reflected by the API, and can be lifted", async () => {
  const { page, context, check } = await openMe();
  await page.click("#restrict-toggle");
  await page.waitForFunction(() => /restricted:/i.test(document.getElementById("restrict-state").textContent));
  assert.equal((await apiAna("GET", "")).body.restricted, true);
  assert.match(await page.textContent("#status"), /Restricted/);
  await page.click("#restrict-toggle");
  await page.waitForFunction(() => /not restricted/.test(document.getElementById("restrict-state").textContent));
  assert.equal((await apiAna("GET", "")).body.restricted, false);
  await check();
  await context.close();
});

test("speaks Spanish and Polish: ?lang= first, then the browser's language", async () => {
  for (const [lang, locale, heading, purpose] of [
    ["es", "en-US", "Qué guardamos", "Mostrarte nuestros anuncios en otros sitios"],
    ["pl", "en-US", "Co przechowujemy", "Pokazywanie naszych reklam na innych stronach"],
    [null, "pl-PL", "Co przechowujemy", "Pokazywanie naszych reklam na innych stronach"],
    [null, "es-ES", "Qué guardamos", "Mostrarte nuestros anuncios en otros sitios"],
  ]) {
    const { page, context, check } = await openMe({ lang, locale });
    const want = lang || locale.slice(0, 2);
    assert.equal(await page.getAttribute("html", "lang"), want);
    assert.equal(await page.textContent("#store-h"), heading);
    assert.ok((await page.textContent("#purposes")).includes(purpose));
    if (lang) {
      assert.deepEqual(await seriousViolations(page), [], `axe in ${lang}`);
      await screenshots(page, `me-${lang}`);
    }
    await check();
    await context.close();
  }
  // The language menu switches and keeps the token (in the fragment).
  const { page, context } = await openMe();
  await Promise.all([page.waitForNavigation(), page.selectOption("#lang", "pl")]);
  await page.waitForSelector("body[data-ready]");
  assert.equal(await page.getAttribute("html", "lang"), "pl");
  assert.equal(await page.getAttribute("body", "data-ready"), "true");
  await context.close();
});

test("a page without a token or with a wrong one says what to do", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${srv.base}/me`);
  await page.waitForFunction(() => /token=/.test(document.getElementById("app").textContent));
  await page.goto(`${srv.base}/me#token=mst_wrong&subject=${ana}`);
  await page.reload();
  await page.waitForSelector("body[data-ready]");
  assert.match(await page.textContent("#status"), /expired or was revoked/);
  await context.close();
});

test("erasing everything asks first, then shows what was erased with its receipt", async () => {
  const { page, context, check } = await openMe({ viewport: WIDTHS.phone });
  const events = (await apiAna("GET", "/export")).body.events.length;
  await page.click("#erase-start");
  assert.equal(await page.isDisabled("#erase-now"), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), "erase-understand");
  await page.check("#erase-understand");
  await page.click("#erase-now");
  await page.waitForSelector("#erased");
  assert.equal(await page.textContent('[data-removed="events"]'), String(events));
  assert.equal(await page.textContent('[data-removed="key"]'), "yes");
  assert.match(await page.textContent("#erased"), /Your data was erased/);
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download the receipt" }).click()]);
  const receipt = JSON.parse(readFileSync(await dl.path(), "utf8"));
  assert.equal(receipt.action, "erasure");
  assert.equal(receipt.removed.events, events);
  await page.getByRole("button", { name: "Verify the receipt" }).click();
  await page.waitForFunction(() => /signature/.test(document.getElementById("status").textContent));
  assert.match(await page.textContent("#status"), /signature is valid/);
  assert.deepEqual(await seriousViolations(page), []);
  await screenshots(page, "me-erased");
  // The data is gone, and the token with it.
  const r = await srv.api("GET", `/v1/subjects/${ana}`, { key: srv.keys.admin });
  assert.equal(r.status, 404);
  assert.equal((await apiAna("GET", "/export")).status, 401);
  await check();
  await context.close();
});
