"""Event weights end to end (policy model.event_weights): views, clicks, carts and purchases weigh what
the shop says, in what the model learns and in a person's own history, from the next training.

No dataset in shared/data has several behaviour types, so this is a synthetic store whose outcome
can be told in advance. "look" is viewed by six people, "buy" bought by one; with the default
weights (view 1, purchase 8) the one purchase outweighs the six views and "buy" leads the popular
answer. Nina viewed "sofa" (which people view with "cushion") and bought "lamp" (which people buy
with "bulb"): by default her purchase drives, and "bulb" comes before "cushion". The shop then
writes event_weights {view: 20, purchase: 1} in its mesura.yaml and `mesura train` runs again:
"look" leads, and "cushion" comes before "bulb". One server for the file.
"""

import os
import time
import unittest

from harness import ServerTestCase, run_cli

POLICY = """\
site: Weights Shop
purposes:
  personalization: {description: "Suggest products from what you browse and buy"}
event_types:
  view:     {purposes: [personalization], retention_days: 400}
  purchase: {purposes: [personalization], retention_days: 400}
model: {kind: cooc, recent_items_half_life: 0%s}
"""

ITEMS = ["look", "buy", "sofa", "cushion", "lamp", "bulb"]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class EventWeights(ServerTestCase):
    policy = POLICY % ""
    keys = {"shop": "ingest,consent,catalog", "site": "recommend"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.build_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def build_world(cls):
        s, key = cls.server, cls.server.keys["shop"]
        st, _, body = s.request("POST", "/v1/items", {"items": [{"id": i, "title": i.title()} for i in ITEMS]},
                                key=key)
        assert st == 200, body
        now, events = time.time(), []
        people = ["looker-%d" % i for i in range(6)] + ["buyer", "sofa-1", "sofa-2", "lamp-1", "lamp-2", "nina"]
        for who in people:
            st, _, body = s.request("PUT", "/v1/subjects/%s/consents/personalization" % who,
                                    {"status": "granted", "source": "banner"}, key=key)
            assert st == 200, body
        for i in range(6):
            events.append({"subject": "looker-%d" % i, "type": "view", "item": "look", "ts": iso(now - 3600 - i * 60)})
        events.append({"subject": "buyer", "type": "purchase", "item": "buy", "ts": iso(now - 3600)})
        for who in ("sofa-1", "sofa-2"):
            events += [{"subject": who, "type": "view", "item": "sofa", "ts": iso(now - 7200)},
                       {"subject": who, "type": "view", "item": "cushion", "ts": iso(now - 7100)}]
        for who in ("lamp-1", "lamp-2"):
            events += [{"subject": who, "type": "purchase", "item": "lamp", "ts": iso(now - 7200)},
                       {"subject": who, "type": "purchase", "item": "bulb", "ts": iso(now - 7100)}]
        events += [{"subject": "nina", "type": "view", "item": "sofa", "ts": iso(now - 600)},
                   {"subject": "nina", "type": "purchase", "item": "lamp", "ts": iso(now - 600)}]
        st, _, body = s.request("POST", "/v1/events", {"events": events}, key=key)
        assert st == 200 and body["stored"] == len(events), body
        cls.train_and_wait(1)

    @classmethod
    def train_and_wait(cls, n_live):
        p = run_cli("train", "--data", cls.server.data)
        assert p.returncode == 0, p.stderr
        cls.server.wait_for_log(lambda lines: sum(" is live" in l for l in lines) >= n_live, timeout=60)

    def answer(self, **req):
        st, _, reply = self.request("POST", "/v1/recommendations", dict(count=6, **req), key=self.key("site"))
        self.assertEqual(st, 200, reply)
        return [it["item"] for it in reply["items"]], reply

    def order(self, items, a, b):
        self.assertIn(a, items)
        self.assertIn(b, items)
        return items.index(a) < items.index(b)

    def test_weights_change_the_ranking_as_predicted(self):
        items, _ = self.answer()
        self.assertTrue(self.order(items, "buy", "look"), items)  # one purchase (8) > six views (6 x 1)
        items, reply = self.answer(subject="nina")
        self.assertTrue(self.order(items, "bulb", "cushion"), reply)
        bulb = next(it for it in reply["items"] if it["item"] == "bulb")
        self.assertEqual(bulb["reason"]["code"], "bought_together", bulb)

        with open(os.path.join(self.server.data, "mesura.yaml"), "w", encoding="utf-8") as f:
            f.write(POLICY % ", event_weights: {view: 20, purchase: 1}")
        self.train_and_wait(2)

        items, _ = self.answer()
        self.assertTrue(self.order(items, "look", "buy"), items)  # six views (6 x 20) > one purchase (1)
        items, reply = self.answer(subject="nina")
        self.assertTrue(self.order(items, "cushion", "bulb"), reply)
        cushion = next(it for it in reply["items"] if it["item"] == "cushion")
        self.assertEqual(cushion["reason"]["code"], "because_you_viewed", cushion)


if __name__ == "__main__":
    unittest.main()
