/*
 * mesura.js — the browser SDK of mesura, for a brand's own pages.
 *
 *   const m = Mesura.init({endpoint: "https://mesura.shop.example", token, subject: "u42"});
 *   m.track("view", {item: "tent-2p"});
 *   m.widget(document.querySelector("#recs"), {placement: "home", n: 4});
 *
 * It asks the shopper for consent (a prompt built from the server's privacy
 * notice, or the brand's own banner calling m.consent.grant), sends an event
 * only once a purpose its type serves is granted, honours Global Privacy
 * Control, and shows recommendations with their reasons. It authenticates
 * with a browser token that the brand's backend mints for this one person
 * (POST /v1/subjects/{s}/tokens {"use":"browser"}, or /v1/visitors/{a}/tokens);
 * never with an API key, which acts for every shopper.
 *
 * No dependency, no build step, no cookie, no storage: state lives in the
 * page's memory and on the server. Every text from the server reaches the
 * page through textContent, never as markup.
 */
(function (root, make) {
  if (typeof module === "object" && module.exports) module.exports = make();
  else root.Mesura = make();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  var g = globalThis;

  var WORDS = {
    en: {
      title: "Your privacy choices on ", accept: "Accept all", reject: "Reject all", save: "Save my choices",
      saved: "Saved. You can change this at any time.", failed: "Could not save. Please try again.",
      gpc: "Your browser sends Global Privacy Control, so this stays off.",
      despite: "I want this despite Global Privacy Control",
      changed: "This notice has changed since your last choice. Please check your choices again.",
      mine: "Your data", notice: "Privacy notice", recs: "Recommended for you", why: "Why?", off: "Off", on: "On"
    },
    es: {
      title: "Tus opciones de privacidad en ", accept: "Aceptar todo", reject: "Rechazar todo",
      save: "Guardar mis opciones", saved: "Guardado. Puedes cambiarlo cuando quieras.",
      failed: "No se pudo guardar. Inténtalo de nuevo.",
      gpc: "Tu navegador envía Global Privacy Control, así que esto queda desactivado.",
      despite: "Lo quiero a pesar de Global Privacy Control",
      changed: "Este aviso ha cambiado desde tu última elección. Revisa tus opciones de nuevo.",
      mine: "Tus datos", notice: "Aviso de privacidad", recs: "Recomendado para ti", why: "¿Por qué?",
      off: "No", on: "Sí"
    },
    pl: {
      title: "Twoje wybory dotyczące prywatności w ", accept: "Akceptuj wszystko", reject: "Odrzuć wszystko",
      save: "Zapisz moje wybory", saved: "Zapisano. Możesz to zmienić w każdej chwili.",
      failed: "Nie udało się zapisać. Spróbuj ponownie.",
      gpc: "Twoja przeglądarka wysyła Global Privacy Control, więc to pozostaje wyłączone.",
      despite: "Chcę tego mimo Global Privacy Control",
      changed: "Ta informacja zmieniła się od Twojego ostatniego wyboru. Sprawdź ponownie swoje wybory.",
      mine: "Twoje dane", notice: "Informacja o prywatności", recs: "Polecane dla Ciebie", why: "Dlaczego?",
      off: "Nie", on: "Tak"
    }
  };

  // The default look: every colour and size is a custom property that the
  // brand's stylesheet overrides on .mesura-consent / .mesura-recs (or
  // :root); `css: false` leaves all styling to the brand. Adopted as a
  // constructed sheet, which a page's CSP without 'unsafe-inline' allows.
  var CSS =
    ".mesura-consent,.mesura-recs{--mesura-bg:#fff;--mesura-fg:#1a1a1a;--mesura-muted:#4a4a4a;" +
    "--mesura-accent:#1f5fbf;--mesura-accent-fg:#fff;--mesura-radius:8px;--mesura-font:inherit;" +
    "font:1rem/1.45 var(--mesura-font);color:var(--mesura-fg);background:var(--mesura-bg);box-sizing:border-box}" +
    ".mesura-consent{position:fixed;z-index:2147483000;left:1rem;right:1rem;bottom:1rem;max-width:36rem;" +
    "max-height:80vh;overflow:auto;margin:0 auto;padding:1rem 1.25rem;border-radius:var(--mesura-radius);" +
    "box-shadow:0 4px 24px rgba(0,0,0,.25)}" +
    ".mesura-consent h2{font-size:1.15rem;margin:0 0 .5rem}.mesura-consent p{margin:.25rem 0}" +
    ".mesura-consent ul{list-style:none;margin:.75rem 0;padding:0}" +
    ".mesura-consent li{padding:.5rem 0;border-top:1px solid rgba(0,0,0,.12)}" +
    ".mesura-consent label{display:flex;gap:.6rem;align-items:flex-start;font-weight:600}" +
    ".mesura-consent input{width:1.25rem;height:1.25rem;margin:.1rem 0 0;flex:none}" +
    ".mesura-consent small,.mesura-recs__reason{color:var(--mesura-muted);font-size:.9rem}" +
    ".mesura-consent details{margin:.25rem 0 0 1.85rem;font-size:.9rem}" +
    ".mesura-consent__actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0}" +
    ".mesura-consent button,.mesura-recs button{font:inherit;min-height:2.75rem;padding:.4rem 1rem;" +
    "border-radius:var(--mesura-radius);border:2px solid var(--mesura-accent);cursor:pointer;" +
    "background:var(--mesura-accent);color:var(--mesura-accent-fg)}" +
    ".mesura-consent button:focus-visible,.mesura-recs button:focus-visible,.mesura-consent a:focus-visible," +
    ".mesura-recs a:focus-visible{outline:3px solid var(--mesura-fg);outline-offset:2px}" +
    ".mesura-consent a,.mesura-recs a{color:var(--mesura-accent)}.mesura-link{display:inline-block;margin-top:.5rem}" +
    ".mesura-recs{padding:.5rem 0}.mesura-recs h2{font-size:1.1rem;margin:0 0 .5rem}" +
    ".mesura-recs ul{list-style:none;margin:0;padding:0;display:grid;gap:.5rem;" +
    "grid-template-columns:repeat(auto-fill,minmax(12rem,1fr))}" +
    ".mesura-recs li{padding:.6rem;border:1px solid rgba(0,0,0,.15);border-radius:var(--mesura-radius)}" +
    ".mesura-recs__title{display:block;font-weight:600;margin-bottom:.35rem}" +
    ".mesura-recs button{min-height:2.75rem;padding:.2rem .7rem;background:var(--mesura-bg);color:var(--mesura-accent)}" +
    ".mesura-recs__reason{margin:.35rem 0 0}.mesura-consent__changed{font-weight:600}" +
    ".mesura-consent .mesura-consent__despite-label{font-weight:400;margin:.35rem 0 0 1.85rem}" +
    ".mesura-live{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";

  var MAX_BATCH = 50; // a fetch with keepalive carries at most 64 KiB: a batch stays well below
  var MAX_HELD = 200; // events waiting for a decision; the oldest go first
  var uid = 0;

  function pick(lang) {
    lang = String(lang || "").toLowerCase().slice(0, 2);
    return WORDS[lang] ? lang : "en";
  }

  // A fresh id for each event, so that a batch sent twice (a retry after a
  // lost reply) is stored once: the server acknowledges a known event_id.
  function eventId() {
    if (g.crypto && g.crypto.randomUUID) return g.crypto.randomUUID();
    var b = new Uint8Array(16);
    g.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  function el(tag, cls, text) {
    var e = g.document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function init(opts) {
    opts = opts || {};
    var endpoint = String(opts.endpoint || "").replace(/\/+$/, "");
    var subject = opts.subject, anon = opts.anonymousId;
    if (!endpoint || !opts.token || !subject === !anon)
      throw new TypeError("Mesura.init needs endpoint, token and one of subject or anonymousId");
    var token = String(opts.token);
    var root = g.document && g.document.documentElement;
    var lang = pick(opts.lang || (root && root.lang) || (g.navigator && g.navigator.language));
    var W = WORDS[lang];
    var who = subject ? { subject: String(subject) } : { anonymous_id: String(anon) };
    var base = (subject ? "/v1/subjects/" : "/v1/visitors/") + encodeURIComponent(subject || anon);
    var nav = g.navigator || {};
    // Global Privacy Control, as the browser reports it to the page; the
    // browser also sends Sec-GPC on every request, which the server obeys.
    var gpc = nav.globalPrivacyControl === true;
    var flushMs = opts.flushMs != null ? opts.flushMs : 2000;

    var notice = null; // GET /v1/privacy-notice, as shown to the person
    var status = {}; // purpose -> "granted" | "denied"
    var decided = {}; // purpose -> true once the person chose (a receipt exists)
    var seen = {}; // purpose -> the notice version its latest receipt was recorded under
    var over = {}; // purpose -> true while its grant is one the person confirmed over GPC
    var byType = {}; // event type -> [purposes it serves]
    var held = []; // events whose purposes are not decided yet
    var outbox = []; // events allowed to go, not sent yet
    var timer = null, promptEl = null, listeners = [];
    var live = null; // the polite live region that says "Saved"; it outlives the prompt
    var back = null; // what had focus when the prompt opened: focus returns there
    var dash = null; // the widget's "your data" link, where focus goes when nothing had it

    function headers(json) {
      var h = { Authorization: "Bearer " + token, "Accept-Language": lang };
      if (json) h["Content-Type"] = "application/json";
      return h;
    }

    // Every call: the token in Authorization only (never in a URL), no
    // cookie, no Referer (the page's address is not mesura's business).
    function api(method, path, body, keepalive) {
      return g.fetch(endpoint + path, {
        method: method, headers: headers(body !== undefined), credentials: "omit", referrerPolicy: "no-referrer",
        keepalive: !!keepalive, body: body === undefined ? undefined : JSON.stringify(body)
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) {
            var e = new Error((j.error && j.error.message) || "HTTP " + r.status);
            e.status = r.status;
            e.code = j.error && j.error.code;
            throw e;
          }
          return j;
        });
      });
    }

    function honored(p) {
      var ps = (notice && notice.purposes) || [];
      for (var i = 0; i < ps.length; i++) if (ps[i].name === p) return ps[i].gpc === "honored";
      return false;
    }
    // A grant the person confirmed over GPC stands (the server keeps it too).
    function blocked(p) { return gpc && honored(p) && !over[p]; }
    function allowed(p) { return status[p] === "granted" && !blocked(p); }
    function refused(p) { return blocked(p) || (decided[p] && status[p] !== "granted"); }
    // Decided under another version of the notice than the one in force: the
    // decision stands (the server applies it) until the person is asked again.
    // A notice without a version cannot tell, and asks nobody again.
    function stale(p) { return !!(decided[p] && notice.policy_version && seen[p] !== notice.policy_version); }
    // The purposes the prompt must ask about now: never decided, or decided
    // under an older notice; not those that GPC refuses.
    function needed() {
      return asked().filter(function (p) { return (!decided[p] || stale(p)) && !blocked(p); });
    }

    // The purposes the prompt asks about: the brand's list, else the notice's.
    function asked() {
      var all = ((notice && notice.purposes) || []).map(function (p) { return p.name; });
      return opts.purposes ? all.filter(function (p) { return opts.purposes.indexOf(p) >= 0; }) : all;
    }

    /* ------------------------------------------------------------ events */

    // Moves each held event whose type serves a granted purpose to the
    // outbox (the server stores it under that purpose), drops those whose
    // every purpose was refused, and keeps the rest waiting.
    function pump() {
      if (!notice) return;
      held = held.filter(function (ev) {
        var ps = byType[ev.type] || [];
        if (ps.some(allowed)) { outbox.push(ev); return false; }
        return !ps.every(refused);
      });
      if (outbox.length >= MAX_BATCH) flush();
      else if (outbox.length && !timer) timer = g.setTimeout(flush, flushMs);
    }

    // Every batch goes with keepalive: the browser completes it even when the
    // page is left meanwhile. sendBeacon would too, but it cannot carry the
    // Authorization header, and a token must never ride in a URL.
    function flush() {
      if (timer) { g.clearTimeout(timer); timer = null; }
      var sent = [];
      while (outbox.length) {
        var batch = outbox.splice(0, MAX_BATCH);
        sent.push(api("POST", "/v1/events", { events: batch }, true).catch(function (batch, e) {
          // A lost reply, a busy server or an expired token (setToken brings
          // a new one): try again later; the event ids make a retry safe.
          // Any other refusal would be refused again.
          if (!e.status || e.status >= 500 || e.status === 429 || e.status === 401) Array.prototype.push.apply(outbox, batch);
        }.bind(null, batch)));
      }
      return Promise.all(sent).then(function () {});
    }

    function track(type, data) {
      data = data || {};
      type = String(type);
      if (notice && !byType[type]) return false; // not an event type of the policy: the server would refuse it
      var ev = { type: type, channel: data.channel || "web", ts: Date.now(), event_id: eventId() };
      for (var k in who) ev[k] = who[k];
      ["item", "properties", "context", "source", "query"].forEach(function (k) { if (data[k] != null) ev[k] = data[k]; });
      held.push(ev);
      if (held.length > MAX_HELD) held.shift();
      pump();
      return true;
    }

    // The page is going away or out of sight: what may be sent goes now.
    function onHide() { if (g.document.visibilityState === "hidden") flush(); }
    if (g.document && g.document.addEventListener) g.document.addEventListener("visibilitychange", onHide);
    if (g.addEventListener) g.addEventListener("pagehide", flush);

    /* ----------------------------------------------------------- consent */

    function changed() { listeners.forEach(function (f) { f(snapshot()); }); }
    function snapshot() {
      var o = {};
      asked().forEach(function (p) { o[p] = allowed(p) ? "granted" : "denied"; });
      return o;
    }

    // Records one decision, with the version of the notice the person was
    // shown: the signed receipt proves what they saw and chose (so it waits
    // for the notice). The local state changes only once the server has the
    // receipt.
    function decide(p, st, o) {
      o = o || {};
      var body = { status: st, source: o.source || "banner" };
      if (o.confirmOverGpc) body.confirm_over_gpc = true;
      return ready.then(function () {
        if (notice.policy_version) body.policy_version = notice.policy_version;
        return api("PUT", base + "/consents/" + encodeURIComponent(p), body);
      }).then(function (receipt) {
        status[p] = st;
        decided[p] = true;
        seen[p] = receipt.policy_version || body.policy_version;
        over[p] = st === "granted" && !!o.confirmOverGpc;
        pump();
        changed();
        return receipt;
      });
    }

    var ready = Promise.all([
      api("GET", "/v1/privacy-notice"),
      api("GET", base + "/consents")
    ]).then(function (r) {
      notice = r[0];
      (notice.purposes || []).forEach(function (p) {
        (p.data || []).forEach(function (d) { (byType[d.event_type] = byType[d.event_type] || []).push(p.name); });
      });
      var ps = r[1].purposes || {};
      for (var p in ps) status[p] = ps[p].status;
      // Oldest first: what remains is each purpose's latest receipt, the
      // decision that stands and the notice version it was made under.
      (r[1].history || []).forEach(function (h) {
        decided[h.purpose] = true;
        seen[h.purpose] = h.policy_version;
        over[h.purpose] = h.status === "granted" && h.over_gpc === true;
      });
      held = held.filter(function (ev) { return byType[ev.type]; });
      pump();
      changed();
      if (opts.prompt !== false && needed().length) show();
      return api_;
    });

    /* ------------------------------------------------------------ prompt */

    function link(parent) {
      var a;
      if (opts.dashboardToken && subject) {
        // The dashboard reads its token from the fragment, which a browser
        // never sends to a server; the query holds only the language.
        a = el("a", "mesura-link", W.mine);
        a.href = endpoint + "/me?lang=" + lang + "#token=" + encodeURIComponent(opts.dashboardToken) +
          "&subject=" + encodeURIComponent(subject);
      } else {
        a = el("a", "mesura-link", W.notice);
        a.href = endpoint + "/v1/privacy-notice";
      }
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      return parent.appendChild(a);
    }

    function styles() {
      if (opts.css === false || g.document.__mesuraCss) return;
      g.document.__mesuraCss = true;
      try {
        var sheet = new g.CSSStyleSheet();
        sheet.replaceSync(CSS);
        g.document.adoptedStyleSheets = g.document.adoptedStyleSheets.concat([sheet]);
      } catch (e) {
        g.document.head.appendChild(el("style", null, CSS));
      }
    }

    // The consent prompt: a labelled, non-modal region (the page stays
    // usable, focus is never trapped) with one switch per purpose, off until
    // the person turns it on. Purposes that GPC turns off are shown as off
    // with the reason; only a separate, explicit "I want this despite Global
    // Privacy Control" box grants one (recorded as confirmed over GPC), and
    // never "Accept all" alone. `focus`: the page asked for the prompt (a
    // "privacy choices" link): focus moves to its heading.
    function show(focus) {
      if (!notice) return ready.then(function () { return show(focus); });
      if (promptEl) return Promise.resolve();
      styles();
      var d = g.document;
      back = d.activeElement;
      // Present before anything is said in it, so that "Saved" is announced.
      if (!live) {
        live = el("p", "mesura-live");
        live.setAttribute("role", "status");
        live.setAttribute("lang", lang);
        d.body.appendChild(live);
      }
      live.textContent = "";
      var id = "mesura-consent-" + ++uid;
      var box = (promptEl = el("section", "mesura-consent"));
      box.setAttribute("role", "region");
      box.setAttribute("aria-labelledby", id);
      box.setAttribute("lang", lang);
      var h = el("h2", "mesura-consent__title", W.title + (notice.site || ""));
      h.id = id;
      h.tabIndex = -1;
      box.appendChild(h);
      if (needed().some(stale)) box.appendChild(el("p", "mesura-consent__changed", W.changed));
      if (notice.opt_in) box.appendChild(el("p", "mesura-consent__intro", notice.opt_in));
      var list = el("ul", "mesura-consent__purposes"), boxes = {}, despite = {};
      function check(cls, text, on) {
        var lab = el("label", cls ? cls + "-label" : null), sw = el("input", cls || "mesura-consent__switch");
        sw.type = "checkbox";
        sw.checked = on;
        lab.appendChild(sw);
        lab.appendChild(el("span", null, text));
        return lab;
      }
      notice.purposes.forEach(function (p) {
        if (asked().indexOf(p.name) < 0) return;
        var li = el("li", "mesura-consent__purpose"), lab = check(null, p.description || p.name, allowed(p.name));
        var sw = lab.firstChild;
        li.setAttribute("data-purpose", p.name);
        li.appendChild(lab);
        if (blocked(p.name)) {
          sw.disabled = true;
          li.className += " mesura-consent__purpose--gpc";
          li.appendChild(el("small", "mesura-consent__gpc", W.gpc));
          var o = check("mesura-consent__despite", W.despite, false);
          despite[p.name] = o.firstChild;
          li.appendChild(o);
        } else boxes[p.name] = sw;
        if (p.data && p.data.length) {
          var det = el("details"), ul = el("ul");
          det.appendChild(el("summary", null, (notice.headings && notice.headings.data) || ""));
          p.data.forEach(function (x) { ul.appendChild(el("li", null, x.text)); });
          det.appendChild(ul);
          li.appendChild(det);
        }
        list.appendChild(li);
      });
      box.appendChild(list);
      var row = el("div", "mesura-consent__actions"), msg = el("p", "mesura-consent__status");
      msg.setAttribute("role", "status");
      function button(cls, text, choose) {
        var b = el("button", "mesura-consent__" + cls, text);
        b.type = "button";
        b.addEventListener("click", function () {
          var decisions = Object.keys(boxes).map(function (p) {
            return decide(p, choose(boxes[p]) ? "granted" : "denied");
          });
          // A GPC purpose only when its own box says so, and never on "reject".
          if (cls !== "reject")
            Object.keys(despite).forEach(function (p) {
              if (despite[p].checked) decisions.push(decide(p, "granted", { confirmOverGpc: true }));
            });
          Promise.all(decisions).then(function () {
            hide(true);
            live.textContent = W.saved;
          }, function () { msg.textContent = W.failed; });
        });
        row.appendChild(b);
      }
      // Accepting and refusing are equally easy: same size, same place.
      button("accept", W.accept, function () { return true; });
      button("reject", W.reject, function () { return false; });
      button("save", W.save, function (sw) { return sw.checked; });
      box.appendChild(row);
      box.appendChild(msg);
      link(box);
      (opts.container || d.body).appendChild(box);
      if (focus === true) h.focus();
      return Promise.resolve();
    }

    // Closes the prompt. Focus, when it was inside (or nowhere, after a
    // choice: a click need not focus a button), goes back where it was before
    // the prompt opened, else to the widget's "your data" link: never lost to
    // the top of the page.
    function hide(chosen) {
      if (!promptEl) return;
      var d = g.document, inside = promptEl.contains(d.activeElement) || (chosen === true && d.activeElement === d.body);
      if (promptEl.parentNode) promptEl.parentNode.removeChild(promptEl);
      promptEl = null;
      if (!inside) return;
      var to = [back, dash].filter(function (e) { return e && e !== d.body && e.isConnected && e.focus; })[0];
      if (to) to.focus();
    }

    /* ------------------------------------------------------------ widget */

    // Recommendations for this person in el: each item's title (the brand's
    // `title` function, else the answer's, else its id) and a "why?"
    // button that reveals the reason the server gives, in the person's
    // language. Resolves to the answer.
    function widget(into, o) {
      o = o || {};
      styles();
      var body = { placement: o.placement || "default", channel: o.channel || "web", count: o.n || 4 };
      for (var k in who) body[k] = who[k];
      if (o.context) body.context = o.context;
      if (o.exclude) body.exclude = o.exclude;
      return api("POST", "/v1/recommendations", body).then(function (ans) {
        var sec = el("section", "mesura-recs"), id = "mesura-recs-" + ++uid;
        sec.setAttribute("aria-labelledby", id);
        sec.setAttribute("lang", lang);
        var h = el("h2", "mesura-recs__heading", o.heading || W.recs);
        h.id = id;
        sec.appendChild(h);
        var ul = el("ul", "mesura-recs__list");
        (ans.items || []).forEach(function (it) {
          var li = el("li", "mesura-recs__item"), title = (o.title && o.title(it.item)) || it.title || it.item;
          li.setAttribute("data-item", it.item);
          var t;
          if (o.href) {
            t = el("a", "mesura-recs__title", title);
            t.href = o.href(it.item);
            // A click on a recommendation, tied to the answer that showed it;
            // sent only under consent, like any event.
            t.addEventListener("click", function () {
              track("click", { item: it.item, context: { request_id: ans.request_id, placement: body.placement } });
              flush();
            });
          } else t = el("span", "mesura-recs__title", title);
          li.appendChild(t);
          var text = it.reason && it.reason.text;
          if (text) {
            var why = el("button", "mesura-recs__why", W.why), p = el("p", "mesura-recs__reason", text);
            why.type = "button";
            p.id = "mesura-why-" + ++uid;
            p.hidden = true;
            why.setAttribute("aria-expanded", "false");
            why.setAttribute("aria-controls", p.id);
            why.setAttribute("aria-label", W.why + " " + title);
            why.addEventListener("click", function () {
              p.hidden = !p.hidden;
              why.setAttribute("aria-expanded", String(!p.hidden));
            });
            li.appendChild(why);
            li.appendChild(p);
          }
          ul.appendChild(li);
        });
        sec.appendChild(ul);
        dash = link(sec);
        into.textContent = "";
        into.appendChild(sec);
        return ans;
      });
    }

    var api_ = {
      lang: lang,
      ready: ready,
      track: track,
      flush: flush,
      widget: widget,
      setToken: function (t) { token = String(t); },
      consent: {
        grant: function (p, o) { return decide(p, "granted", o); },
        deny: function (p, o) { return decide(p, "denied", o); },
        // "granted" only when events for it may be sent now.
        status: function (p) { return allowed(p) ? "granted" : "denied"; },
        gpc: function () { return gpc; },
        show: function () { return show(true); },
        hide: function () { hide(); },
        // The purposes to ask about now: undecided, or decided under an
        // older version of the notice (a brand's own banner asks about these).
        needed: function () { return notice ? needed() : []; },
        onChange: function (f) { listeners.push(f); }
      },
      pending: function () { return { held: held.length, outbox: outbox.length }; }
    };
    return api_;
  }

  return { init: init, version: "0.1.0" };
});
