// The SDK's promises, checked in Node against a fake browser (fake.mjs):
// no event leaves before a purpose its type serves is granted (and the
// server has the receipt), refused purposes drop what waited for them,
// Global Privacy Control keeps its purposes off and out of the prompt,
// events go in batches (the last with keepalive when the page hides), the
// widget writes server text as text only, and the token appears in no URL;
// a changed notice asks again, a choice returns focus and is announced, and
// a GPC purpose is granted in the prompt only through its own box.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { browser, NOTICE, tick } from "./fake.mjs";

const ENDPOINT = "https://mesura.test";
const TOKEN = "mst_secret-browser-token";

function start(b, extra = {}) {
  return b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", prompt: false, flushMs: 60000, ...extra });
}

const types = (calls) => calls.flatMap((c) => c.body.events.map((e) => e.type));

test("no event is sent before a purpose its type serves is granted; then only those", async () => {
  const b = browser();
  const m = start(b);
  assert.equal(m.track("view", { item: "tent" }), true); // before the notice is known: held
  await m.ready;
  m.track("ad_click", { item: "tent" });
  m.track("purchase", { item: "stove" });
  await m.flush();
  assert.deepEqual(b.events(), [], "nothing may be sent before consent");
  assert.deepEqual(m.pending(), { held: 3, outbox: 0 });

  await m.consent.grant("personalization");
  await m.flush();
  // view and purchase serve personalization; ad_click serves only ads.
  assert.deepEqual(types(b.events()).sort(), ["purchase", "view"]);
  for (const e of b.server.events) {
    assert.equal(e.subject, "ana");
    assert.equal(e.channel, "web");
    assert.match(e.event_id, /^[0-9a-f-]{32,36}$/);
  }
  assert.deepEqual(m.pending(), { held: 1, outbox: 0 });

  // Refusing the last purpose of a held event drops it: it is never sent.
  await m.consent.deny("ads_retargeting");
  assert.deepEqual(m.pending(), { held: 0, outbox: 0 });
  m.track("ad_click", { item: "lamp" });
  await m.flush();
  assert.deepEqual(types(b.events()).sort(), ["purchase", "view"]);
  assert.equal(m.pending().held, 0, "an event whose every purpose is refused is dropped at once");

  // Withdrawing stops sending at once.
  await m.consent.deny("personalization");
  m.track("view", { item: "pot" });
  await m.flush();
  assert.equal(b.events().length, 1);
});

test("an event waits for the server's receipt, not for the click", async () => {
  const b = browser();
  const m = start(b);
  await m.ready;
  let release;
  b.server.hold = new Promise((r) => (release = r));
  m.track("view", { item: "tent" });
  const granting = m.consent.grant("personalization");
  await tick();
  await m.flush();
  assert.deepEqual(b.events(), [], "sent before the consent was recorded");
  assert.equal(m.consent.status("personalization"), "denied");
  release();
  await granting;
  await m.flush();
  assert.deepEqual(types(b.events()), ["view"]);
});

test("consent is recorded with the version of the notice shown, for subjects and for visitors", async () => {
  for (const [who, path, key] of [[{ subject: "ana" }, "/v1/subjects/ana", "subject"],
                                   [{ anonymousId: "c-9f1" }, "/v1/visitors/c-9f1", "anonymous_id"]]) {
    const b = browser();
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, prompt: false, ...who });
    // A brand's own banner may answer before the notice has arrived: the
    // decision still names the notice's version.
    const receipt = await m.consent.grant("personalization");
    const put = b.calls.find((c) => c.method === "PUT");
    assert.equal(put.path, path + "/consents/personalization");
    assert.deepEqual(put.body, { status: "granted", source: "banner", policy_version: NOTICE.policy_version });
    assert.equal(receipt.policy_version, NOTICE.policy_version);
    m.track("view", { item: "tent" });
    await m.flush();
    const ev = b.server.events[0];
    assert.equal(ev[key], who.subject || who.anonymousId);
    assert.equal(Object.keys(ev).filter((k) => k === "subject" || k === "anonymous_id").length, 1);
  }
});

test("a returning person's grants apply without a prompt; unknown event types are not sent", async () => {
  const b = browser({ granted: { personalization: true, ads_retargeting: true } });
  const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m.ready;
  assert.equal(b.doc.body.byClass("mesura-consent").length, 0, "every purpose was decided: no prompt");
  assert.equal(m.track("teleport", { item: "x" }), false);
  m.track("view", { item: "tent" });
  m.track("ad_click", { item: "tent" });
  await m.flush();
  assert.deepEqual(types(b.events()).sort(), ["ad_click", "view"]);
});

test("GPC: purposes that honour it stay off, are not offered, and their events are never sent", async () => {
  const b = browser({ gpc: true, granted: { ads_retargeting: true } });
  const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", flushMs: 60000 });
  await m.ready;
  assert.equal(m.consent.gpc(), true);
  assert.equal(m.consent.status("ads_retargeting"), "denied", "an earlier grant yields to GPC");
  m.track("ad_click", { item: "tent" });
  await m.flush();
  assert.deepEqual(b.events(), []);
  assert.equal(m.pending().held, 0, "dropped: GPC refuses its only purpose");

  // The prompt shows the purpose as off, says why, and offers no switch.
  const [box] = b.doc.body.byClass("mesura-consent");
  assert.ok(box, "personalization is undecided: the prompt shows");
  const ads = box.all((e) => e.getAttribute("data-purpose") === "ads_retargeting")[0];
  const sw = ads.byClass("mesura-consent__switch")[0];
  assert.equal(sw.disabled, true);
  assert.equal(sw.checked, false);
  assert.match(ads.textContent, /Global Privacy Control/);
  // "Accept all" grants what is offered, and nothing GPC refused.
  box.byClass("mesura-consent__accept")[0].click();
  await tick(); await tick(); await tick();
  const puts = b.calls.filter((c) => c.method === "PUT").map((c) => c.path);
  assert.deepEqual(puts, ["/v1/subjects/ana/consents/personalization"]);
  m.track("purchase", { item: "stove" }); // serves personalization too: it may go, under personalization
  m.track("ad_click", { item: "tent" });
  await m.flush();
  assert.deepEqual(types(b.events()), ["purchase"]);

  // Over GPC only when the person confirms on the page, and then it is said so.
  await m.consent.grant("ads_retargeting", { confirmOverGpc: true });
  const put = b.calls.filter((c) => c.method === "PUT").at(-1);
  assert.equal(put.body.confirm_over_gpc, true);
  m.track("ad_click", { item: "tent" });
  await m.flush();
  assert.deepEqual(types(b.events()), ["purchase", "ad_click"]);
});

test("without GPC the same purposes are offered and sent normally", async () => {
  const b = browser({ gpc: false });
  const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m.ready;
  const [box] = b.doc.body.byClass("mesura-consent");
  const sw = box.all((e) => e.getAttribute("data-purpose") === "ads_retargeting")[0].byClass("mesura-consent__switch")[0];
  assert.notEqual(sw.disabled, true);
  sw.checked = true;
  box.byClass("mesura-consent__save")[0].click();
  await tick(); await tick(); await tick();
  const puts = b.calls.filter((c) => c.method === "PUT").map((c) => [c.path.split("/").pop(), c.body.status]);
  assert.deepEqual(puts.sort(), [["ads_retargeting", "granted"], ["personalization", "denied"]]);
  assert.equal(b.doc.body.byClass("mesura-consent").length, 0, "the prompt goes once saved");
  m.track("ad_click", { item: "tent" });
  m.track("view", { item: "tent" });
  await m.flush();
  assert.deepEqual(types(b.events()), ["ad_click"]);
});

test("events go in batches; what is left goes with keepalive when the page hides", async () => {
  const b = browser({ granted: { personalization: true } });
  const m = start(b);
  await m.ready;
  for (let i = 0; i < 120; i++) m.track("view", { item: "i" + i });
  await tick();
  assert.deepEqual(b.events().map((c) => c.body.events.length), [50, 50], "full batches go at once");
  b.hide();
  await tick();
  assert.deepEqual(b.events().map((c) => c.body.events.length), [50, 50, 20], "a hidden page sends what is left");
  m.track("view", { item: "last" });
  b.pagehide();
  await tick();
  assert.equal(b.events().length, 4, "a page left sends what is left");
  // Each batch must outlive the page if it is left while it is on its way.
  assert.ok(b.events().every((c) => c.keepalive));
  const ids = b.server.events.map((e) => e.event_id);
  assert.equal(new Set(ids).size, 121);
  for (const c of b.events()) {
    assert.equal(c.headers.Authorization, "Bearer " + TOKEN);
    assert.equal(c.headers["Content-Type"], "application/json");
    assert.equal(c.credentials, "omit");
  }
});

test("a batch the server could not take is sent again with the same event ids; a refused one is not", async () => {
  for (const [status, retried] of [[503, true], [429, true], [401, true], [400, false], [403, false]]) {
    const b = browser({ granted: { personalization: true } });
    const m = start(b);
    await m.ready;
    b.server.failEvents = 1;
    b.server.failStatus = status;
    m.track("view", { item: "tent" });
    await m.flush();
    assert.equal(b.server.events.length, 0);
    assert.equal(m.pending().outbox, retried ? 1 : 0, String(status));
    if (status === 401) m.setToken("mst_fresh");
    await m.flush();
    assert.equal(b.events().length, retried ? 2 : 1, String(status));
    if (!retried) continue;
    assert.deepEqual(b.events()[0].body, b.events()[1].body);
    assert.equal(b.server.events.length, 1);
    if (status === 401) assert.equal(b.events()[1].headers.Authorization, "Bearer mst_fresh");
  }
});

test("the widget writes every text as text, and 'why?' reveals the reason", async () => {
  const evil = '<img src=x onerror="alert(1)">';
  const b = browser({
    recs: [
      { item: evil, score: 0.9, disclosure: "explicit", reason: { code: "popular", text: "<b>Popular</b> " + evil } },
      { item: "stove", score: 0.5, disclosure: "explicit", reason: { code: "because_you_viewed", text: "Because you viewed Tent" } },
    ],
  });
  const m = start(b);
  const into = b.doc.createElement("div");
  const ans = await m.widget(into, { placement: "home", n: 2, title: (id) => (id === "stove" ? "Camp Stove" : null) });
  assert.equal(ans.request_id, "r_1");
  const req = b.calls.find((c) => c.path === "/v1/recommendations");
  assert.deepEqual(req.body, { placement: "home", channel: "web", count: 2, subject: "ana" });
  assert.deepEqual(into.all((e) => ["IMG", "B", "SCRIPT"].includes(e.tagName)), [], "markup from the server became elements");
  const items = into.byClass("mesura-recs__item");
  assert.equal(items.length, 2);
  assert.equal(items[0].byClass("mesura-recs__title")[0].textContent, evil, "no title: the id, as text");
  assert.equal(items[1].byClass("mesura-recs__title")[0].textContent, "Camp Stove");
  for (const [li, text] of [[items[0], "<b>Popular</b> " + evil], [items[1], "Because you viewed Tent"]]) {
    const why = li.byClass("mesura-recs__why")[0];
    const reason = li.byClass("mesura-recs__reason")[0];
    assert.equal(reason.textContent, text);
    assert.equal(reason.hidden, true);
    assert.equal(why.getAttribute("aria-controls"), reason.id);
    why.click();
    assert.equal(reason.hidden, false);
    assert.equal(why.getAttribute("aria-expanded"), "true");
    why.click();
    assert.equal(reason.hidden, true);
  }
  const src = readFileSync(new URL("../mesura.js", import.meta.url), "utf8");
  assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
});

test("a click on a recommendation is an event tied to its answer, and waits for consent like any other", async () => {
  const b = browser({ recs: [{ item: "stove", score: 0.5, disclosure: "explicit", reason: { code: "popular", text: "Popular" } }] });
  const m = start(b);
  await m.ready;
  const into = b.doc.createElement("div");
  await m.widget(into, { placement: "product", href: (id) => "/p/" + encodeURIComponent(id) });
  const [a] = into.all((e) => e.tagName === "A" && e.className === "mesura-recs__title");
  assert.equal(a.href, "/p/stove");
  a.click();
  await tick();
  assert.deepEqual(b.events(), [], "a click went out before consent");
  await m.consent.grant("personalization");
  await m.flush();
  const [ev] = b.server.events;
  assert.equal(ev.type, "click");
  assert.equal(ev.item, "stove");
  assert.deepEqual(ev.context, { request_id: "r_1", placement: "product" });
});

test("the link goes to the dashboard with its token in the fragment, else to the notice; no token in any URL", async () => {
  const b = browser();
  const m = b.Mesura.init({ endpoint: ENDPOINT + "/", token: TOKEN, subject: "ana b", dashboardToken: "mst_dash" });
  await m.ready;
  const [a] = b.doc.body.byClass("mesura-link");
  assert.equal(a.href, ENDPOINT + "/me?lang=en#token=mst_dash&subject=ana%20b");
  assert.equal(a.rel, "noopener noreferrer");

  const b2 = browser();
  const m2 = b2.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m2.ready;
  assert.equal(b2.doc.body.byClass("mesura-link")[0].href, ENDPOINT + "/v1/privacy-notice");
  await m2.widget(b2.doc.createElement("div"), {});
  for (const c of [...b.calls, ...b2.calls]) {
    assert.ok(!c.url.includes(TOKEN) && !c.url.includes("mst_"), c.url);
    assert.ok(c.url.startsWith(ENDPOINT + "/v1/"), c.url);
  }
});

test("the prompt speaks the shopper's language and is a labelled region of buttons", async () => {
  for (const [lang, accept, reject] of [["es", "Aceptar todo", "Rechazar todo"], ["pl", "Akceptuj wszystko", "Odrzuć wszystko"],
                                         ["en", "Accept all", "Reject all"]]) {
    const b = browser({ language: lang === "en" ? "fr-FR" : lang + "-XX" });
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
    await m.ready;
    assert.ok(b.calls.every((c) => c.headers["Accept-Language"] === lang), lang);
    const [box] = b.doc.body.byClass("mesura-consent");
    assert.equal(box.getAttribute("role"), "region");
    const title = box.all((e) => e.id === box.getAttribute("aria-labelledby"));
    assert.equal(title.length, 1);
    assert.equal(title[0].tagName, "H2");
    assert.equal(box.getAttribute("lang"), lang);
    const buttons = box.all((e) => e.tagName === "BUTTON");
    assert.deepEqual(buttons.map((x) => x.type), ["button", "button", "button"]);
    assert.equal(buttons[0].textContent, accept);
    assert.equal(buttons[1].textContent, reject);
    // The purposes' own words come from the notice, as shown.
    assert.match(box.textContent, /Suggest products/);
    assert.match(box.textContent, /Products you view\. Kept for 180 days\./);
    buttons[1].click(); // reject all: a denial recorded for each, the prompt goes
    await tick(); await tick(); await tick();
    const puts = b.calls.filter((c) => c.method === "PUT");
    assert.deepEqual(puts.map((c) => c.body.status), ["denied", "denied"]);
    assert.equal(b.doc.body.byClass("mesura-consent").length, 0);
  }
});

test("the page's own language comes before the browser's, and the brand's choice before both", async () => {
  for (const [page, given, want] of [["pl", undefined, "pl"], ["es-MX", "en", "en"], ["de", undefined, "en"]]) {
    const b = browser({ language: "es-ES" });
    b.doc.documentElement = { lang: page };
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", lang: given });
    await m.ready;
    assert.ok(b.calls.every((c) => c.headers["Accept-Language"] === want), `${page} ${given}`);
    assert.equal(b.doc.body.byClass("mesura-consent")[0].getAttribute("lang"), want);
  }
});

test("init refuses to start without its endpoint, token and exactly one person", () => {
  const b = browser();
  for (const o of [{}, { endpoint: ENDPOINT, subject: "a" }, { endpoint: ENDPOINT, token: TOKEN },
                   { endpoint: ENDPOINT, token: TOKEN, subject: "a", anonymousId: "b" }])
    assert.throws(() => b.Mesura.init(o), TypeError);
});

const settle = async () => { for (let i = 0; i < 6; i++) await tick(); };
const prompts = (b) => b.doc.body.byClass("mesura-consent");

test("the prompt asks again when the notice changed since the decisions that stand, and not when nothing changed", async () => {
  for (const who of [{ subject: "ana" }, { anonymousId: "c-9f1" }]) {
    // Decided under the notice in force: nothing to ask.
    const same = browser({ granted: { personalization: true, ads_retargeting: true } });
    const m0 = same.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, ...who });
    await m0.ready;
    assert.equal(prompts(same).length, 0, "asked again though the notice did not change");
    assert.deepEqual(m0.consent.needed(), []);

    // Decided under an older notice: asked again, and told why.
    const b = browser({ granted: { personalization: true, ads_retargeting: true }, version: "2026-06" });
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, flushMs: 60000, ...who });
    await m.ready;
    const [box] = prompts(b);
    assert.ok(box, "the notice changed: the prompt must show again");
    assert.deepEqual(m.consent.needed(), ["personalization", "ads_retargeting"]);
    assert.equal(box.byClass("mesura-consent__changed")[0].textContent,
                 "This notice has changed since your last choice. Please check your choices again.");
    // Until the person answers, their decisions stand (the server applies them too).
    assert.equal(m.consent.status("personalization"), "granted");
    m.track("view", { item: "tent" });
    await m.flush();
    assert.equal(b.events().length, 1);
    box.byClass("mesura-consent__reject")[0].click();
    await settle();
    const puts = b.calls.filter((c) => c.method === "PUT");
    assert.deepEqual(puts.map((c) => [c.body.status, c.body.policy_version]),
                     [["denied", NOTICE.policy_version], ["denied", NOTICE.policy_version]]);
    assert.equal(prompts(b).length, 0);
    assert.deepEqual(m.consent.needed(), []);

    // The next page of the same person: decided under this notice, not asked.
    const again = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, ...who });
    await again.ready;
    assert.equal(prompts(b).length, 0, "asked again right after answering");
  }

  // One purpose decided under the older notice, the other never: both are
  // asked, the standing choice shown as it is.
  const one = browser({ granted: { personalization: true }, version: "2026-06" });
  const m1 = one.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m1.ready;
  assert.deepEqual(m1.consent.needed(), ["personalization", "ads_retargeting"]);
  assert.equal(prompts(one)[0].byClass("mesura-consent__changed").length, 1);
  const sw = (b, p) => prompts(b)[0].all((e) => e.getAttribute("data-purpose") === p)[0].byClass("mesura-consent__switch")[0];
  assert.equal(sw(one, "personalization").checked, true);

  // A never-decided purpose is asked without saying the notice changed.
  const fresh = browser();
  const m2 = fresh.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m2.ready;
  assert.equal(prompts(fresh).length, 1);
  assert.equal(prompts(fresh)[0].byClass("mesura-consent__changed").length, 0);

  // A notice without a version cannot tell what changed: decided stays decided.
  const unversioned = browser({ granted: { personalization: true, ads_retargeting: true }, version: "2026-06",
                                notice: { ...NOTICE, policy_version: "" } });
  const m3 = unversioned.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m3.ready;
  assert.equal(prompts(unversioned).length, 0);

  // Under GPC, a purpose it refuses is not asked again either.
  const gpc = browser({ gpc: true, granted: { personalization: true, ads_retargeting: true }, version: "2026-06" });
  const m4 = gpc.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m4.ready;
  assert.deepEqual(m4.consent.needed(), ["personalization"]);
});

test("after a choice, focus returns where it was (else the widget's 'your data' link) and 'Saved' is announced", async () => {
  for (const kind of ["accept", "reject", "save"]) {
    // The prompt opened by itself at load, nothing focused: focus goes to
    // the widget's link, not to the top of the page.
    const b = browser({ recs: [{ item: "stove", score: 1, disclosure: "explicit", reason: { code: "popular", text: "Popular" } }] });
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", dashboardToken: "mst_dash" });
    const recs = b.doc.body.appendChild(b.doc.createElement("div"));
    await m.widget(recs, {});
    await m.ready;
    const [live] = b.doc.body.byClass("mesura-live");
    assert.equal(live.getAttribute("role"), "status", "the live region exists before anything is said in it");
    assert.equal(live.textContent, "");
    prompts(b)[0].byClass("mesura-consent__" + kind)[0].click();
    await settle();
    assert.equal(prompts(b).length, 0, kind);
    assert.equal(b.doc.activeElement, recs.byClass("mesura-link")[0], kind + ": focus went nowhere useful");
    assert.ok(live.isConnected, "the live region outlives the prompt");
    assert.equal(live.textContent, "Saved. You can change this at any time.");

    // Opened from the page's own "privacy choices" button: focus moves to the
    // prompt's heading, and back to the button after the choice.
    const mine = b.doc.body.appendChild(b.doc.createElement("button"));
    mine.focus();
    await m.consent.show();
    const [box] = prompts(b);
    assert.equal(b.doc.activeElement, box.byClass("mesura-consent__title")[0]);
    assert.equal(live.textContent, "", "an old 'Saved' is not left for the next choice");
    box.byClass("mesura-consent__" + kind)[0].click();
    await settle();
    assert.equal(b.doc.activeElement, mine, kind);
    assert.equal(live.textContent, "Saved. You can change this at any time.");
    assert.equal(b.doc.body.byClass("mesura-live").length, 1, "one live region per page");
  }

  // The page closing the prompt itself moves no one's focus.
  {
    const b = browser({ recs: [{ item: "stove", score: 1, disclosure: "explicit", reason: { code: "popular", text: "Popular" } }] });
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", dashboardToken: "mst_dash" });
    await m.widget(b.doc.body.appendChild(b.doc.createElement("div")), {});
    await m.ready;
    m.consent.hide();
    assert.equal(prompts(b).length, 0);
    assert.equal(b.doc.activeElement, b.doc.body);
  }

  // A choice the server did not take: the prompt stays, says so, and keeps focus.
  const b = browser();
  const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m.ready;
  b.server.failConsents = 2;
  const accept = prompts(b)[0].byClass("mesura-consent__accept")[0];
  accept.click();
  await settle();
  assert.equal(prompts(b).length, 1);
  assert.equal(prompts(b)[0].byClass("mesura-consent__status")[0].textContent, "Could not save. Please try again.");
  assert.equal(b.doc.activeElement, accept);
  assert.equal(b.doc.body.byClass("mesura-live")[0].textContent, "");
});

test("in the prompt, a purpose GPC refuses is granted only through its own 'despite GPC' box, never by 'Accept all' alone", async () => {
  const despite = (b) => prompts(b)[0].all((e) => e.getAttribute("data-purpose") === "ads_retargeting")[0]
    .byClass("mesura-consent__despite")[0];
  const grants = (b) => b.calls.filter((c) => c.method === "PUT" && c.body.status === "granted")
    .map((c) => [c.path.split("/").pop(), !!c.body.confirm_over_gpc]);
  for (const [kind, tick_, want] of [
    ["accept", false, [["personalization", false]]],
    ["accept", true, [["personalization", false], ["ads_retargeting", true]]],
    ["save", true, [["ads_retargeting", true]]],
    ["reject", true, []],
  ]) {
    const b = browser({ gpc: true });
    const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana", flushMs: 60000 });
    await m.ready;
    const box = despite(b);
    assert.equal(box.type, "checkbox");
    assert.equal(box.checked, false, "never ticked for the person");
    assert.equal(box.parentNode.tagName, "LABEL");
    assert.equal(box.parentNode.textContent, "I want this despite Global Privacy Control");
    if (tick_) box.checked = true;
    prompts(b)[0].byClass("mesura-consent__" + kind)[0].click();
    await settle();
    assert.deepEqual(grants(b), want, `${kind} ${tick_}`);
    m.track("ad_click", { item: "tent" });
    await m.flush();
    const over = want.some(([p]) => p === "ads_retargeting");
    assert.equal(b.events().length, over ? 1 : 0, `${kind} ${tick_}: ad events`);
    assert.equal(m.consent.status("ads_retargeting"), over ? "granted" : "denied");
  }
  // Without GPC nothing needs overriding: no such box.
  const b = browser();
  const m = b.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" });
  await m.ready;
  assert.equal(prompts(b)[0].byClass("mesura-consent__despite").length, 0);
  // Its words in each language of the prompt.
  for (const [lang, text] of [["es", "Lo quiero a pesar de Global Privacy Control"], ["pl", "Chcę tego mimo Global Privacy Control"]]) {
    const bl = browser({ gpc: true, language: lang });
    await bl.Mesura.init({ endpoint: ENDPOINT, token: TOKEN, subject: "ana" }).ready;
    assert.equal(despite(bl).parentNode.textContent, text);
  }
});
