"""GET /metrics as Prometheus's own checker reads it: `promtool check metrics` (from Debian's `prometheus`
package; scripts/judges-deps.sh takes it out of the package into tools/judges/bin/) finds no error and
no lint problem in the exposition, once traffic has made every metric family the server knows appear:
events of every outcome and with properties dropped, an event forgotten, recommendations personalized
and not with a guardrail's suppressions, errors, an audit (its disparity ratios), a connection closed
for a slow head. Which families the server knows is read from its source (src/http/), so a new family
that this traffic does not bring out fails here until it does.

Skipped, saying so (ctest reports it skipped), only when promtool is not installed.
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

from harness import ServerTestCase, build_crowd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LOCAL_PROMTOOL = os.path.join(ROOT, "tools", "judges", "bin", "promtool")
PROMTOOL = shutil.which("promtool") or (LOCAL_PROMTOOL if os.access(LOCAL_PROMTOOL, os.X_OK) else None)

POLICY = """\
site: Metrics Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180, properties: [duration_s]}
  purchase: {purposes: [personalization], retention_days: 730}
serving: {header_timeout_s: 1}
audit: {min_group_size: 2}
"""

ITEMS = {"tent": ("Tent", ["camping"]), "stove": ("Stove", ["camping"]), "lamp": ("Lamp", ["camping"]),
         "mat": ("Mat", ["camping"])}
CROWD = [(["tent", "stove"], ["lamp"]), (["stove", "lamp"], ["mat"])]
# Two groups of two for the audit (min_group_size 2), each person having granted both purposes.
AUDITED = {"p1": "18-34", "p2": "18-34", "p3": "55+", "p4": "55+"}


def families_in_source():
    """Every metric family the server can show: the mesura_* names in src/http/*.c."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "src", "http", "*.c")):
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r"\bmesura_[a-z0-9_]*[a-z0-9]\b", f.read()))
    return names


@unittest.skipIf(PROMTOOL is None, "SKIPPED: promtool is not installed: scripts/judges-deps.sh takes it out of "
                                   "Debian's prometheus package (or apt-get install prometheus)")
class MetricsPromtoolTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog,recommend,subjects", "auditor": "audit"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        req, shop, auditor = cls.server.request, cls.server.keys["shop"], cls.server.keys["auditor"]
        build_crowd(cls.server, shop, ITEMS, CROWD, 2)
        for s in ["alice", *AUDITED]:
            for purpose in ("personalization", "audit"):
                st, _, body = req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"},
                                  key=shop)
                assert st == 200, body
        events = [{"subject": "alice", "type": "view", "item": "tent", "event_id": "a1",
                   "properties": {"duration_s": 3, "colour": "red"}},  # colour is dropped
                  {"subject": "alice", "type": "purchase", "item": "tent"},
                  {"subject": "bob", "type": "view", "item": "tent"},  # no consent
                  {"subject": "alice", "type": "teleport", "item": "tent"}]  # invalid
        events += [{"subject": s, "type": "view", "item": "tent" if band == "18-34" else "mat"}
                   for s, band in AUDITED.items()]
        st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200 and body["not_stored"]["no_consent"] == 1 and body["dropped_properties"] == 1, body
        st, _, body = req("DELETE", "/v1/subjects/alice/events/a1", key=shop)  # forgotten
        assert st == 200, body
        for subject in ("alice", None):  # personalized (tent bought: after_purchase suppresses), and not
            st, _, body = req("POST", "/v1/recommendations", {"subject": subject, "count": 4} if subject else
                              {"count": 4}, key=shop)
            assert st == 200, body
        # Errors: 401, 403, 404, 405, 400, with their routes' labels.
        assert req("GET", "/metrics")[0] == 401
        assert req("GET", "/metrics", key=shop)[0] == 403
        assert req("GET", "/no/such/path")[0] == 404
        assert req("DELETE", "/healthz")[0] == 405
        assert req("POST", "/v1/events", "{", key=shop)[0] == 400
        for s, band in AUDITED.items():
            st, _, body = req("PUT", "/v1/audit/subjects/%s/attributes" % s, {"age_band": band}, key=auditor)
            assert st == 200, body
        st, _, body = req("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home", "count": 4},
                          key=auditor)
        assert st == 201, body
        # A head that never ends: the server closes the connection after header_timeout_s.
        with socket.create_connection((cls.server.host, cls.server.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
        deadline = time.monotonic() + 30
        while True:
            st, _, cls.text = req("GET", "/metrics", key=cls.server.keys["admin"])
            assert st == 200, cls.text
            if "mesura_http_deadline_closed_total{" in cls.text or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # the sweeper counts the close on its next pass

    def test_every_family_of_the_source_is_shown(self):
        shown = set(re.findall(r"(?m)^# TYPE (\S+) ", self.text))
        self.assertEqual(sorted(families_in_source() - shown), [],
                         "families the server knows that this traffic did not bring out:\n" + self.text)

    def test_promtool_finds_no_problem(self):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=self.text, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""),
                         "promtool check metrics on GET /metrics:\n" + self.text)

    def test_promtool_is_a_judge(self):
        """The check can fail: promtool does complain about an exposition with a fault in it."""
        bad = self.text.replace("# TYPE mesura_events_total counter", "# TYPE mesura_events_total gauge")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
