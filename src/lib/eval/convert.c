/*
 * eval/convert — the conversion behind `mesura eval-convert`: turns each
 * dataset of shared/data into the `subject,item,ts` file that `mesura eval`
 * reads, applying the dataset's rule for positive interactions (section 1.1
 * of the protocol):
 *
 *   ml-100k          u.data, tab separated user, item, rating, ts; rating >= 4
 *   ml-latest-small  ratings.csv, userId,movieId,rating,timestamp; rating >= 4
 *   amazon           Musical_Instruments_5.json, one review per line; all kept
 *   completejourney-sample
 *                    transactions_sample.csv, one receipt line per row: the
 *                    household is the subject, the product the item, every
 *                    line a purchase at its transaction_timestamp (ISO 8601
 *                    UTC, written as unix seconds); all kept
 *
 * Rows keep the file's order; deduplication and the large-catalogue item
 * filter (section 1.3) are the evaluator's job, as for every other file.
 *
 * A dataset whose items have categories also gives the catalog a shop would
 * load (mes_eval_convert_catalog): `mesura import`'s item lines, which
 * `mesura eval --catalog` hands to the served path.
 *
 *   completejourney-sample
 *                    products.csv: the product's department and its
 *                    product_category are its categories, its product_type
 *                    its title
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "eval/eval_int.h"

enum dataset { DS_ML100K, DS_MLSMALL, DS_AMAZON, DS_CJ };

static const struct {
  const char *name, *file;
  const char *catalog_file; /* NULL: the dataset has no categories */
} datasets[] = {
    [DS_ML100K] = {"ml-100k", "u.data", NULL},
    [DS_MLSMALL] = {"ml-latest-small", "ratings.csv", NULL},
    [DS_AMAZON] = {"amazon", "Musical_Instruments_5.json", NULL},
    [DS_CJ] = {"completejourney-sample", "transactions_sample.csv", "products.csv"},
};

#define CJ_HEADER                                                                                                  \
  "household_id,store_id,basket_id,product_id,quantity,sales_value,retail_disc,coupon_disc,coupon_match_disc,week," \
  "transaction_timestamp"
#define CJ_FIELDS 11
#define CJ_PRODUCTS_HEADER "product_id,manufacturer_id,department,brand,product_category,product_type,package_size"
#define CJ_PRODUCTS_FIELDS 7

struct conv {
  FILE *out;
  size_t line_no, kept, skipped;
  struct mes_err *err;
};

/* Writes one CSV field, quoted when it holds a comma or a quote. */
static void put_field(FILE *out, const char *s, size_t len) {
  if (!memchr(s, ',', len) && !memchr(s, '"', len)) {
    fwrite(s, 1, len, out);
    return;
  }
  fputc('"', out);
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '"')
      fputc('"', out);
    fputc(s[i], out);
  }
  fputc('"', out);
}

static void put_row(struct conv *c, const char *u, size_t ul, const char *i, size_t il, const char *ts, size_t tl) {
  put_field(c->out, u, ul);
  fputc(',', c->out);
  put_field(c->out, i, il);
  fputc(',', c->out);
  fwrite(ts, 1, tl, c->out);
  fputc('\n', c->out);
  c->kept++;
}

static int bad(struct conv *c, const char *why) {
  return mes_err_set(c->err, MES_EBAD_INPUT, NULL, "line %zu: %s", c->line_no, why);
}

/* Splits line at sep into exactly n fields (pointers into line). */
static bool split_n(char *line, size_t len, char sep, size_t n, const char **f, size_t *fl) {
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || line[i] == sep) {
      if (k == n)
        return false;
      f[k] = line + start;
      fl[k] = i - start;
      k++;
      start = i + 1;
    }
  }
  return k == n;
}

static bool is_uint(const char *s, size_t len) {
  if (len == 0 || len > 18)
    return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

/* A timestamp the eval reader takes (the same parser): what a converter
 * writes must read back (fuzz/fuzz_eval.c found 16-digit ones that did not). */
static bool ts_ok(const char *s, size_t len) {
  double v;
  return mes__parse_decimal(s, len, &v) == 0;
}

/* One MovieLens rating line (fields user, item, rating, ts). */
static int movielens_row(struct conv *c, char *line, size_t len, char sep) {
  const char *f[4];
  size_t fl[4];
  double rating;
  if (!split_n(line, len, sep, 4, f, fl))
    return bad(c, sep == '\t' ? "expected 4 tab separated fields: user, item, rating, timestamp"
                              : "expected 4 fields: userId,movieId,rating,timestamp");
  if (!is_uint(f[0], fl[0]) || !is_uint(f[1], fl[1]))
    return bad(c, "user and item ids must be unsigned integers");
  if (mes__parse_decimal(f[2], fl[2], &rating) || rating < 0 || rating > 5)
    return bad(c, "the rating must be a number from 0 to 5");
  if (!is_uint(f[3], fl[3]) || !ts_ok(f[3], fl[3]))
    return bad(c, "the timestamp must be unix seconds");
  if (rating >= 4.0)
    put_row(c, f[0], fl[0], f[1], fl[1], f[3], fl[3]);
  else
    c->skipped++;
  return MES_OK;
}

static int amazon_row(struct conv *c, const char *line, size_t len) {
  json_error_t je;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  int rc = MES_OK;
  if (!o || !json_is_object(o)) {
    rc = bad(c, "not a JSON object");
    goto done;
  }
  const json_t *u = json_object_get(o, "reviewerID"), *i = json_object_get(o, "asin"),
               *t = json_object_get(o, "unixReviewTime");
  if (!json_is_string(u) || !json_is_string(i) || !json_is_integer(t)) {
    rc = bad(c, "reviewerID and asin must be strings and unixReviewTime an integer");
    goto done;
  }
  if (mes_id_check(json_string_value(u), json_string_length(u)) ||
      mes_id_check(json_string_value(i), json_string_length(i))) {
    rc = bad(c, "reviewerID and asin must be 1 to 128 bytes of UTF-8 without control characters");
    goto done;
  }
  char ts[24];
  int tl = snprintf(ts, sizeof ts, "%" JSON_INTEGER_FORMAT, json_integer_value(t));
  if (json_integer_value(t) < 0 || !ts_ok(ts, (size_t)tl)) {
    rc = bad(c, "unixReviewTime must be unix seconds");
    goto done;
  }
  put_row(c, json_string_value(u), json_string_length(u), json_string_value(i), json_string_length(i), ts,
          (size_t)tl);
done:
  json_decref(o);
  return rc;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): timegm() would do, but is not C11 and
 * mktime() reads the process's time zone. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (the only form the file uses) to unix seconds;
 * false for anything else or an impossible date. */
static bool iso_utc_seconds(const char *s, size_t len, int64_t *out) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    return false;
  int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2),
      sec = digits(s + 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      sec < 0 || sec > 60)
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap)
    return false;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  return true;
}

/* One receipt line of The Complete Journey: household_id (0), product_id
 * (3), transaction_timestamp (10). */
static int completejourney_row(struct conv *c, char *line, size_t len) {
  const char *f[CJ_FIELDS];
  size_t fl[CJ_FIELDS];
  int64_t ts;
  if (!split_n(line, len, ',', CJ_FIELDS, f, fl))
    return bad(c, "expected the 11 fields of the header " CJ_HEADER);
  if (!is_uint(f[0], fl[0]) || !is_uint(f[3], fl[3]))
    return bad(c, "household_id and product_id must be unsigned integers");
  if (!iso_utc_seconds(f[10], fl[10], &ts))
    return bad(c, "transaction_timestamp must be an ISO 8601 UTC time such as 2017-01-28T19:06:53Z");
  char text[24];
  int tl = snprintf(text, sizeof text, "%" PRId64, ts);
  put_row(c, f[0], fl[0], f[3], fl[3], text, (size_t)tl);
  return MES_OK;
}

static int convert(enum dataset ds, FILE *in, struct conv *c) {
  char *line = NULL;
  size_t cap = 0;
  int rc = MES_OK;
  static const char header[] = "subject,item,ts\n";
  fwrite(header, 1, sizeof header - 1, c->out);
  for (;;) {
    ssize_t got = getline(&line, &cap, in);
    if (got < 0)
      break;
    c->line_no++;
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n')
      len--;
    if (len && line[len - 1] == '\r')
      len--;
    if (memchr(line, '\0', len)) {
      rc = bad(c, "the line holds a NUL byte");
      break;
    }
    if (ds == DS_MLSMALL && c->line_no == 1) {
      if (len != 31 || memcmp(line, "userId,movieId,rating,timestamp", 31) != 0) {
        rc = bad(c, "the header must be userId,movieId,rating,timestamp");
        break;
      }
      continue;
    }
    if (ds == DS_CJ && c->line_no == 1) {
      if (len != sizeof CJ_HEADER - 1 || memcmp(line, CJ_HEADER, len) != 0) {
        rc = bad(c, "the header must be " CJ_HEADER);
        break;
      }
      continue;
    }
    if (ds == DS_ML100K)
      rc = movielens_row(c, line, len, '\t');
    else if (ds == DS_CJ)
      rc = completejourney_row(c, line, len);
    else if (ds == DS_MLSMALL)
      rc = movielens_row(c, line, len, ',');
    else
      rc = amazon_row(c, line, len);
    if (rc)
      break;
  }
  if (rc == MES_OK && ferror(in))
    rc = mes_err_set(c->err, MES_EIO, NULL, "the input could not be read");
  free(line);
  return rc;
}

static int find_dataset(const char *name) {
  for (int k = 0; k < (int)(sizeof datasets / sizeof datasets[0]); k++)
    if (strcmp(datasets[k].name, name) == 0)
      return k;
  return -1;
}

const char *mes_eval_dataset_file(const char *dataset) {
  int ds = find_dataset(dataset);
  return ds < 0 ? NULL : datasets[ds].file;
}

const char *mes_eval_dataset_catalog_file(const char *dataset) {
  int ds = find_dataset(dataset);
  return ds < 0 ? NULL : datasets[ds].catalog_file;
}

/* ---------------------------------------------------------------- the catalog */

/* One product of The Complete Journey as an import item line: department
 * (2) and product_category (4) its categories when they pass the id rule
 * (an empty one is left out), product_type (5) its title (else the
 * category, else the id). The file has no quoted fields. */
static int completejourney_product(struct conv *c, char *line, size_t len) {
  const char *f[CJ_PRODUCTS_FIELDS];
  size_t fl[CJ_PRODUCTS_FIELDS];
  if (memchr(line, '"', len))
    return bad(c, "quoted fields are not expected in products.csv");
  if (!split_n(line, len, ',', CJ_PRODUCTS_FIELDS, f, fl))
    return bad(c, "expected the 7 fields of the header " CJ_PRODUCTS_HEADER);
  if (!is_uint(f[0], fl[0]))
    return bad(c, "product_id must be an unsigned integer");
  json_t *cats = json_array();
  int rc = cats ? MES_OK : MES_ENOMEM;
  static const int cat_fields[] = {2, 4};
  for (size_t k = 0; !rc && k < sizeof cat_fields / sizeof cat_fields[0]; k++) {
    int j = cat_fields[k];
    if (fl[j] == 0)
      continue;
    if (mes_id_check(f[j], fl[j])) {
      rc = bad(c, "department and product_category must be 1 to 128 bytes of UTF-8 without control characters");
      break;
    }
    bool dup = false;
    size_t i;
    json_t *v;
    json_array_foreach(cats, i, v) {
      if (json_string_length(v) == fl[j] && memcmp(json_string_value(v), f[j], fl[j]) == 0)
        dup = true;
    }
    if (!dup && json_array_append_new(cats, json_stringn(f[j], fl[j])))
      rc = MES_ENOMEM;
  }
  int t = fl[5] ? 5 : fl[4] ? 4 : 0;
  json_t *o = rc ? NULL
                 : json_pack("{s:s, s:s%, s:s%, s:O, s:b}", "kind", "item", "id", f[0], fl[0], "title", f[t], fl[t],
                             "categories", cats, "available", 1);
  json_decref(cats);
  if (rc)
    return rc == MES_ENOMEM ? mes_err_set(c->err, MES_ENOMEM, NULL, NULL) : rc;
  if (!o)
    return bad(c, "the line is not valid UTF-8");
  char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  json_decref(o);
  if (!text)
    return mes_err_set(c->err, MES_ENOMEM, NULL, NULL);
  fputs(text, c->out);
  fputc('\n', c->out);
  free(text);
  c->kept++;
  return MES_OK;
}

int mes_eval_convert_catalog(const char *dataset, FILE *in, FILE *out, size_t *n_items, struct mes_err *err) {
  int ds = find_dataset(dataset);
  *n_items = 0;
  if (ds < 0)
    return mes_err_set(err, MES_EUSAGE, NULL, "unknown dataset '%.40s' (" MES_EVAL_DATASETS ")", dataset);
  if (!datasets[ds].catalog_file)
    return mes_err_set(err, MES_EUSAGE, NULL, "the dataset %s has no categories: no catalog to write",
                       datasets[ds].name);
  struct conv c = {.out = out, .err = err};
  char *line = NULL;
  size_t cap = 0;
  int rc = MES_OK;
  ssize_t got;
  while (rc == MES_OK && (got = getline(&line, &cap, in)) >= 0) {
    c.line_no++;
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n')
      len--;
    if (len && line[len - 1] == '\r')
      len--;
    if (memchr(line, '\0', len))
      rc = bad(&c, "the line holds a NUL byte");
    else if (c.line_no == 1) {
      if (len != sizeof CJ_PRODUCTS_HEADER - 1 || memcmp(line, CJ_PRODUCTS_HEADER, len) != 0)
        rc = bad(&c, "the header must be " CJ_PRODUCTS_HEADER);
    } else
      rc = completejourney_product(&c, line, len);
  }
  if (rc == MES_OK && ferror(in))
    rc = mes_err_set(err, MES_EIO, NULL, "the input could not be read");
  free(line);
  *n_items = c.kept;
  return rc;
}

int mes_eval_convert(const char *dataset, FILE *in, FILE *out, size_t *kept, size_t *skipped, struct mes_err *err) {
  int ds = find_dataset(dataset);
  if (ds < 0)
    return mes_err_set(err, MES_EUSAGE, NULL, "unknown dataset '%.40s' (" MES_EVAL_DATASETS ")", dataset);
  struct conv c = {.out = out, .err = err};
  int rc = convert((enum dataset)ds, in, &c);
  *kept = c.kept;
  *skipped = c.skipped;
  return rc;
}
