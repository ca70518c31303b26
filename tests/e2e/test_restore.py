"""`mesura restore`, the counterpart of `mesura backup`: a backup brought back over a data directory
(with or without a copy of keys.db) answers for the people it held and not for those who came
later; it is refused while a server runs on the directory and when the backup was made with
another master key, and a refusal changes nothing. The erasure journal stays in the directory, is
in no backup and survives every restore. (That a restore never brings back a person erased after
the backup is shown in tests/unit/store/test_journal.c, through the store.)
"""
import os
import shutil
import stat
import tempfile
import unittest
import urllib.parse

from harness import MESURA_BIN, MesuraServer, run_cli


def subj(subject):
    return "/v1/subjects/" + urllib.parse.quote(subject, safe="")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def one_line_error(test, p, *says):
    test.assertEqual(p.returncode, 1, p.stderr)
    test.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
    for s in says:
        test.assertIn(s, p.stderr)


class RestoreTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        if not os.access(MESURA_BIN, os.X_OK):
            raise unittest.SkipTest("no mesura binary at %s (set MESURA_BIN)" % MESURA_BIN)
        cls.server = MesuraServer(keys={"brand": "consent", "dsr": "subjects"})
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise
        cls.copies = tempfile.mkdtemp(prefix="mesura-restore-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()
            cls.server.cleanup()
        shutil.rmtree(cls.copies, ignore_errors=True)

    def grant(self, subject):
        code, _, body = self.server.request("PUT", subj(subject) + "/consents/personalization",
                                            {"status": "granted"}, key=self.server.keys["brand"])
        self.assertEqual(code, 200, body)

    def known(self, subject):
        code, _, body = self.server.request("GET", subj(subject) + "/export", key=self.server.keys["dsr"])
        self.assertIn(code, (200, 404), body)
        return code == 200

    def copy(self, name):
        return os.path.join(self.copies, name)

    def test_backup_restore_round_trip(self):
        s, data = self.server, self.server.data
        journal = os.path.join(data, "erasures.journal")
        self.assertEqual(stat.S_IMODE(os.stat(journal).st_mode), 0o600)
        self.grant("restore-alice")
        self.grant("restore-bob")
        run_cli("backup", "--data", data, self.copy("before.db"))
        self.grant("restore-carol")  # after the backup

        # A running server holds the directory: refused, nothing changed.
        p = run_cli("restore", "--data", data, self.copy("before.db"), check=False)
        one_line_error(self, p, "in use", "stop it")
        self.assertTrue(self.known("restore-carol"))

        self.assertEqual(s.stop(), 0)
        shutil.copy(os.path.join(data, "keys.db"), self.copy("keys.db"))  # the operator's own copy
        journal_before = read_bytes(journal)
        p = run_cli("restore", "--data", data, self.copy("before.db"))
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertIn("restored %s/mesura.db from %s" % (data, self.copy("before.db")), p.stderr)
        self.assertIn("removed 0 erased people again", p.stderr)
        self.assertEqual(read_bytes(journal), journal_before)  # restores never replace it
        for left in ("mesura.db.pre-restore", "mesura.db.restoring"):
            self.assertFalse(os.path.exists(os.path.join(data, left)), left)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(data, "mesura.db")).st_mode), 0o600)

        s.start()
        self.assertTrue(self.known("restore-alice"))
        self.assertTrue(self.known("restore-bob"))
        self.assertFalse(self.known("restore-carol"))  # made after the backup
        self.grant("restore-dave")  # the restored store takes new people

        # With keys.db too.
        self.assertEqual(s.stop(), 0)
        p = run_cli("restore", "--data", data, self.copy("before.db"), "--keys", self.copy("keys.db"))
        self.assertIn("and keys.db from %s" % self.copy("keys.db"), p.stderr)
        s.start()
        self.assertTrue(self.known("restore-alice"))
        self.assertFalse(self.known("restore-dave"))

        # A backup of another store (another master key) is refused, and the directory still works.
        other = os.path.join(self.copies, "other")
        run_cli("init", "--data", other)
        run_cli("backup", "--data", other, self.copy("other.db"))
        self.assertEqual(s.stop(), 0)
        p = run_cli("restore", "--data", data, self.copy("other.db"), check=False)
        one_line_error(self, p, "not made with the master key", "nothing was changed")
        p = run_cli("restore", "--data", data, self.copy("before.db"), "--keys",
                    os.path.join(other, "keys.db"), check=False)
        one_line_error(self, p, "not made with the master key", "nothing was changed")
        s.start()
        self.assertTrue(self.known("restore-alice"))

    def test_restore_refuses_what_is_not_a_backup(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "d")
            run_cli("init", "--data", d)
            junk = os.path.join(tmp, "junk.db")
            with open(junk, "w") as f:
                f.write("this is not a database\n" * 100)
            one_line_error(self, run_cli("restore", "--data", d, junk, check=False), junk)
            one_line_error(self, run_cli("restore", "--data", d, os.path.join(d, "keys.db"), check=False),
                           "is not a backup of mesura.db")
            one_line_error(self, run_cli("restore", "--data", d, os.path.join(tmp, "missing.db"), check=False),
                           "missing.db")
            one_line_error(self, run_cli("restore", "--data", os.path.join(tmp, "nowhere"), junk, check=False),
                           "not a mesura data directory")
            run_cli("keys", "list", "--data", d)  # the directory still opens

    def test_help_and_usage(self):
        self.assertIn("restore", run_cli("help").stdout)
        self.assertIn("--keys KEYSFILE", run_cli("help", "restore").stdout)
        for args in (["restore"], ["restore", "--data", "x"], ["restore", "--data", "x", "a", "b"]):
            p = run_cli(*args, check=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
