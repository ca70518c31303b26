#!/bin/sh
# Checks that every #include "module/..." in src/ follows the layer graph that
# CMakeLists.txt declares with mes_module(NAME DEPS ...). A module may include
# its own headers and those of the modules it depends on, transitively.
set -eu
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re, sys, pathlib
cm = pathlib.Path("CMakeLists.txt").read_text()
deps = {}
for m in re.finditer(r"mes_module\((\w+)([^)]*)\)", cm):
    name, rest = m.group(1), m.group(2)
    d = re.search(r"DEPS ([\w ]+?)(?: LIBS|$)", rest.strip())
    deps[name] = set(d.group(1).split()) if d else set()
def closure(n, seen=None):
    seen = set() if seen is None else seen
    for d in deps.get(n, ()):
        if d not in seen:
            seen.add(d); closure(d, seen)
    return seen
bad = []
for f in pathlib.Path("src").rglob("*.[ch]"):
    parts = f.relative_to("src").parts
    if len(parts) < 2:
        continue
    mod = parts[0]
    allowed = closure(mod) | {mod}
    for i, line in enumerate(f.read_text().splitlines(), 1):
        m = re.match(r'\s*#\s*include\s+"(\w+)/', line)
        if m and m.group(1) not in allowed:
            bad.append(f"{f}:{i}: module '{mod}' may not include '{m.group(1)}/' (see the layer graph in CMakeLists.txt)")
        m = re.match(r'\s*#\s*include\s+"(\w+)/\w+_int\.h"', line)
        if m and m.group(1) != mod:
            bad.append(f"{f}:{i}: '{m.group(1)}/..._int.h' is private to module '{m.group(1)}'")
# Engine headers stay inside their one module; banned C calls nowhere.
owners = {"sqlite3.h": "store", "libpq-fe.h": "store", "microhttpd.h": "http", "sodium.h": "crypto",
          "yaml.h": "policy", "lapacke.h": ("eval", "model"), "cblas.h": ("eval", "model")}
banned = re.compile(r"\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)\s*\(")
for f in pathlib.Path("src").rglob("*.[ch]"):
    parts = f.relative_to("src").parts
    mod = parts[0] if len(parts) > 1 else ""
    for i, line in enumerate(f.read_text().splitlines(), 1):
        m = re.match(r'\s*#\s*include\s+<([\w/.-]+)>', line)
        if m and m.group(1) in owners:
            own = owners[m.group(1)]
            own = own if isinstance(own, tuple) else (own,)
            if mod not in own:
                bad.append(f"{f}:{i}: <{m.group(1)}> belongs to module(s) {', '.join(own)} only")
        code = line.split("//")[0]
        if banned.search(code) and not code.lstrip().startswith("*"):
            bad.append(f"{f}:{i}: banned call (use snprintf, strtol, bounded copies): {line.strip()}")
if bad:
    print("\n".join(bad)); sys.exit(1)
print("layers: every include follows the graph")
PY
