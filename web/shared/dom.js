// What every page of the site does the same way: choosing the language,
// looking up its words, and building elements without writing HTML from
// data (every text goes in as textContent, so a title or a reason from the
// server cannot inject markup). Loaded before each page's own script.
"use strict";
globalThis.MesuraDom = (() => {
  // ?lang= first, then the browser's languages, then the first of langs.
  function pickLang(langs) {
    const asked = new URLSearchParams(location.search).get("lang");
    if (langs.includes(asked)) return asked;
    for (const l of navigator.languages || [navigator.language || ""]) {
      const base = String(l).toLowerCase().split("-")[0];
      if (langs.includes(base)) return base;
    }
    return langs[0];
  }

  // The text of key in table[lang], else in English, else the key itself;
  // each {name} in it replaced by vars[name].
  function word(table, lang, key, vars) {
    let s = table[lang]?.[key] ?? table.en[key] ?? key;
    for (const [name, v] of Object.entries(vars || {})) s = s.split("{" + name + "}").join(String(v));
    return s;
  }

  // h("p", {class: "x", onclick: f, text: "t"}, "text", node, [nodes]...):
  // an element, its attributes (false, null and undefined leave one out),
  // its children as text or nodes.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  return { pickLang, word, h };
})();
