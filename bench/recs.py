#!/usr/bin/env python3
"""Recommendation serving benchmark (speed and memory of serving, and what the guardrails cost): the
real `mesura serve` on loopback over a store built by bench_train and given a catalog and a model (see
bench/README.md, "Recommendations"), driven by wrk with keep-alive.

usage: bench/recs.py BUILD_DIR DATA_DIR [--subjects N] [--items N] [--seconds S] [--conns C] [--perf FILE]
       bench/recs.py BUILD_DIR DATA_DIR --log-off-build DIR2 [--rounds N] [--subjects N] [--seconds S] ...

In one run, against the same server:
  - GET /healthz: the baseline (libmicrohttpd's ceiling for a tiny reply on this machine, now);
  - POST /v1/recommendations for random subjects with history ({"subject", "count": 10});
  - POST /v1/recommendations without subject, an item on screen (the non-personal path);
  - the personal requests again over 2 connections only (latency without queueing for the cores);
each with wrk's client-side latency and the server's own: every request's duration from the access log
(exact percentiles) and from /metrics' histogram for the route (bucket bounds, interpolated the way
Prometheus' histogram_quantile does). Then the server's peak RSS (VmHWM) and
mesura_model_memory_bytes. Prints one JSON line and a Markdown table row. Each run adds two API keys
(revoked at the end) and, like any traffic, decision records and impressions to DATA_DIR.
Needs wrk (scripts/install-deps.sh bench).

With --log-off-build, what the access log costs over HTTP instead: DIR2 holds a `mesura` built from the
same tree with -DMESURA_BENCH_NO_ACCESS_LOG=ON (it notes no access log entry and differs in nothing
else). Both servers run on DATA_DIR at once, and the saturating personal phase alternates between them
for --rounds rounds, the two trading places every round, so that neither always runs first or on a
store the other has just warmed. Prints one JSON line with each round's req/s and server-side p50, and
the median ratio log on / log off.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request

from benchlib import peak_rss_mb, wrk

HERE = os.path.dirname(os.path.abspath(__file__))
LISTENING = re.compile(r"listening on (https?)://(\S+):(\d+)\s*$")
ACCESS = re.compile(r"http POST /v1/recommendations (\d+) ([\d.]+)ms")
HIST = re.compile(r'mesura_http_request_duration_seconds_bucket\{route="/v1/recommendations",le="([^"]+)"\} (\d+)')

LUA = """
local n_subjects, n_items, key = %d, %d, "%s"
local personal = %s
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919)
end
function init(args)
  math.randomseed(os.time() + (seed or 0))
end
function request()
  local body
  if personal then
    body = '{"subject":"shopper-' .. math.random(0, n_subjects - 1) .. '","count":10}'
  else
    body = '{"context":{"item":"item-' .. math.random(0, n_items - 1) .. '"},"count":10}'
  end
  return wrk.format("POST", "/v1/recommendations", headers, body)
end
"""


def run_cli(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, check=True).stdout


def metrics(base, admin):
    r = urllib.request.Request(base + "/metrics", headers={"Authorization": "Bearer " + admin})
    return urllib.request.urlopen(r, timeout=30).read().decode()


def hist(text):
    return [(float("inf") if le == "+Inf" else float(le), int(n)) for le, n in HIST.findall(text)]


def hist_quantile(before, after, q):
    """Interpolated quantile (ms) of the requests counted between two /metrics scrapes, and the bucket's
    upper bound."""
    cum = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = cum[-1][1]
    if not total:
        return None, None
    rank, lo, prev = q * total, 0.0, 0
    for le, c in cum:
        if c >= rank:
            if le == float("inf"):
                return lo * 1e3, le
            return (lo + (le - lo) * (rank - prev) / max(c - prev, 1)) * 1e3, le * 1e3
        lo, prev = le, c
    return None, None


def settled_size(log_path):
    """The access log's size once every line of the requests answered so far is in it: the server
    buffers info lines and writes them every 100 ms (src/lib/base/log.c, FLUSH_EVERY_MS), so read right
    after wrk the file would lack the phase's last ~100 ms, which would be counted in the next phase.
    Waits past three flushes and until the size stops moving."""
    size = os.path.getsize(log_path)
    while True:
        time.sleep(0.3)
        now = os.path.getsize(log_path)
        if now == size:
            return size
        size = now


def access_durations(log_path, start, end):
    with open(log_path, "rb") as f:
        f.seek(start)
        chunk = f.read(end - start).decode(errors="replace")
    d = sorted(float(m.group(2)) for m in ACCESS.finditer(chunk) if m.group(1) == "200")
    if not d:
        return {}
    pick = lambda q: d[min(len(d) - 1, int(q * (len(d) - 1) + 0.5))]
    return {"n": len(d), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "mean_ms": sum(d) / len(d)}


def start_server(binary, data, log_path):
    """`mesura serve` on a free loopback port, its stderr into log_path: (process, base URL)."""
    log = open(log_path, "wb")
    proc = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0", "--rate-limit", "-1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    for _ in range(600):
        with open(log_path, errors="replace") as f:
            m = next((LISTENING.search(l) for l in f if LISTENING.search(l)), None)
        if m:
            return proc, "%s://%s:%s" % (m.group(1), m.group(2), m.group(3))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit("mesura serve did not start; see " + log_path)


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_s(pid):
    """The process's user + system CPU time so far, seconds (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(v):
    v = sorted(v)
    return (v[len(v) // 2] + v[(len(v) - 1) // 2]) / 2


def compare_log(a, binary, scripts, tmp):
    """The access log's cost: the personal phase alternating between this build and the one without
    the log, both serving DATA_DIR."""
    off_binary = os.path.abspath(os.path.join(a.log_off_build, "mesura"))
    servers = {}
    try:
        for name, b in (("log_on", binary), ("log_off", off_binary)):
            log_path = os.path.join(tmp, name + ".log")
            proc, base = start_server(b, a.data, log_path)
            servers[name] = (proc, base, log_path)
        for name, (proc, base, _) in servers.items():  # warm-up: catalog index, model pages, caches
            wrk(base + "/v1/recommendations", 2, a.conns, scripts["personal"])
        with open(servers["log_off"][2], errors="replace") as f:
            if not a.aa and "writes no access log" not in f.read():
                raise SystemExit("%s was not built with -DMESURA_BENCH_NO_ACCESS_LOG=ON" % off_binary)
        res = {"subjects": a.subjects, "seconds": a.seconds, "conns": a.conns, "rounds": [],
               "loadavg_before": os.getloadavg()}
        for i in range(a.rounds):
            order = ("log_on", "log_off") if i % 2 == 0 else ("log_off", "log_on")
            rnd = {}
            for name in order:
                proc, base, log_path = servers[name]
                start, cpu0 = settled_size(log_path), cpu_s(proc.pid)
                r = wrk(base + "/v1/recommendations", a.seconds, a.conns, scripts["personal"])
                end = settled_size(log_path)  # the writer thread has written the phase's batches too
                r["server_log"] = access_durations(log_path, start, end)
                # The server's CPU per request answered: what the load of other processes on the machine
                # changes least (it slows a request down, it does not make it do more work).
                r["server_cpu_ms_per_req"] = (cpu_s(proc.pid) - cpu0) * 1e3 / max(r["requests"], 1)
                rnd[name] = r
            rnd["rps_ratio"] = rnd["log_on"]["rps"] / rnd["log_off"]["rps"]
            rnd["cpu_ratio"] = rnd["log_on"]["server_cpu_ms_per_req"] / rnd["log_off"]["server_cpu_ms_per_req"]
            p50_on, p50_off = rnd["log_on"]["server_log"].get("p50_ms"), rnd["log_off"]["server_log"].get("p50_ms")
            rnd["server_p50_ratio"] = p50_on / p50_off if p50_on and p50_off else None
            res["rounds"].append(rnd)
        res["loadavg_after"] = os.getloadavg()
    finally:
        for proc, _, _ in servers.values():
            stop_server(proc)
    ratios = [r["rps_ratio"] for r in res["rounds"]]
    p50s = [r["server_p50_ratio"] for r in res["rounds"] if r["server_p50_ratio"]]
    res["rps_ratio_median"], res["rps_ratio_range"] = median(ratios), [min(ratios), max(ratios)]
    res["server_p50_ratio_median"] = median(p50s) if p50s else None
    cpus = [r["cpu_ratio"] for r in res["rounds"]]
    res["cpu_ratio_median"], res["cpu_ratio_range"] = median(cpus), [min(cpus), max(cpus)]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("data")
    ap.add_argument("--subjects", type=int, default=100000)
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--perf", metavar="FILE", help="also record `perf record -g` of the server during the "
                    "saturating personal phase into FILE (perf report -i FILE)")
    ap.add_argument("--log-off-build", metavar="DIR2", help="compare with the server of DIR2, built with "
                    "-DMESURA_BENCH_NO_ACCESS_LOG=ON: the access log's cost over HTTP")
    ap.add_argument("--rounds", type=int, default=6, help="with --log-off-build: rounds of the alternation")
    ap.add_argument("--aa", action="store_true", help="with --log-off-build BUILD_DIR (the same build twice): "
                    "the A/A run, the alternation's own bias and noise")
    a = ap.parse_args()
    binary = os.path.abspath(os.path.join(a.build, "mesura"))
    tag = "bench%d" % os.getpid()
    rec_key = run_cli(binary, "keys", "create", "--data", a.data, "--scopes", "recommend", "--name", tag).strip()
    admin = run_cli(binary, "keys", "create", "--data", a.data, "--scopes", "admin", "--name", tag + "a").strip()
    tmp = tempfile.mkdtemp(prefix="mesura-recs-")
    scripts = {}
    for kind, personal in (("personal", "true"), ("context", "false")):
        scripts[kind] = os.path.join(tmp, kind + ".lua")
        with open(scripts[kind], "w") as f:
            f.write(LUA % (a.subjects, a.items, rec_key, personal))
    if a.log_off_build:
        try:
            res = compare_log(a, binary, scripts, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            for k in (tag, tag + "a"):
                subprocess.run([binary, "keys", "revoke", "--data", a.data, k], capture_output=True)
        print(json.dumps(res))
        print("access log on / off, %d rounds: req/s ratio median %.3f (%.3f-%.3f), server CPU per request "
              "ratio median %.3f (%.3f-%.3f), server p50 ratio median %s, load %.1f-%.1f"
              % (a.rounds, res["rps_ratio_median"], res["rps_ratio_range"][0], res["rps_ratio_range"][1],
                 res["cpu_ratio_median"], res["cpu_ratio_range"][0], res["cpu_ratio_range"][1],
                 "%.3f" % res["server_p50_ratio_median"] if res["server_p50_ratio_median"] else "n/a",
                 res["loadavg_before"][0], res["loadavg_after"][0]))
        return
    log_path = os.path.join(tmp, "serve.log")
    proc = None
    res = {"subjects": a.subjects, "items": a.items, "seconds": a.seconds, "conns": a.conns}
    try:
        proc, base = start_server(binary, a.data, log_path)
        url = base + "/v1/recommendations"
        # Warm-up (catalog index built, model pages touched); not measured.
        wrk(url, 2, a.conns, scripts["personal"])
        wrk(url, 1, a.conns, scripts["context"])
        res["healthz"] = wrk(base + "/healthz", a.seconds, a.conns)
        # personal / context: saturating (conns connections); personal_c2: two connections, so that the
        # server-side latency is the request's own work rather than its wait for one of the two cores.
        for kind, script, conns in (("personal", "personal", a.conns), ("context", "context", a.conns),
                                    ("personal_c2", "personal", 2)):
            before, start = hist(metrics(base, admin)), settled_size(log_path)
            perf = None
            if a.perf and kind == "personal":  # where the server's CPU goes under load
                perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(proc.pid), "-o", a.perf,
                                         "--", "sleep", str(max(1, a.seconds - 1))],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = wrk(url, a.seconds, conns, scripts[script])
            if perf:
                perf.wait()
            after, end = hist(metrics(base, admin)), settled_size(log_path)
            p99, bound = hist_quantile(before, after, 0.99)
            p50, _ = hist_quantile(before, after, 0.5)
            r["server_hist"] = {"p50_ms": p50, "p99_ms": p99, "p99_bucket_le_ms": bound}
            r["server_log"] = access_durations(log_path, start, end)
            r["ratio_to_healthz"] = r["rps"] / res["healthz"]["rps"]
            res[kind] = r
        text = metrics(base, admin)
        mm = re.search(r"^mesura_model_memory_bytes (\d+)", text, re.M)
        res["model_mb"] = int(mm.group(1)) / 2**20 if mm else None
        res["server_peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        if proc:
            stop_server(proc)
        shutil.rmtree(tmp, ignore_errors=True)  # wrk scripts and the server's 30 MB access log
        for k in (tag, tag + "a"):
            subprocess.run([binary, "keys", "revoke", "--data", a.data, k], capture_output=True)
    print(json.dumps(res))
    h, p, c, l = res["healthz"], res["personal"], res["context"], res["personal_c2"]
    slog = lambda r, k: r["server_log"].get(k, 0)
    bound = lambda r: r["server_hist"]["p99_bucket_le_ms"] or 0
    print("| %d subjects, %d items | %.0f | %.0f | %.3f | %.1f / %.1f | %.1f / %.1f (≤ %.1f) | "
          "%.2f / %.2f (≤ %.1f) | %.0f | %.2f | %.2f / %.2f | %.0f | %.1f |"
          % (a.subjects, a.items, h["rps"], p["rps"], p["ratio_to_healthz"], p["p50_ms"], p["p99_ms"],
             slog(p, "p50_ms"), slog(p, "p99_ms"), bound(p), slog(l, "p50_ms"), slog(l, "p99_ms"), bound(l),
             c["rps"], c["ratio_to_healthz"], slog(c, "p50_ms"), slog(c, "p99_ms"),
             res["server_peak_rss_mb"], res["model_mb"] or 0))


if __name__ == "__main__":
    main()
