// The example shop page (/sdk/example.html): mesura.js at work on a page of
// this server, as a newcomer first sees it (`mesura demo` prints the link).
//
// Opened as /sdk/example.html#token=T&subject=S (or &visitor=A), with an
// optional &dashboard=D for the "your data" link. The fragment never
// leaves the browser; the SDK sends the token as its Authorization header
// only. The page speaks the language the SDK chooses (?lang=, else the
// browser's) and writes every text with textContent. `window.mesura` is
// the SDK's handle, to try in the browser's console.
"use strict";
(() => {
  const WORDS = {
    en: {
      title: "Example shop",
      intro: "This page runs mesura.js, the browser SDK, as a shop would: it asks for your consent, sends what you do only once you allow it, and shows recommendations with their reasons. Open a recommendation to send a click.",
      viewing: "You are looking at {item}", similar: "Similar items",
      sdk: "What mesura.js is doing", allowed: "allowed", refused: "not allowed",
      queue: "Events waiting for your choice: {held}. Stored by the server: {stored}.",
      choices: "Privacy choices",
      no_token: "This page needs a link with a browser token (/sdk/example.html#token=…&subject=…): `mesura demo` prints one.",
      failed: "Could not reach mesura: {message}",
    },
    es: {
      title: "Tienda de ejemplo",
      intro: "Esta página usa mesura.js, el SDK del navegador, como lo haría una tienda: pide tu consentimiento, envía lo que haces solo cuando lo permites y muestra recomendaciones con sus motivos. Abre una recomendación para enviar un clic.",
      viewing: "Estás viendo {item}", similar: "Productos parecidos",
      sdk: "Qué está haciendo mesura.js", allowed: "permitido", refused: "no permitido",
      queue: "Eventos esperando tu decisión: {held}. Guardados por el servidor: {stored}.",
      choices: "Opciones de privacidad",
      no_token: "Esta página necesita un enlace con un token del navegador (/sdk/example.html#token=…&subject=…): `mesura demo` imprime uno.",
      failed: "No se pudo contactar con mesura: {message}",
    },
    pl: {
      title: "Przykładowy sklep",
      intro: "Ta strona używa mesura.js, SDK przeglądarki, tak jak sklep: pyta o zgodę, wysyła to, co robisz, dopiero gdy na to pozwolisz, i pokazuje rekomendacje z ich powodami. Otwórz rekomendację, aby wysłać kliknięcie.",
      viewing: "Oglądasz {item}", similar: "Podobne produkty",
      sdk: "Co robi mesura.js", allowed: "dozwolone", refused: "niedozwolone",
      queue: "Zdarzenia czekające na Twój wybór: {held}. Zapisane przez serwer: {stored}.",
      choices: "Wybory dotyczące prywatności",
      no_token: "Ta strona potrzebuje linku z tokenem przeglądarki (/sdk/example.html#token=…&subject=…): `mesura demo` go wypisuje.",
      failed: "Nie udało się połączyć z mesura: {message}",
    },
  };
  const $ = (id) => document.getElementById(id);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const asked = new URLSearchParams(location.search).get("lang") || undefined;
  let W = WORDS.en;
  const say = (key, vars) => {
    let s = W[key];
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  };
  const fail = (e) => { $("status").textContent = say("failed", { message: e.message }); };

  // What the server stored, from its replies to the SDK's batches: this
  // page watches its own requests to show them (a shop has no need to).
  let stored = 0, m;
  const fetch0 = globalThis.fetch;
  globalThis.fetch = (url, init) => fetch0(url, init).then((r) => {
    if (m && r.ok && String(url).endsWith("/v1/events"))
      r.clone().json().then((j) => { stored += j.stored || 0; render(); }, () => {});
    return r;
  });
  try {
    m = Mesura.init({
      endpoint: location.origin, token: fragment.get("token"), lang: asked,
      subject: fragment.get("subject") || undefined, anonymousId: fragment.get("visitor") || undefined,
      dashboardToken: fragment.get("dashboard") || undefined,
      flushMs: 60000, // this page sends at once, after each action, to show it
    });
  } catch (e) {
    const lang = String(asked || navigator.language || "en").slice(0, 2);
    W = WORDS[lang] || WORDS.en;
    document.documentElement.lang = WORDS[lang] ? lang : "en";
    $("title").textContent = W.title;
    $("status").textContent = W.no_token;
    return;
  }
  globalThis.mesura = m;
  W = WORDS[m.lang];
  document.documentElement.lang = m.lang;
  document.title = W.title + " — mesura.js";
  $("title").textContent = W.title;
  $("intro").textContent = W.intro;
  $("sdk-h").textContent = W.sdk;
  $("choices").textContent = W.choices;
  $("choices").addEventListener("click", () => m.consent.show());

  let states = {};
  function render() {
    const list = $("purposes");
    list.textContent = "";
    for (const [purpose, st] of Object.entries(states)) {
      const li = document.createElement("li");
      const b = document.createElement("b");
      b.textContent = purpose;
      li.append(b, ": " + (st === "granted" ? W.allowed : W.refused));
      li.dataset.purpose = purpose;
      list.append(li);
    }
    $("queue").textContent = say("queue", { held: m.pending().held, stored });
  }
  const send = () => m.flush().then(render);
  m.consent.onChange((s) => { states = s; send(); });

  // A real shop passes `title` (its catalog's names); here the answer's
  // titles, else the ids.
  const href = (id) => "?item=" + encodeURIComponent(id) + location.hash;
  // Opening a recommendation: the SDK has already queued its click (tied to
  // the answer that showed it); the page shows the item, a view of it, and
  // what is similar, without leaving.
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a.mesura-recs__title");
    if (!a) return;
    ev.preventDefault();
    const item = a.closest("[data-item]").dataset.item;
    m.track("view", { item });
    $("viewing").hidden = false;
    $("viewing-h").textContent = say("viewing", { item });
    m.widget($("similar"), { placement: "product", n: 4, context: { item }, heading: W.similar, href })
      .catch(fail);
    send();
  });

  m.ready.then(() => {
    $("sdk").hidden = false;
    render();
    return m.widget($("recs"), { placement: "home", n: 4, href });
  }).catch(fail);
})();
