"""The command line (contract §1): exit codes, init, keys on a running server, backup, what the
one-shot commands print, the master key check, and the guard that keeps stored purpose and
event-type numbers meaningful when mesura.yaml changes."""
import json
import os
import re
import shutil
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
            self.assertEqual(p.returncode, 1, p.stderr)  # a refusal, not a usage error
            self.assertIn("not empty", p.stderr)
            empty = os.path.join(tmp, "empty")
            os.mkdir(empty)
            run_cli("init", "--data", empty)  # an existing empty directory is fine


def one_line_error(test, p, *says):
    """p failed with exit code 1 and one `mesura: ` line on stderr holding every text of says."""
    test.assertEqual(p.returncode, 1, p.stderr)
    test.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
    test.assertTrue(p.stderr.startswith("mesura: "), p.stderr)
    for text in says:
        test.assertIn(text, p.stderr)


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def shoppers(n_people=12, n_items=10, per_person=5):
    """Items, granted consents and views: enough for a store with subjects, their keys and a model."""
    rows = [{"kind": "item", "id": "i%d" % i, "title": "Item %d" % i} for i in range(n_items)]
    for u in range(n_people):
        rows.append({"kind": "consent", "subject": "u%d" % u, "purpose": "personalization", "status": "granted"})
        rows += [{"kind": "event", "subject": "u%d" % u, "type": "view", "item": "i%d" % ((u + k) % n_items)}
                 for k in range(per_person)]
    return rows


class RefusedInputs(unittest.TestCase):
    """Exit code 2 means the command line was wrong; a refused input or state is 1 (contract §1)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mesura-cli-")
        self.data = os.path.join(self.tmp, "data")
        run_cli("init", "--data", self.data)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_keys_backup_import_and_init_refusals_exit_1(self):
        run_cli("keys", "create", "--data", self.data, "--scopes", "catalog", "--name", "shop")
        one_line_error(self, run_cli("keys", "create", "--data", self.data, "--scopes", "catalog", "--name", "shop",
                                     check=False), "already exists")
        one_line_error(self, run_cli("keys", "revoke", "--data", self.data, "NOPE", check=False))
        out = os.path.join(self.tmp, "copy.db")
        run_cli("backup", "--data", self.data, out)
        one_line_error(self, run_cli("backup", "--data", self.data, out, check=False), out)
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("who,what\na,b\n")
        p = run_cli("import", "--data", self.data, bad, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("line 1", p.stderr)
        one_line_error(self, run_cli("init", "--data", self.data, check=False), "not empty")

    def test_bad_policy_exits_1(self):
        with open(os.path.join(self.data, "mesura.yaml"), "a") as f:
            f.write("\nnot_a_key: 1\n")
        one_line_error(self, run_cli("keys", "list", "--data", self.data, check=False), "mesura.yaml:")
        p = subprocess.run([MESURA_BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        one_line_error(self, p, "mesura.yaml:")


class OneShotCommands(unittest.TestCase):
    """Commands that are not the server print their own progress and results, not the engine's
    log lines ("model 1 is live"), and say what they did in plain words."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mesura-cli-")
        self.data = os.path.join(self.tmp, "data")
        run_cli("init", "--data", self.data)
        path = os.path.join(self.data, "mesura.yaml")
        with open(path) as f:
            text = f.read()
        self.assertIn("model: {kind: auto,", text)
        with open(path, "w") as f:
            f.write(text.replace("model: {kind: auto,", "model: {kind: ease,", 1))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertNoLogLines(self, p):
        logged = [l for l in p.stderr.splitlines() if re.match(r"^(debug|info|warn|error) ", l)]
        self.assertEqual(logged, [], p.stderr)

    def test_no_server_log_lines(self):
        p = run_cli("import", "--data", self.data, write_jsonl(os.path.join(self.tmp, "in.jsonl"), shoppers()))
        self.assertNoLogLines(p)
        self.assertIn("events stored: 60", p.stdout)
        p = run_cli("train", "--data", self.data)
        self.assertNoLogLines(p)
        self.assertRegex(p.stdout, r"^Model 1 trained and saved: an EASE model of 10 items")
        for args in (("keys", "create", "--data", self.data, "--scopes", "ingest", "--name", "shop"),
                     ("keys", "list", "--data", self.data)):
            self.assertNoLogLines(run_cli(*args))  # the engine loads the model at open: still quiet

    def test_keys_list_names_its_columns(self):
        run_cli("keys", "create", "--data", self.data, "--scopes", "ingest,consent", "--name", "shop")
        lines = run_cli("keys", "list", "--data", self.data).stdout.splitlines()
        self.assertEqual(lines[0].split("\t"), ["NAME", "SCOPES", "CREATED", "STATUS"])
        self.assertEqual(lines[1].split("\t")[:2], ["shop", "ingest,consent"])
        self.assertEqual(len(lines[1].split("\t")), 4, lines)


class MasterKeyCheck(unittest.TestCase):
    """A store opens only with its own master key and its own keys.db: a foreign or damaged file is
    refused, by name and path, by every command that opens the store, instead of a store in which
    every subject looks unknown."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mesura-cli-")
        self.data = self.new_store("data")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_store(self, name):
        data = os.path.join(self.tmp, name)
        run_cli("init", "--data", data)
        run_cli("import", "--data", data, write_jsonl(os.path.join(self.tmp, name + ".jsonl"), shoppers(4, 4, 2)))
        return data

    def put_foreign_master_key(self):
        path = os.path.join(self.data, "master.key")
        shutil.copy(path, os.path.join(self.tmp, "own.key"))
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, os.urandom(32))
        os.close(fd)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)  # right size and mode: only the key is wrong
        return path

    def put_own_master_key_back(self):
        shutil.copy(os.path.join(self.tmp, "own.key"), os.path.join(self.data, "master.key"))

    def every_command(self):
        """(name, CompletedProcess) of each command that opens the store."""
        items = write_jsonl(os.path.join(self.tmp, "more.jsonl"), [{"kind": "item", "id": "x", "title": "X"}])
        for args in (("keys", "list"), ("keys", "create", "--scopes", "ingest"), ("keys", "revoke", "shop"),
                     ("train",), ("import", items), ("backup", os.path.join(self.tmp, "b.db"))):
            yield args[0], run_cli(args[0], "--data", self.data, *args[1:], check=False)
        yield "serve", subprocess.run([MESURA_BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0"],
                                      capture_output=True, text=True, timeout=60)

    def test_foreign_master_key_is_refused_by_every_command(self):
        path = self.put_foreign_master_key()
        for name, p in self.every_command():
            with self.subTest(name):
                one_line_error(self, p, "master.key does not open this store (%s)" % path)
        self.put_own_master_key_back()
        run_cli("keys", "list", "--data", self.data)

    def test_store_made_before_the_check(self):
        """A store without a check value is verified by unwrapping a stored subject key, then gets
        the check written."""
        def strip_checks():
            db = sqlite3.connect(os.path.join(self.data, "mesura.db"))
            db.execute("DELETE FROM meta WHERE key = 'master_key_check'")
            db.commit()
            db.close()
            db = sqlite3.connect(os.path.join(self.data, "keys.db"))
            db.execute("DROP TABLE meta")
            db.execute("PRAGMA user_version = 1")
            db.commit()
            db.close()

        def checks():
            out = []
            for name in ("mesura.db", "keys.db"):
                db = sqlite3.connect(os.path.join(self.data, name))
                out.append(db.execute("SELECT value FROM meta WHERE key = 'master_key_check'").fetchall())
                db.close()
            return out

        strip_checks()
        path = self.put_foreign_master_key()
        one_line_error(self, run_cli("keys", "list", "--data", self.data, check=False),
                       "master.key does not open this store (%s)" % path)
        self.put_own_master_key_back()
        run_cli("keys", "list", "--data", self.data)
        data_check, keys_check = checks()
        self.assertEqual(len(data_check), 1)
        self.assertRegex(data_check[0][0], r"^[0-9a-f]{64}$")
        self.assertEqual(keys_check, data_check)
        with open(os.path.join(self.data, "master.key"), "rb") as f:
            self.assertNotIn(f.read().hex(), data_check[0][0])  # the check is not the key
        self.put_foreign_master_key()
        one_line_error(self, run_cli("keys", "list", "--data", self.data, check=False), "master.key")

    def test_foreign_or_damaged_keys_db_is_named(self):
        keys_db = os.path.join(self.data, "keys.db")
        shutil.copy(keys_db, os.path.join(self.tmp, "own-keys.db"))
        other = self.new_store("other")

        def garbage():
            with open(keys_db, "wb") as f:
                f.write(b"garbage " * 1024)

        cases = (
            ("another store's keys.db", lambda: shutil.copy(os.path.join(other, "keys.db"), keys_db),
             "keys.db does not belong to this store (%s)" % keys_db),
            ("not a database", garbage,
             "keys.db is damaged or is not a mesura database (%s)" % keys_db),
            ("mesura.db copied over it", lambda: shutil.copy(os.path.join(self.data, "mesura.db"), keys_db),
             "keys.db (%s) holds tables that are not mesura's" % keys_db),
        )
        for what, damage, says in cases:
            with self.subTest(what):
                damage()
                one_line_error(self, run_cli("keys", "list", "--data", self.data, check=False), says)
                shutil.copy(os.path.join(self.tmp, "own-keys.db"), keys_db)
                run_cli("keys", "list", "--data", self.data)
        shutil.copy(os.path.join(other, "mesura.db"), os.path.join(self.data, "mesura.db"))
        one_line_error(self, run_cli("keys", "list", "--data", self.data, check=False),
                       "mesura.db does not belong to this store (%s)" % os.path.join(self.data, "mesura.db"))


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
            self.assertEqual(p.returncode, 1, p.stderr)
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
