/*
 * cli — the synthetic store of `mesura demo`: a seeded, deterministic
 * generator of a catalog and of shoppers' journeys, written as one JSON Lines
 * file in the import format, which the demo then loads through `mesura
 * import`'s path (so the demo's data pass the consent gate like any other).
 *
 * The catalog spans everyday categories (camping, kitchen, books, garden,
 * sports), sensitive ones (baby & pregnancy, health) and a once-in-a-lifetime
 * one (wedding dresses). Shoppers have one or two favourite categories, some
 * are expecting a baby, planning a wedding or looking after their health;
 * they browse in sessions over the last 30 days, add to cart and sometimes
 * buy. Most granted personalization, some also ads, some sent Global Privacy
 * Control, and some never answered the banner (their events are not kept).
 *
 * Some of those who granted personalization also agreed to take part in
 * fairness audits, and the demo records synthetic attributes for them, with
 * two findings planted for an audit to make: age goes with the favourite
 * categories (younger people like camping and sports, older ones books and
 * the garden), so what the groups are shown differs; and the postal code
 * goes with a synthetic ethnicity, so that it stands in for it (a proxy).
 * They come from a generator of their own, so that the shoppers and their
 * journeys are the same with or without them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/mtime.h"
#include "cli/cli_int.h"

#define DEMO_SEED 0x6d657375726131ULL /* "mesura1" */
#define DAY_MS 86400000LL
#define N_ITEMS_PER_CATEGORY 40
#define N_ITEMS_WEDDING 24

/* ---------------------------------------------------------------- randomness */

struct rng {
  uint64_t s;
};

static uint64_t next_u64(struct rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int below(struct rng *r, int n) { return (int)(next_u64(r) % (uint64_t)n); }
/* True with probability pct / 100. */
static bool chance(struct rng *r, int pct) { return below(r, 100) < pct; }

/* ---------------------------------------------------------------- the catalog */

struct demo_cat {
  const char *name;
  const char *label_en, *label_es, *label_pl;
  bool sensitive, once;
  const char *const *nouns;
  const char *const *adjs;
  int min_price, max_price; /* whole euros */
  const signed char (*complements)[3];
};

static const char *const camping_n[] = {"Tent", "Sleeping Bag", "Camping Stove", "Headlamp", "Backpack",
                                        "Sleeping Mat", "Water Filter", "Camp Chair", "Lantern", "Cookset", NULL};
static const char *const kitchen_n[] = {"Chef's Knife", "Frying Pan", "Dutch Oven", "Cutting Board", "Kettle",
                                        "Stand Mixer", "Coffee Grinder", "Saucepan", "Spice Rack", "Blender", NULL};
static const char *const books_n[] = {"Mystery Novel", "Cookbook", "Travel Guide", "Poetry Collection", "Biography",
                                      "Science Fiction Novel", "Gardening Handbook", "History of Europe",
                                      "Children's Picture Book", "Photography Manual", NULL};
static const char *const garden_n[] = {"Pruning Shears", "Garden Hose", "Raised Bed", "Watering Can", "Compost Bin",
                                       "Seed Set", "Lawn Mower", "Wheelbarrow", "Bird Feeder", "Garden Gloves", NULL};
static const char *const sports_n[] = {"Running Shoes", "Yoga Mat", "Tennis Racket", "Cycling Helmet", "Dumbbells",
                                       "Football", "Swim Goggles", "Jump Rope", "Fitness Tracker", "Water Bottle",
                                       NULL};
static const char *const baby_n[] = {"Crib", "Stroller", "Baby Monitor", "Maternity Pillow", "Nursing Bra",
                                     "Diaper Bag", "Car Seat", "Baby Carrier", "Pregnancy Vitamins",
                                     "Stroller Rain Cover", NULL};
static const char *const health_n[] = {"Blood Pressure Monitor", "Thermometer", "Knee Brace", "Glucose Meter",
                                       "Hearing Aid Batteries", "Posture Corrector", "Pill Organiser",
                                       "Heating Pad", "Compression Socks", "First Aid Kit", NULL};
static const char *const wedding_n[] = {"Wedding Dress", "Bridal Gown", "Lace Wedding Dress", "Bridal Veil", NULL};

/* What goes with what: for noun i of a category, up to three nouns (by
 * index in the same list) that people buy after it; -1 ends a row. The
 * journeys buy these some days after the anchor, which is what the
 * bought-together relation must learn (the sleeping bag after the tent, the
 * rain cover after the stroller), while browsing several variants of one noun
 * is what viewed-together (substitutes) learns. */
static const signed char camping_c[10][3] = {{1, 5, 3}, {5, -1}, {9, 8, -1}, {8, -1}, {6, 3, -1},
                                             {1, -1},   {4, -1}, {8, -1},    {3, -1}, {2, -1}};
static const signed char kitchen_c[10][3] = {{3, -1}, {7, 8, -1}, {8, -1}, {0, -1}, {6, -1},
                                             {9, -1}, {4, -1},    {1, -1}, {2, -1}, {5, -1}};
static const signed char books_c[10][3] = {{5, -1}, {6, -1}, {9, -1}, {4, -1}, {7, -1},
                                           {0, -1}, {1, -1}, {4, -1}, {3, -1}, {2, -1}};
static const signed char garden_c[10][3] = {{9, -1}, {3, -1}, {5, 4, -1}, {1, -1}, {2, -1},
                                            {2, 9, -1}, {9, 7, -1}, {9, -1}, {5, -1}, {0, -1}};
static const signed char sports_c[10][3] = {{9, 8, -1}, {7, -1}, {9, -1}, {9, -1}, {1, -1},
                                            {9, -1},    {9, -1}, {1, -1}, {0, -1}, {8, -1}};
static const signed char baby_c[10][3] = {{2, -1}, {9, 5, 6}, {0, -1}, {4, 8, -1}, {3, -1},
                                          {1, -1}, {1, -1},   {5, -1}, {3, -1},    {5, -1}};
static const signed char health_c[10][3] = {{6, -1}, {9, -1}, {8, -1}, {6, -1}, {5, -1},
                                            {2, -1}, {3, -1}, {2, -1}, {2, -1}, {1, -1}};
static const signed char wedding_c[10][3] = {{3, -1}, {3, -1}, {3, -1}, {0, -1}};

static const char *const everyday_a[] = {"Classic", "Compact", "Deluxe", "Lightweight", "Eco", "Pro", "Family",
                                         "Essential", NULL};
static const char *const soft_a[] = {"Gentle", "Comfort", "Premium", "Everyday", "Soft", "Travel", NULL};
static const char *const wedding_a[] = {"Ivory", "A-line", "Mermaid", "Vintage", "Boho", "Satin", NULL};

static const struct demo_cat cats[] = {
    {"camping", "Camping", "Acampada", "Kemping", false, false, camping_n, everyday_a, 15, 400, camping_c},
    {"kitchen", "Kitchen", "Cocina", "Kuchnia", false, false, kitchen_n, everyday_a, 8, 350, kitchen_c},
    {"books", "Books", "Libros", "Książki", false, false, books_n, soft_a, 6, 45, books_c},
    {"garden", "Garden", "Jardín", "Ogród", false, false, garden_n, everyday_a, 5, 500, garden_c},
    {"sports", "Sports", "Deportes", "Sport", false, false, sports_n, everyday_a, 7, 250, sports_c},
    {"baby", "Baby & pregnancy", "Bebé y embarazo", "Dziecko i ciąża", true, false, baby_n, soft_a, 12, 600, baby_c},
    {"health", "Health", "Salud", "Zdrowie", true, false, health_n, soft_a, 5, 180, health_c},
    {"wedding-dress", "Wedding dresses", "Vestidos de novia", "Suknie ślubne", false, true, wedding_n, wedding_a, 400,
     3000, wedding_c},
};
#define N_CATS (sizeof cats / sizeof cats[0])
enum { C_BABY = 5, C_HEALTH = 6, C_WEDDING = 7, N_EVERYDAY = 5 };

static int count_of(const char *const *list) {
  int n = 0;
  while (list[n])
    n++;
  return n;
}

static int items_in(size_t c) { return c == C_WEDDING ? N_ITEMS_WEDDING : N_ITEMS_PER_CATEGORY; }

/* The item id of the k-th item of category c: "camping-017". */
static void item_id(size_t c, int k, char *out, size_t cap) { snprintf(out, cap, "%s-%03d", cats[c].name, k); }

static int item_price(size_t c, int k) {
  struct rng r = {DEMO_SEED ^ (c * 1000003u + (uint64_t)k)};
  return cats[c].min_price + below(&r, cats[c].max_price - cats[c].min_price + 1);
}

/* Writes one JSON value as a line. */
static int put_line(FILE *f, json_t *v) {
  if (!v)
    return -1;
  int rc = json_dumpf(v, f, JSON_COMPACT);
  json_decref(v);
  return rc || fputc('\n', f) == EOF ? -1 : 0;
}

static int write_catalog(FILE *f, struct rng *r) {
  static const char *const brands[] = {"Acme", "Nordvik", "Sol", "Brava", "Kestrel", "Lumo", "Tamarind", "Ostra"};
  for (size_t c = 0; c < N_CATS; c++) {
    int n_nouns = count_of(cats[c].nouns), n_adjs = count_of(cats[c].adjs);
    for (int k = 0; k < items_in(c); k++) {
      char id[64], title[128];
      item_id(c, k, id, sizeof id);
      snprintf(title, sizeof title, "%s %s", cats[c].adjs[(k / n_nouns) % n_adjs], cats[c].nouns[k % n_nouns]);
      json_t *categories = json_pack("[s]", cats[c].name);
      /* A few crossovers, as real catalogs have: camping cookbooks, sports for health. */
      if (c == 2 && k % n_nouns == 1 && chance(r, 50))
        json_array_append_new(categories, json_string("kitchen"));
      if (c == C_HEALTH && k % n_nouns == 2)
        json_array_append_new(categories, json_string("sports"));
      json_t *v = json_pack("{s:s, s:s, s:s, s:o, s:{s:i, s:s, s:s}, s:b}", "kind", "item", "id", id, "title", title,
                            "categories", categories, "attributes", "price", item_price(c, k), "currency", "EUR",
                            "brand", brands[below(r, 8)], "available", !chance(r, 4));
      if (put_line(f, v))
        return -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- audit attributes */

#define AUDIT_SEED 0x6175646974ULL /* "audit" */
enum { C_CAMPING = 0, C_BOOKS = 2, C_GARDEN = 3, C_SPORTS = 4 };

/* Whether the shopper (who granted personalization) also agreed to audits,
 * and if so their synthetic attributes (new object in *attrs). */
static int audit_attributes(struct rng *r, int fav, json_t **attrs) {
  *attrs = NULL;
  if (!chance(r, 60))
    return 0;
  /* Age with the favourite category: 70% in the band it suggests. */
  static const char *const bands[] = {"18-34", "35-54", "55+"};
  int band = fav == C_CAMPING || fav == C_SPORTS ? 0 : fav == C_BOOKS || fav == C_GARDEN ? 2 : 1;
  if (!chance(r, 70))
    band = below(r, 3);
  int g = below(r, 100);
  const char *gender = g < 48 ? "f" : g < 97 ? "m" : "nb"; /* "nb": a group under the minimum */
  bool b = chance(r, 30);
  /* The planted proxy: most of group b lives in one postal code, few of group a do. */
  static const char *const spread[] = {"28001", "28002", "28003"};
  const char *postal = b ? (chance(r, 85) ? "28040" : spread[below(r, 3)])
                         : (chance(r, 10) ? "28040" : spread[below(r, 3)]);
  *attrs = json_pack("{s:s, s:s, s:s, s:s}", "age_band", bands[band], "gender", gender, "ethnicity",
                     b ? "group-b" : "group-a", "postal_code", postal);
  return *attrs ? 0 : -1;
}

/* ---------------------------------------------------------------- shoppers */

struct shopper {
  char id[32];
  int favs[2];
  int n_favs;
  bool expecting, wedding, health;
  bool personalization, ads, gpc;
};

static void shopper_make(struct rng *r, int i, struct shopper *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->id, sizeof s->id, "shopper-%04d", i + 1);
  s->n_favs = 1 + chance(r, 45);
  s->favs[0] = below(r, N_EVERYDAY);
  s->favs[1] = (s->favs[0] + 1 + below(r, N_EVERYDAY - 1)) % N_EVERYDAY;
  s->expecting = chance(r, 12);
  s->wedding = chance(r, 5);
  s->health = chance(r, 8);
  s->gpc = chance(r, 10);
  s->personalization = chance(r, 78);
  s->ads = s->personalization && !s->gpc && chance(r, 35);
}

static int write_consents(FILE *f, const struct shopper *s, int64_t now_ms, struct rng *r) {
  int64_t ts = now_ms - 70 * DAY_MS + below(r, 5 * 24) * 3600000LL;
  if (s->personalization) {
    if (put_line(f, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", "consent", "subject", s->id, "purpose",
                              "personalization", "status", "granted", "ts", (json_int_t)ts, "source", "banner")))
      return -1;
  } else if (chance(r, 40)) {
    if (put_line(f, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", "consent", "subject", s->id, "purpose",
                              "personalization", "status", "denied", "ts", (json_int_t)ts, "source", "banner")))
      return -1;
  }
  if (s->ads || s->gpc) {
    /* A browser sending Global Privacy Control: recorded as a denial of the purpose it covers. */
    if (put_line(f, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", "consent", "subject", s->id, "purpose",
                              "ads_retargeting", "status", s->gpc ? "denied" : "granted", "ts",
                              (json_int_t)(ts + 1000), "source", s->gpc ? "gpc" : "banner")))
      return -1;
  }
  return 0;
}

static const char *const channels[] = {"web", "web", "web", "web", "web", "web", "app", "app", "app", "email"};

static int event_line(FILE *f, const struct shopper *s, const char *type, const char *item, int64_t ts,
                      const char *channel, json_t *props) {
  return put_line(f, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "kind", "event", "subject", s->id, "type",
                               type, "item", item, "ts", (json_int_t)ts, "channel", channel, "properties", props));
}

/* The k of an item of category c whose noun is `noun`, picking one of its
 * variants (items k, k + n_nouns, ... share a noun and differ by adjective). */
static int variant_of(struct rng *r, size_t c, int noun) {
  int n_nouns = count_of(cats[c].nouns), n_variants = (items_in(c) - noun + n_nouns - 1) / n_nouns;
  return noun + n_nouns * below(r, n_variants < 1 ? 1 : n_variants);
}

static int buy(FILE *f, const struct shopper *s, struct rng *r, size_t c, int k, int64_t *ts, const char *ch,
               int *purchases) {
  char id[64];
  item_id(c, k, id, sizeof id);
  *ts += (20 + below(r, 300)) * 1000LL;
  if (event_line(f, s, "add_to_cart", id, *ts, ch, json_pack("{s:i}", "quantity", 1)))
    return -1;
  *ts += (30 + below(r, 600)) * 1000LL;
  (*purchases)++;
  return event_line(f, s, "purchase", id, *ts, ch,
                    json_pack("{s:i, s:i, s:s}", "price", item_price(c, k), "quantity", 1, "currency", "EUR"));
}

/* One browsing session in category c starting at ts: the shopper compares a
 * few variants of one thing (substitutes), sometimes glances at something
 * else in the category, and sometimes buys; a purchase is often followed,
 * days later (but before now_ms), by a short session buying what goes with
 * it. *purchases counts buys. */
static int session(FILE *f, const struct shopper *s, struct rng *r, size_t c, int64_t ts, int64_t now_ms,
                   int *purchases) {
  const char *ch = channels[below(r, 10)];
  int n_nouns = count_of(cats[c].nouns);
  int noun = below(r, n_nouns);
  int n_views = 2 + below(r, 5);
  int seen[8], n_seen = 0;
  for (int v = 0; v < n_views; v++) {
    int k = chance(r, 80) ? variant_of(r, c, noun) : below(r, items_in(c));
    char id[64];
    item_id(c, k, id, sizeof id);
    ts += (5 + below(r, 120)) * 1000LL;
    if (event_line(f, s, "view", id, ts, ch, json_pack("{s:i}", "duration_s", 3 + below(r, 90))))
      return -1;
    if (k % n_nouns == noun)
      seen[n_seen++] = k;
  }
  if (n_seen == 0 || !chance(r, c == C_WEDDING ? 40 : 25) || (c == C_WEDDING && *purchases > 0))
    return 0;
  if (buy(f, s, r, c, seen[below(r, n_seen)], &ts, ch, purchases))
    return -1;
  /* What goes with it, a few days later. */
  const signed char *comp = cats[c].complements[noun];
  int64_t later = ts + (int64_t)(1 + below(r, 6)) * DAY_MS + below(r, 86400) * 1000LL;
  if (later >= now_ms - 3600000LL || !chance(r, 65))
    return 0;
  for (int j = 0; j < 3 && comp[j] >= 0; j++) {
    if (j > 0 && !chance(r, 50))
      break;
    int k = variant_of(r, c, comp[j]);
    char id[64];
    item_id(c, k, id, sizeof id);
    later += (10 + below(r, 200)) * 1000LL;
    if (event_line(f, s, "view", id, later, ch, json_pack("{s:i}", "duration_s", 3 + below(r, 60))) ||
        buy(f, s, r, c, k, &later, ch, purchases))
      return -1;
  }
  return 0;
}

/* The shopper's sessions (count in *n_out), oldest first. */
static int write_journey(FILE *f, const struct shopper *s, int64_t now_ms, struct rng *r, int *n_out,
                         int *purchases) {
  int n_sessions = 1 + below(r, 6) + (s->expecting || s->wedding ? 2 : 0);
  *n_out = n_sessions;
  int64_t starts[12];
  for (int i = 0; i < n_sessions; i++)
    starts[i] = now_ms - (int64_t)below(r, 30) * DAY_MS - (3600 + below(r, 82800)) * 1000LL;
  for (int i = 1; i < n_sessions; i++) /* oldest first, as a journey reads */
    for (int j = i; j > 0 && starts[j] < starts[j - 1]; j--) {
      int64_t t = starts[j];
      starts[j] = starts[j - 1];
      starts[j - 1] = t;
    }
  for (int i = 0; i < n_sessions; i++) {
    size_t c;
    if (s->wedding && i >= n_sessions - 3)
      c = C_WEDDING;
    else if (s->expecting && chance(r, 50))
      c = C_BABY;
    else if (s->health && chance(r, 30))
      c = C_HEALTH;
    else if (chance(r, 80))
      c = (size_t)s->favs[below(r, s->n_favs)];
    else
      c = (size_t)below(r, N_EVERYDAY);
    if (session(f, s, r, c, starts[i], now_ms, purchases))
      return -1;
  }
  return 0;
}

int mes__demo_write(const char *path, int n_shoppers, int64_t now_ms, char *featured, size_t featured_cap,
                    json_t *audit) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  struct rng r = {DEMO_SEED}, ar = {AUDIT_SEED};
  int rc = write_catalog(f, &r);
  struct shopper *all = calloc((size_t)n_shoppers, sizeof *all);
  if (!all)
    rc = -1;
  for (int i = 0; !rc && i < n_shoppers; i++) {
    shopper_make(&r, i, &all[i]);
    rc = write_consents(f, &all[i], now_ms, &r);
    json_t *attrs = NULL;
    if (!rc && audit && all[i].personalization && !(rc = audit_attributes(&ar, all[i].favs[0], &attrs)) && attrs) {
      rc = json_object_set_new(audit, all[i].id, attrs) ||
                   put_line(f, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", "consent", "subject", all[i].id,
                                         "purpose", "audit", "status", "granted", "ts",
                                         (json_int_t)(now_ms - 60 * DAY_MS), "source", "survey"))
               ? -1
               : 0;
    }
  }
  featured[0] = '\0';
  for (int i = 0; !rc && i < n_shoppers; i++) {
    int sessions = 0, purchases = 0;
    rc = write_journey(f, &all[i], now_ms, &r, &sessions, &purchases);
    /* The shopper to show: personalised, several sessions, a purchase, nothing sensitive. */
    if (!featured[0] && all[i].personalization && !all[i].expecting && !all[i].health && sessions >= 4 &&
        purchases > 0)
      snprintf(featured, featured_cap, "%s", all[i].id);
  }
  free(all);
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

/* ---------------------------------------------------------------- the policy */

/* True when the categories section that starts at `section` (just after
 * its "categories:" line) declares `name`: a line "  NAME:" before the next
 * top-level key. The example is written by mesura itself, in this shape. */
static bool declares(const char *section, const char *name) {
  size_t n = strlen(name);
  for (const char *line = section; *line == ' ' || *line == '#' || *line == '\n';) {
    if (strncmp(line, "  ", 2) == 0 && strncmp(line + 2, name, n) == 0 && line[2 + n] == ':')
      return true;
    const char *nl = strchr(line, '\n');
    if (!nl)
      break;
    line = nl + 1;
  }
  return false;
}

/* The purpose the demo's audit consents name, in the example's indentation. */
static const char audit_purpose[] =
    "  audit:\n"
    "    description:\n"
    "      en: \"Take part in fairness audits of what the shop shows\"\n"
    "      es: \"Participar en auditorías de equidad de lo que muestra la tienda\"\n"
    "      pl: \"Udział w audytach sprawiedliwości tego, co pokazuje sklep\"\n"
    "    gpc: ignored\n";

int mes__demo_policy(const char *example, char **out) {
  *out = NULL;
  const char *anchor = strstr(example, "\ncategories:\n"), *purposes = strstr(example, "\npurposes:\n");
  if (!anchor || !purposes || purposes > anchor)
    return -1;
  size_t at_purposes = (size_t)(purposes - example) + strlen("\npurposes:\n");
  bool has_audit = declares(example + at_purposes, "audit");
  size_t head = (size_t)(anchor - example) + strlen("\ncategories:\n");
  size_t cap = strlen(example) + 4096 + sizeof audit_purpose;
  char *s = malloc(cap);
  if (!s)
    return -1;
  /* The example up to its purposes, the audit purpose, the rest up to its categories. */
  memcpy(s, example, at_purposes);
  size_t o = at_purposes;
  if (!has_audit) {
    memcpy(s + o, audit_purpose, sizeof audit_purpose - 1);
    o += sizeof audit_purpose - 1;
  }
  memcpy(s + o, example + at_purposes, head - at_purposes);
  o += head - at_purposes;
  /* The demo's categories that the example lacks, in the example's indentation. */
  for (size_t c = 0; c < N_CATS; c++) {
    if (declares(example + head, cats[c].name))
      continue;
    int n = snprintf(s + o, cap - o, "  %s:\n%s%s    label: {en: \"%s\", es: \"%s\", pl: \"%s\"}\n", cats[c].name,
                     cats[c].sensitive ? "    sensitive: true\n" : "", cats[c].once ? "    lifecycle: once\n" : "",
                     cats[c].label_en, cats[c].label_es, cats[c].label_pl);
    if (n < 0 || (size_t)n >= cap - o) {
      free(s);
      return -1;
    }
    o += (size_t)n;
  }
  size_t tail = strlen(example + head);
  if (o + tail + 1 > cap) {
    free(s);
    return -1;
  }
  memcpy(s + o, example + head, tail + 1);
  *out = s;
  return 0;
}
