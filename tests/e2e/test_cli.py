"""The command line (contract §1): exit codes, init, keys on a running server, backup, and the
guard that keeps stored purpose and event-type numbers meaningful when mesura.yaml changes."""
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from harness import MESURA_BIN, MesuraServer, run_cli


class CliBasics(unittest.TestCase):
    def test_version_and_help(self):
        p = run_cli("--version")
        self.assertRegex(p.stdout, r"^mesura \d+\.\d+\.\d+\n$")
        p = run_cli("help")
        for cmd in ("init", "serve", "keys", "backup", "import", "demo", "eval"):
            self.assertIn(cmd, p.stdout)
        self.assertIn("--tls-cert", run_cli("help", "serve").stdout)

    def test_usage_errors_exit_2_with_one_line(self):
        for args in (["frobnicate"], ["init"], ["keys", "create", "--data", "/nonexistent"],
                     ["serve", "--data", "x", "--tls-cert", "a"], ["init", "--data"], ["help", "nope"],
                     ["keys", "create", "--data", "x", "--scopes", "ingest,root"]):
            p = run_cli(*args, check=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, (args, p.stderr))
            self.assertTrue(p.stderr.startswith("mesura: "), p.stderr)

    def test_other_errors_exit_1(self):
        p = run_cli("keys", "list", "--data", "/nonexistent-dir", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_init_makes_a_private_store_and_refuses_a_non_empty_dir(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "s")
            run_cli("init", "--data", d)
            self.assertEqual(os.stat(os.path.join(d, "master.key")).st_mode & 0o777, 0o600)
            with open(os.path.join(d, "mesura.yaml")) as f:
                self.assertIn("#", f.read())  # commented
            p = run_cli("init", "--data", d, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("not empty", p.stderr)
            empty = os.path.join(tmp, "empty")
            os.mkdir(empty)
            run_cli("init", "--data", empty)  # an existing empty directory is fine


class KeysAndBackup(harness.ServerTestCase):
    keys = {"admin": "admin"}

    def test_key_created_and_revoked_while_running_takes_effect_within_a_second(self):
        key = self.server.create_key("late", "catalog")
        deadline = time.monotonic() + 1.5
        while True:
            status, _, _ = self.request("GET", "/v1/items", key=key)
            if status == 200 or time.monotonic() > deadline:
                break
        self.assertEqual(status, 200)
        status, _, _ = self.request("GET", "/v1/items", key="mes_not-a-key")
        self.assertEqual(status, 401)
        listing = run_cli("keys", "list", "--data", self.server.data).stdout
        self.assertIn("late\tcatalog", listing)
        self.assertNotIn(key, listing)  # only hashes are stored
        run_cli("keys", "revoke", "--data", self.server.data, "late")
        deadline = time.monotonic() + 1.5
        while True:
            status, _, _ = self.request("GET", "/v1/items", key=key)
            if status == 401 or time.monotonic() > deadline:
                break
        self.assertEqual(status, 401)
        self.assertIn("revoked", run_cli("keys", "list", "--data", self.server.data).stdout)
        p = run_cli("keys", "revoke", "--data", self.server.data, "no-such-key", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_backup_while_serving_is_consistent_and_holds_no_keys(self):
        admin = self.key("admin")
        self.assertEqual(self.request("PUT", "/v1/items/tent-2p", {"title": "Tent 2p"}, key=admin)[0], 200)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "copy.db")
            run_cli("backup", "--data", self.server.data, out)
            db = sqlite3.connect(out)
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(db.execute("SELECT count(*) FROM items").fetchone()[0], 1)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self.assertNotIn("subject_keys", tables)
            db.close()
            p = run_cli("backup", "--data", self.server.data, out, check=False)
            self.assertNotEqual(p.returncode, 0)  # never overwrites a file


class PolicyPinning(unittest.TestCase):
    """Stored rows name purposes and event types by position: an edit may add, never reorder."""

    def test_reorder_refused_at_start_and_on_sighup_append_accepted(self):
        s = MesuraServer(keys={"admin": "admin"})
        try:
            s.start()
            path = os.path.join(s.data, "mesura.yaml")
            with open(path) as f:
                original = f.read()
            # Renaming the first event type is the simplest edit that moves a pinned name.
            with open(path, "w") as f:
                f.write(original.replace("  view:", "  looked_at:", 1))
            s.signal(signal.SIGHUP)
            s.wait_for_log(lambda lines: any("missing or moved" in l for l in lines), timeout=10)
            self.assertEqual(s.request("GET", "/healthz")[0], 200)  # old policy stays
            self.assertEqual(s.stop(), 0)
            p = subprocess.run([MESURA_BIN, "serve", "--data", s.data, "--listen", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("event type 'view'", p.stderr)
            # Adding a new event type at the end is fine.
            with open(path, "w") as f:
                line = next(l for l in original.split("\n") if l.startswith("  dismiss:"))
                f.write(original.replace(line, line + "\n  wishlist:    {purposes: [personalization], retention_days: 30}", 1))
            s.start()
            self.assertEqual(s.request("GET", "/healthz")[0], 200)
        finally:
            s.stop()
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
