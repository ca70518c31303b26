#!/usr/bin/env python3
"""Ingestion benchmark: batched events through HTTP into the encrypted
store, durable single-event requests with keep-alive, and /healthz, each reported with the
bare sealed-insert loop (bench_store) measured in the same run as the baseline.

usage: bench/ingest.py BUILD_DIR [--events N] [--subjects S] [--scale 10] [--seconds 8] [--threads T]
Runs everything twice: on an empty store and on one holding --scale times more events.
Prints a Markdown table for bench/README.md. The baseline is bench_store's fastest path (the
store's grouped insert, as POST /v1/events uses); "bare, row by row" is its one-insert-per-row loop. Needs `wrk` (scripts/install-deps.sh bench); the
fsyncs per second during the single-event run need `perf` (left blank without it).
"""
import argparse, http.client, json, os, re, shutil, subprocess, sys, tempfile, threading, time

from benchlib import peak_rss_mb, wrk

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))


def batch_body(subjects, n, offset):
    evs = []
    for i in range(n):
        k = offset + i
        evs.append({"subject": "u%d" % (k % subjects), "type": "view", "item": "item-%05d" % (k % 20000),
                    "channel": "web", "properties": {"duration_s": k % 90}})
    return json.dumps({"events": evs}).encode()


def post_batches(host, port, key, bodies, counter):
    c = http.client.HTTPConnection(host, port, timeout=300)
    for b in bodies:
        c.request("POST", "/v1/events", body=b, headers={"Authorization": "Bearer " + key,
                                                         "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit("batch failed: %d %s" % (r.status, data[:200]))
        counter.append(json.loads(data)["stored"])
    c.close()


def batched(server, key, subjects, n_events, batch=10000, conns=2):
    bodies = [batch_body(subjects, batch, i * batch) for i in range(n_events // batch)]
    per = [bodies[i::conns] for i in range(conns)]
    counter = []
    t0 = time.monotonic()
    ths = [threading.Thread(target=post_batches, args=(server.host, server.port, key, p, counter)) for p in per]
    for t in ths: t.start()
    for t in ths: t.join()
    dt = time.monotonic() - t0
    return sum(counter) / dt, sum(counter)


def cpu_s(pid):
    """The server's user + system CPU seconds so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def fsync_counter(pid, seconds):
    """Counts the server's fdatasync calls for `seconds` with perf (tracepoint
    syscalls:sys_enter_fdatasync); None when perf is missing or not allowed."""
    if not shutil.which("perf"):
        return None
    try:
        return subprocess.Popen(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_fdatasync", "-p", str(pid),
                                 "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
    except OSError:
        return None


def fsyncs_per_s(proc, seconds):
    if proc is None:
        return None
    _, err = proc.communicate()
    try:
        return int(err.strip().splitlines()[-1].split(",")[0]) / seconds
    except (IndexError, ValueError):  # "<not supported>", permission refused
        return None


def bare_loop(build, events, subjects, mode=None):
    """bench_store on a fresh store: {"rows_per_s": ...}. mode "one" is the row-by-row loop
    (None when BUILD's bench_store has no such mode: an older build being compared may not)."""
    base_dir = tempfile.mkdtemp()
    try:
        p = subprocess.run([os.path.join(build, "bench_store"), os.path.join(base_dir, "s"), str(events),
                            str(subjects)] + ([mode] if mode else []), capture_output=True, text=True)
    finally:
        shutil.rmtree(base_dir)
    if p.returncode != 0:
        if mode:
            return None
        raise SystemExit("bench_store failed: %s" % p.stderr.strip())
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--events", type=int, default=400000)
    ap.add_argument("--subjects", type=int, default=2000)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="the server's worker threads (0: its default)")
    a = ap.parse_args()
    os.environ["MESURA_BIN"] = os.path.abspath(os.path.join(a.build, "mesura"))
    import harness  # noqa: E402  (needs MESURA_BIN set first)

    rows = []
    serve_args = ["--rate-limit", "-1"] + (["--threads", str(a.threads)] if a.threads else [])
    server = harness.MesuraServer(keys={"admin": "admin", "shop": "ingest,consent"}, serve_args=serve_args)
    server.init()
    # The bench measures ingestion: no background retraining while it runs (the default
    # policy retrains hourly and whenever the stored events grew by 10%).
    path = os.path.join(server.data, "mesura.yaml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r"(?m)^model: \{.*\}$", "model: {kind: auto, retrain_every_minutes: 525600, "
                      "retrain_after_events_pct: 0, max_memory_mb: 2048}", text)
    if n != 1:
        raise SystemExit("the example policy has no one-line model: block to replace")
    server.write_policy(text)
    server.start()
    try:
        key = server.keys["shop"]
        # Every subject grants personalization, through the real consent endpoint.
        c = http.client.HTTPConnection(server.host, server.port)
        for s in range(a.subjects):
            c.request("PUT", "/v1/subjects/u%d/consents/personalization" % s,
                      body=b'{"status":"granted","source":"bench"}',
                      headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            r = c.getresponse(); r.read()
            assert r.status == 200, r.status
        lua = os.path.join(tempfile.mkdtemp(), "single.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.headers["Authorization"] = "Bearer %s"\n'
                    'wrk.body = \'{"subject":"u1","type":"view","item":"item-00001","properties":{"duration_s":3}}\'\n' % key)
        for phase in ("empty store", "%dx more data" % a.scale):
            if phase != "empty store":
                # Grow the store to scale x the measured batch volume before measuring again.
                batched(server, key, a.subjects, a.events * (a.scale - 1))
            bs = bare_loop(a.build, a.events, a.subjects)
            bs_one = bare_loop(a.build, a.events, a.subjects, "one")
            ev_s, _ = batched(server, key, a.subjects, a.events)
            h_rps = wrk("http://%s:%d/healthz" % (server.host, server.port), a.seconds)["rps"]
            # The fsync count covers the first seconds - 2 s of the wrk run (perf starts with it).
            pid = server.proc.pid
            window = max(1, a.seconds - 2)
            counter = fsync_counter(pid, window)
            c0 = cpu_s(pid)
            single = wrk("http://%s:%d/v1/events" % (server.host, server.port), a.seconds, script=lua)
            s_rps, s_p99, bad = single["rps"], single["p99_ms"], single["non2xx"]
            us_req = (cpu_s(pid) - c0) / (s_rps * a.seconds) * 1e6
            fs = fsyncs_per_s(counter, window)
            rows.append((phase, bs["rows_per_s"], bs_one["rows_per_s"] if bs_one else None, ev_s, h_rps, s_rps, s_p99,
                         bad, us_req, fs, peak_rss_mb(pid)))
    finally:
        server.stop()
        server.cleanup()
    print("| store | bare sealed inserts rows/s (baseline) | bare, row by row | HTTP batched events/s | ratio | "
          "/healthz req/s | single durable event req/s | ratio to /healthz | single p99 ms | non-2xx | "
          "server CPU µs/single | fsyncs/s | singles/fsync | server peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (phase, bs, bs_one, ev, h, s, p99, bad, us, fs, rss) in rows:
        fs_txt = ("%.0f | %.1f" % (fs, s / fs)) if fs else "- | -"
        one_txt = "%.0f" % bs_one if bs_one else "-"
        print("| %s | %.0f | %s | %.0f | %.2f | %.0f | %.0f | %.2f | %.2f | %d | %.0f | %s | %.0f |"
              % (phase, bs, one_txt, ev, ev / bs, h, s, s / h, p99, bad, us, fs_txt, rss))


if __name__ == "__main__":
    main()
