"""docs/openapi.yaml agrees with the routing table (src/http/routes.c) and the error table.

Python stdlib only: the YAML is read as text with a few regexes, relying on its layout:
path keys under `paths:` are indented by two spaces, methods by four, and an operation's
members (`x-mesura-status: ...`) by six.

- every row of the routing table is described in openapi.yaml with the same method and path
  (parameter names may differ: `{s}`, `{id}`, `{*rest}` all read as `{}`);
- every operation marked `x-mesura-status: implemented` is in the routing table;
- an operation's `x-mesura-scope` matches the row's scope (`public` for MES_ROUTE_PUBLIC), and
  `x-mesura-subject-token: true` matches MES_ROUTE_SELF;
- the Error schema lists exactly the codes of MES_ERR_MAP (include/mesura/error.h), "ok" aside;
- every path has an operation, and every operation an `x-mesura-status`;
- and, against the real server: each operation marked `implemented` is routed by it, for the documented
  method (its access line names the route it matched, not "unmatched" as a 404 or 405 of the router
  would), and each one marked `planned` is not.
"""

import os
import re
import unittest

from harness import ServerTestCase

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OPENAPI = os.path.join(ROOT, "docs", "openapi.yaml")
ROUTES = os.path.join(ROOT, "src", "http", "routes.c")
ERROR_H = os.path.join(ROOT, "include", "mesura", "error.h")

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def norm(path):
    """'/v1/subjects/{s}/events/{event_id}' -> '/v1/subjects/{}/events/{}'; '{*rest}' too."""
    return re.sub(r"\{[^{}/]*\}", "{}", path)


def strip_c_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def parse_routes(src):
    """Rows of the routing table: [(METHOD, pattern, scope_expr, flags_expr)].

    A row is a brace initializer whose first two members are string literals, the method and a
    pattern starting with '/': {"GET", "/healthz", 0, MES_ROUTE_PUBLIC, mes__h_healthz}.
    Designated initializers (.method = "GET", .pattern = "/x", ...) are read too.
    """
    src = strip_c_comments(src)
    rows = []
    positional = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"\s*,([^{}]*)\}')
    for m in positional.finditer(src):
        rest = [x.strip() for x in m.group(3).split(",")]
        scope = rest[0] if len(rest) > 0 else ""
        flags = rest[1] if len(rest) > 1 else ""
        rows.append((m.group(1), m.group(2), scope, flags))
    if rows:
        return rows
    for body in re.findall(r"\{([^{}]*\.pattern\s*=[^{}]*)\}", src):
        fields = dict(re.findall(r"\.(\w+)\s*=\s*([^,]+)", body))
        method = fields.get("method", "").strip().strip('"')
        pattern = fields.get("pattern", "").strip().strip('"')
        if method and pattern.startswith("/"):
            rows.append((method, pattern, fields.get("scope", "").strip(), fields.get("flags", "").strip()))
    return rows


def parse_openapi(text):
    """Operations under `paths:`: {(METHOD, normalised path): {"path", "status", "scope", "self"}}."""
    ops = {}
    in_paths = False
    path = None
    cur = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^\S", line):  # a top-level key
            in_paths = line.startswith("paths:")
            path = cur = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (['\"]?)(/[^'\"]*)\1:\s*$", line)
        if m:
            path, cur = m.group(2), None
            continue
        m = re.match(r"^    ([a-z]+):\s*$", line)
        if m:
            cur = None
            if path and m.group(1) in METHODS:
                cur = {"path": path, "status": None, "scope": None, "self": False}
                ops[(m.group(1).upper(), norm(path))] = cur
            continue
        m = re.match(r"^      (x-mesura-[a-z-]+):\s*['\"]?([A-Za-z_-]+)['\"]?\s*$", line)
        if m and cur is not None:
            key, val = m.groups()
            if key == "x-mesura-status":
                cur["status"] = val
            elif key == "x-mesura-scope":
                cur["scope"] = val
            elif key == "x-mesura-subject-token":
                cur["self"] = val == "true"
    return ops


def paths_in(text):
    """Every path key under `paths:`."""
    m = re.search(r"(?ms)^paths:\s*\n(.*?)^\S", text)
    return re.findall(r"(?m)^  (['\"]?)(/[^'\"\n]*)\1:[ \t]*$", m.group(1)) if m else []


def route_scopes(scope_expr, flags_expr):
    """The scope names a row accepts: {'public'} for MES_ROUTE_PUBLIC, else MES_SCOPE_X -> 'x'."""
    if "MES_ROUTE_PUBLIC" in flags_expr:
        return {"public"}
    return {s.lower() for s in re.findall(r"MES_SCOPE_([A-Z]+)", scope_expr)}


class OpenApiAgreesWithRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read(OPENAPI)
        cls.ops = parse_openapi(cls.text)
        if not os.path.exists(ROUTES):
            raise unittest.SkipTest("src/http/routes.c does not exist yet")
        cls.rows = parse_routes(read(ROUTES))

    def test_openapi_is_3_1(self):
        self.assertRegex(self.text, r"(?m)^openapi:\s*['\"]?3\.1\.\d+")
        self.assertRegex(self.text, r"(?m)^paths:\s*$")
        self.assertRegex(self.text, r"(?m)^components:\s*$")

    def test_parsers_found_something(self):
        self.assertGreater(len(self.rows), 0, "no rows found in src/http/routes.c: has its format changed?")
        self.assertIn(("GET", "/healthz"), self.ops, "openapi.yaml parser found no GET /healthz")

    def test_every_operation_has_a_status(self):
        bad = sorted(f"{m} {o['path']}: {o['status']}" for (m, _), o in self.ops.items()
                     if o["status"] not in ("implemented", "planned"))
        self.assertEqual(bad, [], "operations without x-mesura-status implemented|planned")

    def test_every_path_has_an_operation(self):
        paths = [p for _, p in paths_in(self.text)]
        self.assertGreater(len(paths), 0)
        with_ops = {o["path"] for o in self.ops.values()}
        self.assertEqual(sorted(p for p in paths if p not in with_ops), [], "paths without an operation")

    def test_every_operation_has_a_scope(self):
        known = {"ingest", "consent", "catalog", "recommend", "subjects", "audit", "admin", "public"}
        bad = sorted(f"{m} {o['path']}: {o['scope']}" for (m, _), o in self.ops.items() if o["scope"] not in known)
        self.assertEqual(bad, [], "operations without a valid x-mesura-scope")

    def test_every_route_is_documented(self):
        missing = sorted(f"{m} {p}" for m, p, _, _ in self.rows if (m, norm(p)) not in self.ops)
        self.assertEqual(missing, [], "routes in src/http/routes.c that docs/openapi.yaml does not describe")

    def test_documented_routes_are_marked_implemented(self):
        planned = sorted(f"{m} {p}" for m, p, _, _ in self.rows
                         if (m, norm(p)) in self.ops and self.ops[(m, norm(p))]["status"] != "implemented")
        self.assertEqual(planned, [], "routes served by the server but marked planned in docs/openapi.yaml")

    def test_every_implemented_operation_is_routed(self):
        routed = {(m, norm(p)) for m, p, _, _ in self.rows}
        missing = sorted(f"{k[0]} {o['path']}" for k, o in self.ops.items()
                         if o["status"] == "implemented" and k not in routed)
        self.assertEqual(missing, [], "operations marked implemented in docs/openapi.yaml but absent from routes.c")

    def test_scopes_agree(self):
        bad = []
        for m, p, scope, flags in self.rows:
            op = self.ops.get((m, norm(p)))
            if op is None:
                continue
            accepted = route_scopes(scope, flags)
            # admin covers every scope but the vault, so a route needing only admin may be documented as admin.
            if accepted and op["scope"] not in accepted:
                bad.append(f"{m} {p}: routes.c {sorted(accepted)}, openapi {op['scope']}")
        self.assertEqual(bad, [], "x-mesura-scope differs from the routing table")

    def test_subject_token_flag_agrees(self):
        bad = []
        for m, p, _, flags in self.rows:
            op = self.ops.get((m, norm(p)))
            if op is None:
                continue
            if ("MES_ROUTE_SELF" in flags) != op["self"]:
                bad.append(f"{m} {p}: MES_ROUTE_SELF {'MES_ROUTE_SELF' in flags}, "
                           f"x-mesura-subject-token {op['self']}")
        self.assertEqual(bad, [], "x-mesura-subject-token differs from MES_ROUTE_SELF")


class OpenApiStatusIsHonest(ServerTestCase):
    """Each documented operation asked of the real server, without a key: the router either matches a
    route (the handler or the key check then answers) or it answers 404 or 405 itself, and its access
    line says which ("http METHOD ROUTE STATUS ...", ROUTE "unmatched" for the router's own answer)."""

    def test_implemented_operations_are_routed_and_planned_ones_are_not(self):
        ops = parse_openapi(read(OPENAPI))
        self.assertGreater(len(ops), 0)
        answers = {}
        for (method, npath), op in sorted(ops.items()):
            # Any value stands for a parameter: the router matches the path's shape, and without a key
            # the answer comes before the value is looked at (a public page may answer 404 for it).
            answers[method, npath] = self.request(method, re.sub(r"\{[^{}/]*\}", "x", op["path"]))[0]
        access = re.compile(r"\bhttp ([A-Z]+) (\S+) (\d+) ")
        # A line is written once the reply is out, so the last ones may come a moment after it.
        lines = self.server.wait_for_log(lambda ls: sum(1 for l in ls if access.search(l)) >= len(ops))
        routed = {(m.group(1), norm(m.group(2))) for m in map(access.search, lines)
                  if m and m.group(2) != "unmatched"}
        bad = ["%s %s: x-mesura-status %s, answered %d%s" % (method, op["path"], op["status"], answers[method, npath],
                                                             "" if (method, npath) in routed else " by the router")
               for (method, npath), op in sorted(ops.items())
               if (op["status"] == "implemented") != ((method, npath) in routed)]
        self.assertEqual(bad, [], "x-mesura-status disagrees with what the server routes")


class OpenApiErrorCodes(unittest.TestCase):
    def test_error_codes_match_the_error_table(self):
        table = set(re.findall(r'X\(\s*[A-Z0-9_]+\s*,\s*"([a-z0-9_]+)"\s*,\s*\d{3}', read(ERROR_H)))
        self.assertGreater(len(table), 10, "MES_ERR_MAP not found in include/mesura/error.h")
        table.discard("ok")
        text = read(OPENAPI)
        m = re.search(r"(?ms)^ {12}code:\s*\n(.*?)^ {12}message:", text)
        self.assertIsNotNone(m, "Error schema's code property not found in docs/openapi.yaml")
        documented = set(re.findall(r"(?m)^\s+- ([a-z0-9_]+)\s*$", m.group(1)))
        self.assertEqual(sorted(table - documented), [], "codes in error.h missing from the Error schema's enum")
        self.assertEqual(sorted(documented - table), [], "codes in the Error schema's enum that error.h lacks")

    def test_error_statuses_in_the_table_agree(self):
        """The Markdown table in the Error schema gives each code the status of error.h."""
        rows = re.findall(r'X\(\s*[A-Z0-9_]+\s*,\s*"([a-z0-9_]+)"\s*,\s*(\d{3})', read(ERROR_H))
        text = read(OPENAPI)
        bad = []
        for code, status in rows:
            if code == "ok":
                continue
            m = re.search(r"\|\s*`" + re.escape(code) + r"`\s*\|\s*(\d{3})\s*\|", text)
            if not m:
                bad.append(f"{code}: not in the table")
            elif m.group(1) != status:
                bad.append(f"{code}: openapi {m.group(1)}, error.h {status}")
        self.assertEqual(bad, [], "the Error schema's table disagrees with error.h")


if __name__ == "__main__":
    unittest.main()
