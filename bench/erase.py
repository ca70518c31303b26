#!/usr/bin/env python3
"""Erasure benchmark: DELETE /v1/subjects/{s} of a person with 1,000 events on a store of --events
events, as a ratio to the same server's durable single-event ingestion (POST /v1/events with one
event) measured in the same run, the two alternated; then `mesura erase` in bulk while the server
runs (people per second, without and with the retraining that ends it).

usage: bench/erase.py BUILD_DIR [--events N] [--subjects S] [--victims V] [--bulk B] [--rounds R] [--model]
                      [--store DIR]
--store DIR: the loaded store is kept in DIR (made on the first run) and each run works on a copy of it,
so that runs of two builds compare on the same store without loading it again (10 M events: minutes).
--bulk 0 leaves out the bulk erasure.
--model: the server serves a co-occurrence model it trained itself (`mesura train`, then the erasure of
one more person makes it retrain its own, which can unlearn), so that each erasure unlearns too; the
table then adds the durable save of the unlearned model, which follows the answer (the server's log).
Prints a Markdown table for bench/README.md, then the server's CPU time per request (a mean: /proc's
clock ticks are 10 ms). Background retraining is off (model.retrain_every_minutes at a year,
retrain_after_events_pct at 0), except the retraining an erasure asks for. ERASE_BENCH_LOG=FILE keeps
the server's log in FILE.
"""
import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SAVED = re.compile(r"saved after an (?:erasure|unlearning) in ([\d.]+) ms")  # the server's log
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

POLICY = """\
site: Erasure bench
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 3650, properties: [duration_s]}
  purchase: {purposes: [personalization], retention_days: 3650}
model: {kind: cooc, retrain_every_minutes: 525600, retrain_after_events_pct: 0}
"""


def req(conn, key, method, path, body=None):
    headers = {"Authorization": "Bearer " + key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    out = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise SystemExit("%s %s: %d %s" % (method, path, r.status, out[:200]))
    return json.loads(out), dt


def cpu_s(pid):
    """The process's CPU time so far (user + system, all threads), in seconds (clock ticks: 10 ms steps)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_file(path, subjects, events, victims, per_victim, bulk, per_bulk, warmup=False):
    """JSON lines for `mesura import`: consents, then the crowd's events, the victims' and the bulk's."""
    ts = "2026-11-01T10:00:00Z"
    with open(path, "w") as f:
        people = (["u%d" % i for i in range(subjects)] + ["victim-%d" % i for i in range(victims)]
                  + ["bulk-%d" % i for i in range(bulk)] + (["warmup"] if warmup else []))
        for s in people:
            f.write(json.dumps({"kind": "consent", "subject": s, "purpose": "personalization", "status": "granted",
                                "ts": ts, "source": "import"}) + "\n")
        for k in range(events):
            f.write(json.dumps({"kind": "event", "subject": "u%d" % (k % subjects), "type": "view",
                                "item": "item-%05d" % (k * 7919 % 20000), "ts": ts,
                                "properties": {"duration_s": k % 90}}) + "\n")
        for prefix, n, per in (("victim", victims, per_victim), ("bulk", bulk, per_bulk)):
            for i in range(n):
                for k in range(per):
                    f.write(json.dumps({"kind": "event", "subject": "%s-%d" % (prefix, i),
                                        "type": "purchase" if k % 10 == 0 else "view",
                                        "item": "item-%05d" % ((i * 131 + k * 17) % 20000), "ts": ts}) + "\n")
        if warmup:
            f.write(json.dumps({"kind": "event", "subject": "warmup", "type": "view", "item": "item-00000",
                                "ts": ts}) + "\n")
    return len(people)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=10_000)
    ap.add_argument("--victims", type=int, default=20)
    ap.add_argument("--bulk", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--model", action="store_true")
    ap.add_argument("--store")
    a = ap.parse_args()
    os.environ["MESURA_BIN"] = os.path.abspath(os.path.join(a.build, "mesura"))
    from harness import MesuraServer, run_cli

    server = MesuraServer(policy=POLICY, keys={"shop": "ingest,consent,catalog", "dsr": "subjects"})
    tmp = tempfile.mkdtemp(prefix="mesura-erase-bench-")
    kept = a.store and os.path.join(a.store, "keys.json")
    t0 = time.monotonic()
    if kept and os.path.exists(kept):
        shutil.copytree(os.path.join(a.store, "data"), server.data)
        with open(kept) as f:
            server.keys = json.load(f)
        server._initialized = True
    else:
        server.init()
        src = os.path.join(tmp, "load.jsonl")
        import_file(src, a.subjects, a.events, a.victims, 1000, a.bulk, 100, warmup=a.model)
        run_cli("import", "--data", server.data, src, timeout=7200)
        os.unlink(src)
        if kept:
            shutil.copytree(server.data, os.path.join(a.store, "data"))
            with open(kept, "w") as f:
                json.dump(server.keys, f)
    load_s = time.monotonic() - t0
    total = a.events + a.victims * 1000 + a.bulk * 100
    try:
        server.start()
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        shop, dsr = server.keys["shop"], server.keys["dsr"]
        own_train_s = 0.0
        if a.model:
            run_cli("train", "--data", server.data, timeout=7200)
            server.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=600)
            conn.close()
            conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
            t0 = time.monotonic()
            req(conn, dsr, "DELETE", "/v1/subjects/warmup")  # a loaded model cannot unlearn: the server retrains
            server.wait_for_log(lambda lines: any(" is live" in l and l.endswith("can unlearn") for l in lines),
                                timeout=7200)
            own_train_s = time.monotonic() - t0
            conn.close()  # idle through the training: the server may have closed it
            conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        single, erase, removed, contributions = [], [], [], []
        cpu_single = cpu_erase = 0.0  # the server's CPU time over those requests (a mean: ticks are 10 ms)
        pid = server.proc.pid
        per_round = max(1, a.victims // a.rounds)
        v = 0
        for r in range(a.rounds):
            for i in range(50):  # single durable events, one at a time, as a shop's page view would
                c0 = cpu_s(pid)
                _, dt = req(conn, shop, "POST", "/v1/events",
                            {"events": [{"subject": "u%d" % ((r * 50 + i) % a.subjects), "type": "view",
                                         "item": "item-00001"}]})
                cpu_single += cpu_s(pid) - c0
                single.append(dt)
            for _ in range(per_round):
                if v >= a.victims:
                    break
                c0 = cpu_s(pid)
                body, dt = req(conn, dsr, "DELETE", "/v1/subjects/victim-%d" % v)
                cpu_erase += cpu_s(pid) - c0
                v += 1
                erase.append(dt)
                removed.append(body["receipt"]["removed"]["events"])
                contributions.append(body["receipt"]["model"]["contribution"])
        conn.close()
        if a.model:
            server.wait_for_log(lambda lines: len([l for l in lines if SAVED.search(l)]) >= 1,
                                timeout=600)
            time.sleep(2)  # the last save
        saves = [float(m.group(1)) for l in server.log_lines()
                 for m in [SAVED.search(l)] if m]
        receipts, erase_s, train_s, bulk_s = [], float("nan"), float("nan"), float("nan")
        if a.bulk:
            ids = os.path.join(tmp, "ids.txt")
            with open(ids, "w") as f:
                f.write("".join("bulk-%d\n" % i for i in range(a.bulk)))
            t0 = time.monotonic()
            p = subprocess.run([os.environ["MESURA_BIN"], "erase", "--data", server.data, ids], capture_output=True,
                               text=True, timeout=7200)
            bulk_s = time.monotonic() - t0
            if p.returncode != 0:
                raise SystemExit("mesura erase failed: " + p.stderr)
            receipts = [json.loads(l) for l in p.stdout.splitlines()]
            m = re.search(r"refused in ([\d.]+) s; the model was retrained without them in ([\d.]+) s", p.stderr)
            erase_s, train_s = float(m.group(1)), float(m.group(2))
    finally:
        if os.environ.get("ERASE_BENCH_LOG"):  # the server's log, kept for a look
            with open(os.environ["ERASE_BENCH_LOG"], "w") as f:
                f.write("\n".join(server.log_lines()) + "\n")
        server.stop()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda xs: 1000 * statistics.median(xs)
    print("| store events | single event ms (median) | erasure of 1,000 events ms (median / max) "
          "| ratio | bulk people/s | its retraining s | command s | load s |")
    print("|---|---|---|---|---|---|---|---|")
    print("| %d | %.2f | %.1f / %.1f | %.1f | %.0f | %.1f | %.1f | %.0f |" % (
        total, ms(single), ms(erase), 1000 * max(erase), ms(erase) / ms(single), len(receipts) / erase_s if a.bulk else float("nan"), train_s,
        bulk_s, load_s))
    if a.model:
        print()
        print("| store events | single event ms | erasure with unlearning ms (median / max) | ratio "
              "| its save after the answer ms (median / max, %d) | erasure + save ms (median) | ratio "
              "| the server's own training s |" % len(saves))
        print("|---|---|---|---|---|---|---|---|")
        print("| %d | %.2f | %.1f / %.1f | %.1f | %s | %s | %s | %.1f |" % (
            total, ms(single), ms(erase), 1000 * max(erase), ms(erase) / ms(single),
            "%.1f / %.1f" % (statistics.median(saves), max(saves)) if saves else "-",
            "%.1f" % (ms(erase) + statistics.median(saves)) if saves else "-",
            "%.1f" % ((ms(erase) + statistics.median(saves)) / ms(single)) if saves else "-", own_train_s))
    print()
    print("server CPU per request (mean): single event %.2f ms, erasure %.1f ms" % (
        1000 * cpu_single / len(single), 1000 * cpu_erase / len(erase)))
    assert all(n == 1000 for n in removed), removed
    assert not a.model or all(c == "unlearned" for c in contributions), contributions
    assert len(receipts) == a.bulk and all(r["removed"]["events"] == 100 for r in receipts)


if __name__ == "__main__":
    main()
