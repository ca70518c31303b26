#!/bin/sh
# Usage: scripts/check-layers.sh [BUILD_DIR]   (default: build, configured by cmake)
#
# Checks src/ (the library's modules in src/lib/, the programs beside them)
# against the layer graph that CMakeLists.txt declares with
# mes_module(NAME DEPS ...). The graph is read as written: a module may
# include the headers of the modules it names itself (direct edges), not of
# the modules those depend on in turn, so that every dependency of a module
# is written on its own line. Refused:
#   - #include "x/..." of a module that is neither the file's own nor a
#     direct dependency, and any other module's x/..._int.h;
#   - a forward declaration (`struct mes_foo;`, or a typedef of a struct)
#     of a type defined by another module that is not a direct dependency:
#     it would name that module's type without the include this check reads;
#   - the headers of the engines (sqlite3.h, sodium.h, microhttpd.h, ...)
#     outside their one module, and banned C calls.
# <mesura/...> is the public face of libmesura (implemented by src/engine,
# with the shared types and the error table), allowed everywhere: below the
# engine a module can use its types, and a call of a verb would not link.
#
# A program (src/http, src/cli) sees the engine only through <mesura/mesura.h>.
#
# Two readings, so that neither a macro nor a relative path hides an edge:
# the source text (line by line, for forward declarations and banned calls
# too), and the compiler's own include graph: every file of src/ in the
# build's compile_commands.json is preprocessed with its real flags (gcc -H),
# and each header it or its headers open is checked the same way.
#
# The check proves itself first: it plants a file with one violation of each
# kind in a temporary directory, checks that each is refused, and removes it.
set -eu
cd "$(dirname "$0")/.."
MESURA_LAYERS_BUILD="${1:-build}" python3 - <<'PY'
import concurrent.futures, json, os, re, shlex, subprocess, sys, pathlib, shutil, tempfile

cm = pathlib.Path("CMakeLists.txt").read_text()
deps = {}
for m in re.finditer(r"^mes_module\((\w+)([^)]*)\)", cm, re.M):
    name, rest = m.group(1), m.group(2)
    d = re.search(r"\bDEPS ([\w ]+?)(?: LIBS\b|$)", rest.strip())
    deps[name] = set(d.group(1).split()) if d else set()

INCLUDE = re.compile(r'\s*#\s*include\s+"(\w+)/([\w.]+)"')
SYS_INCLUDE = re.compile(r'\s*#\s*include\s+<([\w/.-]+)>')
FORWARD = re.compile(r'\s*(?:typedef\s+)?struct\s+(mes_\w+)\s*(\w+\s*)?;')
DEFINES = re.compile(r'\bstruct\s+(mes_\w+)\s*\{')
OWNERS = {"sqlite3.h": ("store",), "libpq-fe.h": ("store",), "microhttpd.h": ("http",), "sodium.h": ("crypto",),
          "yaml.h": ("policy",), "lapacke.h": ("eval", "model"), "cblas.h": ("eval", "model")}
BANNED = re.compile(r"\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)\s*\(")

PROGRAMS = set()  # modules in src/NAME rather than src/lib/NAME

def sources(root):
    """(path, module, text) of every C file under root/src in a module folder."""
    for f in sorted(pathlib.Path(root, "src").rglob("*.[ch]")):
        parts = f.relative_to(pathlib.Path(root, "src")).parts
        if parts[0] == "lib":  # the library's modules live in src/lib/NAME, the programs in src/NAME
            parts = parts[1:]
        elif len(parts) > 1:
            PROGRAMS.add(parts[0])
        yield f, (parts[0] if len(parts) > 1 else ""), f.read_text()

def owners_of_types(files):
    """Type name -> the module whose file defines it (with a body)."""
    own = {}
    for f, mod, text in files:
        if mod:
            for m in DEFINES.finditer(text):
                own.setdefault(m.group(1), mod)
    return own

def check(files, display_root):
    files = list(files)
    types = owners_of_types(files)
    bad = []
    for f, mod, text in files:
        where = os.path.relpath(f, display_root)
        allowed = deps.get(mod, set()) | {mod}
        if mod in PROGRAMS:
            allowed -= {"engine"}  # a program links the engine but sees it only through <mesura/mesura.h>
        for i, line in enumerate(text.splitlines(), 1):
            m = INCLUDE.match(line)
            if m and mod:
                other, header = m.group(1), m.group(2)
                if other not in allowed:
                    bad.append(f"{where}:{i}: module '{mod}' may not include '{other}/': not a direct dependency "
                               f"(mes_module({mod} DEPS ...) in CMakeLists.txt)")
                elif other != mod and header.endswith("_int.h"):
                    bad.append(f"{where}:{i}: '{other}/{header}' is private to module '{other}'")
            m = FORWARD.match(line)
            if m and mod:
                owner = types.get(m.group(1))
                if owner and owner != mod and owner not in allowed:
                    bad.append(f"{where}:{i}: module '{mod}' declares struct {m.group(1)} of module '{owner}', "
                               f"which is not a direct dependency")
            m = SYS_INCLUDE.match(line)
            if m and m.group(1) in OWNERS and mod not in OWNERS[m.group(1)]:
                bad.append(f"{where}:{i}: <{m.group(1)}> belongs to module(s) {', '.join(OWNERS[m.group(1)])} only")
            code = line.split("//")[0]
            if BANNED.search(code) and not code.lstrip().startswith("*"):
                bad.append(f"{where}:{i}: banned call (use snprintf, strtol, bounded copies): {line.strip()}")
    return bad

# ------------------------------------------------ the compiler's include graph
ROOT = pathlib.Path(".").resolve()
BUILD = pathlib.Path(os.environ["MESURA_LAYERS_BUILD"]).resolve()

def module_of(path, root):
    """The module a file belongs to ("" for the public face, None outside src/ and include/)."""
    try:
        parts = pathlib.Path(path).resolve().relative_to(root).parts
    except ValueError:
        try:
            pathlib.Path(path).resolve().relative_to(BUILD / "include")
            return ""
        except ValueError:
            return None
    if parts[0] == "include":
        return ""
    if parts[0] != "src" or len(parts) < 3:
        return None
    return parts[2] if parts[1] == "lib" and len(parts) > 3 else parts[1]

def include_tree(src, flags):
    """(includer, included) pairs of the preprocessor's real include tree of src."""
    out = subprocess.run(["cc", "-H", "-E", "-o", "/dev/null", *flags, str(src)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("check-layers: the preprocessor failed on %s:\n%s" % (src, out.stderr[-2000:]))
    stack, pairs = [str(src)], []
    for line in out.stderr.splitlines():
        m = re.match(r"^(\.+) (.+)$", line)
        if not m:
            continue
        depth = len(m.group(1))
        del stack[depth:]
        pairs.append((stack[depth - 1], m.group(2)))
        stack.append(m.group(2))
    return pairs

def compile_flags(entry):
    args = entry.get("arguments") or shlex.split(entry["command"])
    keep, it = [], iter(args[1:])
    for a in it:
        if a in ("-I", "-D", "-isystem", "-include"):
            keep += [a, next(it)]
        elif a.startswith(("-I", "-D", "-std", "-isystem")):
            keep.append(a)
    return keep

def graph_check(units, root, display_root):
    """units: (source path, flags). Violations found in the real include graph."""
    bad = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for pairs in pool.map(lambda u: include_tree(*u), units):
            for a, b in pairs:
                mod = module_of(a, root)
                if not mod:
                    continue
                where = os.path.relpath(a, display_root)
                other = module_of(b, ROOT)  # what is opened is always the real tree's
                allowed = deps.get(mod, set()) | {mod}
                if mod in PROGRAMS:
                    allowed -= {"engine"}
                if other is None:
                    base = os.path.basename(b)
                    if base in OWNERS and mod not in OWNERS[base]:
                        bad.add(f"{where}: opens <{base}> (compiler's include graph), which belongs to module(s) "
                                f"{', '.join(OWNERS[base])} only")
                elif other and other not in allowed:
                    bad.add(f"{where}: opens {os.path.relpath(b, root)} of module '{other}' (compiler's include "
                            f"graph): not a direct dependency of '{mod}'")
                elif other and other != mod and b.endswith("_int.h"):
                    bad.add(f"{where}: opens {os.path.relpath(b, root)}, private to module '{other}' "
                            f"(compiler's include graph)")
    return sorted(bad)

db_path = BUILD / "compile_commands.json"
if not db_path.exists():
    print(f"check-layers: {db_path} not found: configure the build first (cmake -S . -B {BUILD})", file=sys.stderr)
    sys.exit(2)
UNITS = []
for e in json.loads(db_path.read_text()):
    f = pathlib.Path(e["directory"], e["file"]).resolve()
    if f.is_relative_to(ROOT / "src"):
        UNITS.append((f, compile_flags(e)))
list(sources("."))  # fills PROGRAMS

# The self-test: the real tree plus one planted file (in a copy of the
# module's place, under a temporary directory) breaking each rule once.
PLANT = ('#include "engine/engine.h"\n'          # auth may not include engine (above it)
         '#include "store/store_int.h"\n'        # nor a dependency's _int.h
         'struct mes_engine;\n'                   # nor name engine's type
         'typedef struct mes_model mes_model_t;\n' # nor model's (not a dependency)
         '#include <sqlite3.h>\n'
         'static void f(char *d) { strcpy(d, "x"); }\n')
tmp = tempfile.mkdtemp(prefix="mesura-layers-")
try:
    plant = pathlib.Path(tmp, "src", "lib", "auth", "planted_violation.h")
    plant.parent.mkdir(parents=True)
    plant.write_text(PLANT)
    plant2 = pathlib.Path(tmp, "src", "http", "planted_violation.h")  # a program reaching past the public face
    plant2.parent.mkdir(parents=True)
    plant2.write_text('#include "engine/engine.h"\n')
    files = list(sources(".")) + [(plant, "auth", PLANT), (plant2, "http", plant2.read_text())]
    got = [b for b in check(files, tmp) if "planted_violation.h:" in b]
    want = ["may not include 'engine/'", "store/store_int.h", "struct mes_engine of module 'engine'",
            "struct mes_model of module 'model'", "<sqlite3.h> belongs", "banned call",
            "module 'http' may not include 'engine/'"]
    missing = [w for w in want if not any(w in b for b in got)]
    if missing or len(got) != len(want):
        print("check-layers: the self-test's planted violations were not all refused:", file=sys.stderr)
        print("  missing: %s\n  refused: %s" % (missing, got), file=sys.stderr)
        sys.exit(2)
    # A macro include, which no reading of the text can follow: the
    # compiler's graph must refuse it (a program opening the engine's header).
    plant3 = pathlib.Path(tmp, "src", "http", "planted_violation.c")
    plant3.write_text('#define MES_PLANTED "engine/engine.h"\n#include MES_PLANTED\n')
    flags = next(fl for f, fl in UNITS if module_of(f, ROOT) == "http")
    got = graph_check([(plant3, flags)], pathlib.Path(tmp).resolve(), tmp)
    if not any("planted_violation.c: opens src/lib/engine/engine.h" in b or "engine/engine.h of module 'engine'" in b
               for b in got):
        print("check-layers: the self-test's macro include was not refused by the include graph: %s" % got,
              file=sys.stderr)
        sys.exit(2)
finally:
    shutil.rmtree(tmp)
    if os.path.exists(tmp):
        print("check-layers: could not remove %s" % tmp, file=sys.stderr)
        sys.exit(2)

bad = check(sources("."), ".") + graph_check(UNITS, ROOT, ".")

# The attribute vault of audits holds protected attributes that nothing
# choosing, filtering or explaining recommendations may read: no chain of
# DEPS may lead from those modules to it (proved first on a planted edge).
VAULT_BLIND = ("recommend", "guard", "explain", "model")
def vault_reached(graph):
    def reach(mod, seen):
        for d in graph.get(mod, ()):
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen
    return [m for m in VAULT_BLIND if m not in graph or "audit" in reach(m, set())]
planted = {k: set(v) for k, v in deps.items()}
planted.setdefault("guard", set()).add("policy")
planted["policy"] = planted.get("policy", set()) | {"audit"}
if "guard" not in vault_reached(planted):
    print("check-layers: the self-test's planted path to the audit vault was not refused", file=sys.stderr)
    sys.exit(2)
for m in vault_reached(deps):
    bad.append(f"CMakeLists.txt: module '{m}' must exist and must not reach 'audit' (the attribute vault)")
if bad:
    print("\n".join(bad)); sys.exit(1)
print("layers: the self-test's planted violations are refused; every include (%d files through the compiler's "
      "include graph) and declaration follows the graph; recommend, guard, explain and model cannot reach the "
      "audit vault" % len(UNITS))
PY
