"""`mesura keys rotate-master`: refused, with a one-line instruction and nothing changed, while the
server runs; with the server stopped it re-wraps every subject key under a new master.key, and the
restarted server reads everyone's data, keeps its receipt key and its event-id hashes (a client's
retry of an old event stays one event); the old master.key is refused by name afterwards, and the
new one serves again. (A rotation killed at each of its steps: tests/unit/engine/test_rotate.c.)
"""
import os
import shutil
import stat
import tempfile
import unittest

from harness import MESURA_BIN, MesuraError, MesuraServer, run_cli

POLICY = """\
site: Rotate Test
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
"""

PEOPLE = ("alice", "bob", "carol")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_key(path, data):
    os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class RotateMasterTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        if not os.access(MESURA_BIN, os.X_OK):
            raise unittest.SkipTest("no mesura binary at %s (set MESURA_BIN)" % MESURA_BIN)
        cls.server = MesuraServer(policy=POLICY, keys={"shop": "ingest,consent,catalog", "dsr": "subjects"})
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise
        cls.copies = tempfile.mkdtemp(prefix="mesura-rotate-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()
            cls.server.cleanup()
        shutil.rmtree(cls.copies, ignore_errors=True)

    def export(self, subject):
        code, _, doc = self.server.request("GET", "/v1/subjects/%s/export" % subject, key=self.server.keys["dsr"])
        self.assertEqual(code, 200, doc)
        return doc

    def rotate(self):
        return run_cli("keys", "rotate-master", "--data", self.server.data, check=False)

    def test_rotation(self):
        s = self.server
        shop = s.keys["shop"]
        for p in PEOPLE:
            code, _, body = s.request("PUT", "/v1/subjects/%s/consents/personalization" % p, {"status": "granted"},
                                      key=shop)
            self.assertEqual(code, 200, body)
        code, _, body = s.request("POST", "/v1/events", {"events": [
            {"subject": p, "type": "view", "item": "tent", "event_id": "e-" + p} for p in PEOPLE]}, key=shop)
        self.assertEqual((code, body.get("stored")), (200, 3), body)
        before = {p: self.export(p) for p in PEOPLE}
        pk_before = s.request("GET", "/v1/receipts/public-key")[2]
        key_path = os.path.join(s.data, "master.key")
        old_key = read_bytes(key_path)

        # While the server runs: refused, one line, what to do, nothing changed.
        p = self.rotate()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("stop it, run `mesura keys rotate-master --data %s`, then start it again" % s.data, p.stderr)
        self.assertEqual(read_bytes(key_path), old_key)
        self.assertFalse(os.path.exists(key_path + ".new"))
        self.assertEqual(self.export("alice")["consents"], before["alice"]["consents"])

        s.stop()
        p = self.rotate()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("re-wrapped 3 subject keys", p.stderr)
        new_key = read_bytes(key_path)
        self.assertNotEqual(new_key, old_key)
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        self.assertFalse(os.path.exists(key_path + ".new"))

        # Everything readable after a restart; same receipt key; a retried event is no new event.
        s.start()
        for person in PEOPLE:
            doc = self.export(person)
            self.assertEqual(doc["consents"], before[person]["consents"])
            self.assertEqual(len(doc["events"]), 1, doc)
        self.assertEqual(s.request("GET", "/v1/receipts/public-key")[2], pk_before)
        code, _, body = s.request("POST", "/v1/events", {"events": [
            {"subject": "alice", "type": "view", "item": "tent", "event_id": "e-alice"}]}, key=shop)
        self.assertEqual(code, 200, body)
        self.assertEqual(len(self.export("alice")["events"]), 1)
        code, _, body = s.request("PUT", "/v1/subjects/dave/consents/personalization", {"status": "granted"},
                                  key=shop)
        self.assertEqual(code, 200, body)
        s.stop()

        # The old master.key put back: refused by every command and by the server, by name.
        shutil.copy(key_path, os.path.join(self.copies, "new.key"))
        write_key(key_path, old_key)
        p = run_cli("keys", "list", "--data", s.data, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("master.key is a retired key of this store", p.stderr)
        with self.assertRaises(MesuraError):
            s.start()
        self.assertTrue(any("retired key" in line for line in s.log_lines()), s.log_lines())

        # The new one back: serving again, the newcomer too.
        write_key(key_path, new_key)
        s.start()
        self.assertEqual(self.export("dave")["consents"]["purposes"]["personalization"]["status"], "granted")
        self.assertEqual(self.export("bob")["consents"], before["bob"]["consents"])

    def test_usage(self):
        for args in (["keys", "rotate-master"], ["keys", "rotate-master", "--data", "x", "extra"],
                     ["keys", "rotate-master", "--data", "x", "--scopes", "admin"]):
            p = run_cli(*args, check=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        p = run_cli("keys", "rotate-master", "--data", os.path.join(self.copies, "nowhere"), check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("not a mesura data directory", p.stderr)
        self.assertIn("keys rotate-master --data DIR", run_cli("help", "keys").stdout)


if __name__ == "__main__":
    unittest.main()
