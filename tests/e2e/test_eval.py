"""End to end: `mesura eval-convert` then `mesura eval --model popular --json`
on the four public datasets of shared/data, checked against the reference
figures and split statistics of shared/data/README.md.

MostPopular is fully defined by the protocol, so its figures must match the
reference exactly (here to the 4 printed decimals; 2 for the popularity
ratio). Needs MESURA_BIN (the `mesura` binary) and MESURA_SHARED (the folder
holding data/); each dataset is skipped, saying why, when its file is absent.
"""

import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("MESURA_BIN", "")
SHARED = os.environ.get("MESURA_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
DATA = os.path.join(SHARED, "data")

# dataset -> (converter name, input file, split statistics, MostPopular figures)
CASES = {
    "ml-100k": (
        "ml-100k",
        "ml-100k/u.data",
        {"n_pairs": 55375, "n_train": 44300, "n_test_raw": 11075, "n_test_kept": 10932,
         "n_catalogue": 1350, "n_eval_users": 938},
        {"recall@10": 0.0634, "recall@20": 0.1145, "ndcg@10": 0.0832, "mrr@10": 0.1769,
         "coverage@10": 0.0378, "pop_ratio@10": 8.83},
    ),
    "ml-latest-small": (
        "ml-latest-small",
        "ml-latest-small/ratings.csv",
        {"n_pairs": 48580, "n_train": 38876, "n_test_raw": 9704, "n_test_kept": 8572,
         "n_catalogue": 5299, "n_eval_users": 599},
        {"recall@10": 0.0503, "recall@20": 0.0831, "ndcg@10": 0.0644, "mrr@10": 0.1348,
         "coverage@10": 0.0104, "pop_ratio@10": 23.48},
    ),
    "amazon-musical-instruments-5core": (
        "amazon",
        "amazon-musical-instruments-5core/Musical_Instruments_5.json",
        {"n_pairs": 10261, "n_train": 8284, "n_test_raw": 1977, "n_test_kept": 1958,
         "n_catalogue": 897, "n_eval_users": 1422},
        {"recall@10": 0.0842, "recall@20": 0.1310, "ndcg@10": 0.0463, "mrr@10": 0.0394,
         "coverage@10": 0.0201, "pop_ratio@10": 8.69},
    ),
    # Receipt lines: a household is a subject, every line a purchase; the
    # protocol's item filter (section 1.3) removes 17,491 rare products.
    "completejourney-sample": (
        "completejourney-sample",
        "completejourney-sample/transactions_sample.csv",
        {"n_pairs": 40434, "n_train": 32613, "n_test_raw": 7821, "n_test_kept": 7801,
         "n_catalogue": 3408, "n_eval_users": 1817, "n_items_filtered": 17491},
        {"recall@10": 0.0603, "recall@20": 0.0886, "ndcg@10": 0.0528, "mrr@10": 0.0980,
         "coverage@10": 0.0056, "pop_ratio@10": 20.59},
    ),
}

# Exact values the README gives beside the rounded table.
EXACT = {"completejourney-sample": {"ndcg@10": 0.052776643}}

# Half a unit of the last printed decimal, plus float slack.
TOLERANCE = {"pop_ratio@10": 0.005 + 1e-9}
DEFAULT_TOLERANCE = 0.00005 + 1e-9


class EvalPopular(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BIN or not os.access(BIN, os.X_OK):
            raise unittest.SkipTest("MESURA_BIN is not set to the mesura binary")
        cls.tmp = tempfile.TemporaryDirectory(prefix="mesura-e2e-eval-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_dataset(self, name):
        conv, rel, split, figures = CASES[name]
        src = os.path.join(DATA, rel)
        if not os.path.isfile(src):
            self.skipTest("dataset %s is absent (%s); see shared/data/README.md" % (name, src))
        out = os.path.join(self.tmp.name, name + ".csv")
        p = subprocess.run([BIN, "eval-convert", "--dataset", conv, "--input", src, "--output", out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([BIN, "eval", "--input", out, "--model", "popular", "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, "--json prints one line: %r" % p.stdout)
        got = json.loads(lines[0])
        self.assertEqual(got["model"], "popular")
        self.assertEqual(got["hyperparameters"], {})
        self.assertNotIn("purchases", got)
        for key, want in split.items():
            self.assertEqual(got[key], want, "%s: %s" % (name, key))
        self.assertEqual(got["dropped_test_unseen_item"] + got["dropped_test_in_training"],
                         split["n_test_raw"] - split["n_test_kept"])
        for key, want in figures.items():
            tol = TOLERANCE.get(key, DEFAULT_TOLERANCE)
            self.assertAlmostEqual(got[key], want, delta=tol, msg="%s: %s" % (name, key))
        for key, want in EXACT.get(name, {}).items():
            self.assertAlmostEqual(got[key], want, delta=1e-6, msg="%s: %s (exact)" % (name, key))

    def test_ml_100k(self):
        self.run_dataset("ml-100k")

    def test_ml_latest_small(self):
        self.run_dataset("ml-latest-small")

    def test_amazon(self):
        self.run_dataset("amazon-musical-instruments-5core")

    def test_completejourney_sample(self):
        self.run_dataset("completejourney-sample")

    def test_malformed_line_exits_1(self):
        path = os.path.join(self.tmp.name, "bad.csv")
        with open(path, "w") as f:
            f.write("subject,item,ts\nu1,i1,100\nu1,i2,yesterday\n")
        p = subprocess.run([BIN, "eval", "--input", path, "--model", "popular"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)  # a malformed file is not a usage error
        self.assertIn("line 3", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_usage_exits_2(self):
        p = subprocess.run([BIN, "eval"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)


class EvalServed(unittest.TestCase):
    """`--model served`: the protocol run through the real served path (a
    temporary store, consents, ingestion, mes_model_train, mes_recommend).
    Same split as every other model; ml-100k only, to stay well under a
    minute."""

    @classmethod
    def setUpClass(cls):
        if not BIN or not os.access(BIN, os.X_OK):
            raise unittest.SkipTest("MESURA_BIN is not set to the mesura binary")
        src = os.path.join(DATA, "ml-100k", "u.data")
        if not os.path.isfile(src):
            raise unittest.SkipTest("dataset ml-100k is absent (%s); see shared/data/README.md" % src)
        cls.tmp = tempfile.TemporaryDirectory(prefix="mesura-e2e-served-")
        cls.csv = os.path.join(cls.tmp.name, "ml-100k.csv")
        p = subprocess.run([BIN, "eval-convert", "--dataset", "ml-100k", "--input", src, "--output", cls.csv],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(p.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def eval_json(self, model, env=None, extra=()):
        # served runs the whole path once per configuration of its grid;
        # model None leaves --model out
        args = [BIN, "eval", "--input", self.csv, "--json", *extra]
        if model is not None:
            args += ["--model", model]
        p = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, "--json prints one line: %r" % p.stdout)
        return json.loads(lines[0])

    def test_served_ml_100k(self):
        popular = self.eval_json("popular")
        # The run's store lives under TMPDIR: a fresh one shows it is removed.
        scratch = os.path.join(self.tmp.name, "scratch")
        os.mkdir(scratch)
        # Without --model, eval measures what the product serves.
        got = self.eval_json(None, env=dict(os.environ, TMPDIR=scratch))
        self.assertEqual(os.listdir(scratch), [], "the temporary data directory is removed")
        self.assertEqual(got["model"], "served")
        # The policy keys eval chooses on validation, named as mesura.yaml names them.
        hp = got["hyperparameters"]
        keys = ["relation_half_life_days", "recent_items_half_life", "history_half_life_days", "complements_pct",
                "ease_lambda", "neighbors"]
        self.assertEqual(sorted(hp), sorted(keys))
        self.assertIn((hp["relation_half_life_days"], hp["ease_lambda"]), ((365, 200), (0, 200), (0, 10000)))
        self.assertIn(hp["recent_items_half_life"], (0, 3, 10))
        self.assertIn(hp["history_half_life_days"], (0, 30))
        self.assertIn(hp["complements_pct"], (30, 150))
        self.assertEqual(hp["neighbors"], 200)
        # The line a shop pastes into mesura.yaml.
        self.assertEqual(got["chosen"], "model: {kind: auto, %s}" % ", ".join("%s: %d" % (k, hp[k]) for k in keys))
        self.assertGreater(got["validation_ndcg@10"], 0.0)
        for key in ("n_pairs", "n_train", "n_test_raw", "n_test_kept", "dropped_test_unseen_item",
                    "dropped_test_in_training", "n_catalogue", "n_eval_users", "n_items_filtered"):
            self.assertEqual(got[key], popular[key], key)
        settings = got["settings"]
        self.assertTrue(settings["model.kind"].startswith("ease (policy: auto)"), settings)
        self.assertTrue(settings["loaded"].startswith("1447 items, 942 consents, 44300 events"), settings)
        self.assertEqual(settings["not personalized"], "0 answers")
        # Purchases are never offered again, so every answered item is a
        # candidate of the protocol, and 20 come for every user.
        self.assertEqual(got["n_answered_not_candidate"], 0)
        self.assertEqual(got["n_short_answers"], 0)
        # bench/README.md gives 0.1519: far above MostPopular (0.0832),
        # level with EASE (0.1519).
        self.assertGreater(got["ndcg@10"], 0.12)
        self.assertGreater(got["ndcg@10"], popular["ndcg@10"])
        for key in ("recall@10", "recall@20", "mrr@10", "coverage@10"):
            self.assertGreater(got[key], 0.0, key)

    def test_validation_only_never_reads_test(self):
        got = self.eval_json("ease", extra=("--validation-only",))
        self.assertTrue(got["validation_only"])
        self.assertEqual(got["hyperparameters"], {"lambda": 200.0})  # the reference's choice on ml-100k
        self.assertAlmostEqual(got["validation_ndcg@10"], 0.1477, places=4)
        for key in ("ndcg@10", "recall@10", "recall@20", "mrr@10", "coverage@10", "pop_ratio@10", "fit_s"):
            self.assertNotIn(key, got, "no test figure without a test run")

    def test_unwritable_tmpdir_fails_cleanly(self):
        missing = os.path.join(self.tmp.name, "no-such-dir")
        p = subprocess.run([BIN, "eval", "--input", self.csv, "--model", "served"], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, TMPDIR=missing))
        self.assertEqual(p.returncode, 1)
        self.assertIn("temporary directory", p.stderr)
        self.assertEqual(p.stdout, "")


class EvalCatalog(unittest.TestCase):
    """The shop's catalog beside the interactions: `eval-convert --catalog`
    writes The Complete Journey's products as `mesura import` item lines,
    and `eval --catalog` files the served path's items under their
    categories. A small synthetic folder in the dataset's formats keeps it
    to seconds."""

    TX_HEAD = ("household_id,store_id,basket_id,product_id,quantity,sales_value,retail_disc,coupon_disc,"
               "coupon_match_disc,week,transaction_timestamp")
    PRODUCTS = ["product_id,manufacturer_id,department,brand,product_category,product_type,package_size",
                "101,1,GROCERY,Private,EGGS,EGGS - LARGE,1 DZ",
                "102,1,GROCERY,National,DINNER MXS:DRY,DINNER MIX,7 OZ",
                "103,1,PRODUCE,Private,PRODUCE,BANANAS,40 LB",
                "104,1,PRODUCE,Private,APPLES,APPLES GALA,3 LB",
                "105,2,DRUG GM,National,BABY HBC,BABY POWDERS,15 OZ",
                "106,2,DRUG GM,National,COLD AND FLU,COUGH DROPS,20 CT",
                "107,2,MEAT,National,BEEF,GROUND BEEF,1 LB",
                "108,2,MEAT,National,CHICKEN,CHICKEN BREAST,2 LB"]

    @classmethod
    def setUpClass(cls):
        if not BIN or not os.access(BIN, os.X_OK):
            raise unittest.SkipTest("MESURA_BIN is not set to the mesura binary")
        cls.tmp = tempfile.TemporaryDirectory(prefix="mesura-e2e-catalog-")
        cls.folder = os.path.join(cls.tmp.name, "cj")
        os.mkdir(cls.folder)
        with open(os.path.join(cls.folder, "products.csv"), "w") as f:
            f.write("\n".join(cls.PRODUCTS) + "\n")
        lines = [cls.TX_HEAD]
        for h in range(40):  # each household buys 6 of the 8 products a month apart, then its first again
            for k in range(7):
                product = 101 + (h + (k % 6) * (1 + 2 * (h % 4))) % 8
                lines.append("%d,1,%d,%d,1,1.0,0,0,0,1,2017-%02d-%02dT10:00:00Z"
                             % (1000 + h, h * 10 + k, product, 1 + k, 1 + h % 28))
        with open(os.path.join(cls.folder, "transactions_sample.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        cls.csv = os.path.join(cls.tmp.name, "cj.csv")
        cls.items = os.path.join(cls.tmp.name, "cj-items.jsonl")
        p = subprocess.run([BIN, "eval-convert", "--dataset", "completejourney-sample", "--input", cls.folder,
                            "--output", cls.csv, "--catalog", cls.items], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        cls.convert_stderr = p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_catalog_is_what_a_shop_imports(self):
        self.assertIn("8 catalog items written", self.convert_stderr)
        with open(self.items) as f:
            items = [json.loads(line) for line in f]
        self.assertEqual(items[1], {"kind": "item", "id": "102", "title": "DINNER MIX",
                                    "categories": ["GROCERY", "DINNER MXS:DRY"], "available": True})
        self.assertEqual(items[2]["categories"], ["PRODUCE"])  # department and category alike: once
        # `mesura import` takes every line as an item of the catalog.
        data = os.path.join(self.tmp.name, "store")
        p = subprocess.run([BIN, "init", "--data", data], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([BIN, "import", "--data", data, self.items], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"items:\s*8\b")

    def test_served_files_items_under_the_catalogs_categories(self):
        def run(extra):
            p = subprocess.run([BIN, "eval", "--input", self.csv, "--model", "served", "--json", *extra],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout)
        plain, with_catalog = run([]), run(["--catalog", self.items])
        self.assertEqual(plain["settings"]["catalog"], "none given: every item under the category shop")
        # 8 products, 8 departments and categories less the two named alike (PRODUCE, twice).
        self.assertEqual(with_catalog["settings"]["catalog"], "8 items of the shop's catalog, 11 categories")
        # Buy again runs on the catalog's categories, each declared repeat as a grocer would.
        # Every household bought its first product again after its training part.
        self.assertEqual(with_catalog["buy_again"]["users"], 40)
        self.assertEqual(with_catalog["buy_again"], plain["buy_again"])

    def test_bad_catalogs(self):
        bad = os.path.join(self.tmp.name, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"kind": "item", "id": "101", "categories": ["EGGS"]}\n{"kind": "event"}\n')
        p = subprocess.run([BIN, "eval", "--input", self.csv, "--catalog", bad], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 2", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        other = os.path.join(self.tmp.name, "other.jsonl")
        with open(other, "w") as f:
            f.write('{"kind": "item", "id": "not-sold-here", "categories": ["EGGS"]}\n')
        p = subprocess.run([BIN, "eval", "--input", self.csv, "--catalog", other, "--model", "served"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("none of the items", p.stderr)
        # A baseline reads no catalog; a dataset without categories has none to write.
        p = subprocess.run([BIN, "eval", "--input", self.csv, "--catalog", self.items, "--model", "popular"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        p = subprocess.run([BIN, "eval-convert", "--dataset", "ml-100k", "--input", self.folder, "--output",
                            os.path.join(self.tmp.name, "x.csv"), "--catalog", os.path.join(self.tmp.name, "x.jsonl")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
