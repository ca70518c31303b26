// The browser tests' harness: the real `mesura serve` on a loopback port
// over a fresh data directory, and one headless Debian chromium driven by
// playwright-core. Node's own test runner, fetch and child_process only.
//
//   const srv = await startServer({policy, keys: {admin: "admin"}});
//   const r = await srv.api("GET", "/v1/subjects/ana", {key: srv.keys.admin});   // {status, body}
//   const browser = await launchBrowser();
//   ...
//   await browser.close(); await srv.stop();
//
// The binary comes from $MESURA_BIN (ctest sets it), chromium from
// $CHROMIUM or /usr/bin/chromium; screenshots go to $MESURA_ARTIFACTS
// (ctest: build/artifacts/).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const MESURA_BIN = process.env.MESURA_BIN || path.join(HERE, "..", "..", "build", "mesura");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = process.env.MESURA_ARTIFACTS || path.join(HERE, "..", "..", "build", "artifacts");
const START_TIMEOUT_MS = 60000;

function cli(...args) {
  return execFileSync(MESURA_BIN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export async function startServer({ policy, keys = { admin: "admin" } }) {
  const tmp = mkdtempSync(path.join(tmpdir(), "mesura-browser-"));
  const data = path.join(tmp, "data");
  cli("init", "--data", data);
  if (policy) writeFileSync(path.join(data, "mesura.yaml"), policy);
  const made = {};
  for (const [name, scopes] of Object.entries(keys))
    made[name] = cli("keys", "create", "--data", data, "--scopes", scopes, "--name", name).trim();
  const proc = spawn(MESURA_BIN, ["serve", "--data", data, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines = [];
  const waiters = [];
  let partial = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop();
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((resolve) => proc.on("exit", (code, sig) => resolve(code ?? sig)));
  exited.then(() => { for (const w of waiters.splice(0)) w(); });

  async function waitForLog(pred, timeoutMs = START_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = pred(lines);
      if (hit) return hit;
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error("log condition not met; stderr was:\n" + lines.join("\n"));
      await new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref(); // never keeps the process alive
      });
    }
  }
  const m = await waitForLog((ls) => ls.map((l) => /listening on (http:\/\/\S+):(\d+)\s*$/.exec(l)).find(Boolean));
  const base = `${m[1]}:${m[2]}`;

  async function api(method, p, { key, body, lang } = {}) {
    const headers = {};
    if (key) headers.Authorization = "Bearer " + key;
    if (lang) headers["Accept-Language"] = lang;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let parsed = text;
    if ((r.headers.get("content-type") || "").startsWith("application/json")) parsed = JSON.parse(text);
    return { status: r.status, headers: r.headers, body: parsed };
  }

  return {
    base, data, keys: made, api, waitForLog, lines,
    train() { cli("train", "--data", data); },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const code = await exited;
      rmSync(tmp, { recursive: true, force: true });
      return code;
    },
  };
}

export async function launchBrowser() {
  const { chromium } = require("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
}

// Runs axe-core in the page (through the DevTools protocol, which the
// page's Content-Security-Policy does not govern) and returns the
// violations of impact serious or critical, WCAG 2.1 A and AA rules.
export async function seriousViolations(page) {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

export const WIDTHS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };

// Saves a full-page screenshot of `page` at each width as NAME-phone.png
// and NAME-desktop.png under ARTIFACTS.
export async function screenshots(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const saved = [];
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    const file = path.join(ARTIFACTS, `${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    saved.push(file);
  }
  return saved;
}
