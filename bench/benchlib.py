"""What the Python benches share: driving wrk and reading a process's peak memory."""
import re
import subprocess


def wrk(url, seconds, conns=32, script=None):
    """wrk -t2 with keep-alive; returns {rps, p50_ms, p99_ms, non2xx, requests} (client-side latency)."""
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(r"\s%s\s+([\d.]+)(us|ms|s)\b" % re.escape(label), out)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p99_ms": ms("99%"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def peak_rss_mb(pid):
    """The process's highest resident set so far (VmHWM), MiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0
