/*
 * eval/data — reading the `subject,item,ts[,type]` CSV into interned rows.
 *
 * Reading is strict: the first mistake stops it and names the line, because a
 * silently skipped row would change the figures. The only rows left out on
 * purpose are those without a subject, as the protocol says.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/id.h"
#include "eval/eval_int.h"

/* ---- Interned strings ---------------------------------------------------- */

void mes__strtab_init(struct mes__strtab *t) {
  memset(t, 0, sizeof *t);
  mes_htab_init(&t->by_id, UINT32_MAX - 1);
}

void mes__strtab_release(struct mes__strtab *t) {
  if (!t)
    return;
  free(t->pool);
  free(t->off);
  free(t->len);
  mes_htab_release(&t->by_id);
  mes__strtab_init(t);
}

/* The index of s[0..len) (tag: its tag), or -1. */
static int64_t find(const struct mes__strtab *t, const char *s, size_t len, uint32_t tag) {
  struct mes_htab_slot *sl;
  for (size_t pos = 0; (sl = mes_htab_next(&t->by_id, tag, &pos));) {
    uint32_t i = sl->val - 1;
    if (t->len[i] == len && memcmp(t->pool + t->off[i], s, len) == 0)
      return i;
  }
  return -1;
}

int64_t mes__strtab_find(const struct mes__strtab *t, const char *s, size_t len) {
  if (!mes_htab_count(&t->by_id))
    return -1;
  return find(t, s, len, mes_htab_tag(mes_hash_bytes(s, len)));
}

int mes__strtab_intern(struct mes__strtab *t, const char *s, size_t len, uint32_t *idx) {
  uint32_t tag = mes_htab_tag(mes_hash_bytes(s, len));
  int64_t found = mes_htab_count(&t->by_id) ? find(t, s, len, tag) : -1;
  if (found >= 0) {
    *idx = (uint32_t)found;
    return MES_OK;
  }
  if (mes_htab_reserve(&t->by_id, t->n + 1))
    return MES_ENOMEM;
  if (t->n >= UINT32_MAX - 1)
    return MES_ENOMEM;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    size_t *off = realloc(t->off, cap * sizeof *off);
    if (!off)
      return MES_ENOMEM;
    t->off = off;
    uint32_t *lens = realloc(t->len, cap * sizeof *lens);
    if (!lens)
      return MES_ENOMEM;
    t->len = lens;
    t->cap = cap;
  }
  if (t->pool_len + len + 1 > t->pool_cap) {
    size_t cap = t->pool_cap ? t->pool_cap : 16384;
    while (cap < t->pool_len + len + 1)
      cap *= 2;
    char *pool = realloc(t->pool, cap);
    if (!pool)
      return MES_ENOMEM;
    t->pool = pool;
    t->pool_cap = cap;
  }
  memcpy(t->pool + t->pool_len, s, len);
  t->pool[t->pool_len + len] = '\0';
  t->off[t->n] = t->pool_len;
  t->len[t->n] = (uint32_t)len;
  t->pool_len += len + 1;
  mes_htab_add(&t->by_id, tag, (uint32_t)t->n + 1, NULL); /* reserved above */
  *idx = (uint32_t)t->n++;
  return MES_OK;
}

/* ---- CSV fields ---------------------------------------------------------- */

#define MAX_FIELDS 4

struct field {
  const char *ptr; /* into the scratch copy, NUL-terminated */
  size_t len;
};

/* Splits one line (without its end of line) into fields, unquoting into
 * scratch (at least len + MAX_FIELDS bytes). Returns the field count, or -1
 * with *why set. More than MAX_FIELDS fields count as MAX_FIELDS + 1. */
static int split_fields(const char *line, size_t len, char *scratch, struct field *f, const char **why) {
  size_t i = 0, o = 0;
  int n = 0;
  for (;;) {
    if (n == MAX_FIELDS)
      return MAX_FIELDS + 1;
    size_t start = o;
    if (i < len && line[i] == '"') {
      i++;
      for (;;) {
        if (i >= len) {
          *why = "a quoted field is not closed";
          return -1;
        }
        if (line[i] == '"') {
          if (i + 1 < len && line[i + 1] == '"') {
            scratch[o++] = '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        scratch[o++] = line[i++];
      }
      if (i < len && line[i] != ',') {
        *why = "a quoted field is followed by text";
        return -1;
      }
    } else {
      while (i < len && line[i] != ',') {
        if (line[i] == '"') {
          *why = "a quote inside an unquoted field";
          return -1;
        }
        scratch[o++] = line[i++];
      }
    }
    f[n].ptr = scratch + start;
    f[n].len = o - start;
    scratch[o++] = '\0';
    n++;
    if (i >= len)
      return n;
    i++; /* the comma */
  }
}

int mes__parse_decimal(const char *s, size_t len, double *out) {
  size_t i = 0;
  bool neg = false;
  if (i < len && s[i] == '-') {
    neg = true;
    i++;
  }
  size_t int_start = i;
  uint64_t ip = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (ip > 100000000000000ULL) /* beyond 1e14 s: not a timestamp */
      return -1;
    ip = ip * 10 + (uint64_t)(s[i] - '0');
    i++;
  }
  if (i == int_start)
    return -1;
  double v = (double)ip;
  if (i < len && s[i] == '.') {
    i++;
    size_t frac_start = i;
    uint64_t fp = 0;
    double scale = 1.0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (i - frac_start < 18) { /* further digits are below double precision */
        fp = fp * 10 + (uint64_t)(s[i] - '0');
        scale *= 10.0;
      }
      i++;
    }
    if (i == frac_start)
      return -1;
    v += (double)fp / scale;
  }
  if (i != len)
    return -1;
  *out = neg ? -v : v;
  return 0;
}

static bool is_purchase_type(const char *s, size_t len) {
  return (len == 8 && strncasecmp(s, "purchase", 8) == 0) || (len == 11 && strncasecmp(s, "transaction", 11) == 0);
}

/* ---- Reading ------------------------------------------------------------- */

static int push_row(struct mes_eval_data *d, uint32_t u, uint32_t i, double ts, bool purchase) {
  if (d->n_rows == d->cap_rows) {
    size_t cap = d->cap_rows ? d->cap_rows * 2 : 4096;
    uint32_t *user = realloc(d->user, cap * sizeof *user);
    if (!user)
      return MES_ENOMEM;
    d->user = user;
    uint32_t *item = realloc(d->item, cap * sizeof *item);
    if (!item)
      return MES_ENOMEM;
    d->item = item;
    double *tsv = realloc(d->ts, cap * sizeof *tsv);
    if (!tsv)
      return MES_ENOMEM;
    d->ts = tsv;
    uint8_t *p = realloc(d->purchase, cap * sizeof *p);
    if (!p)
      return MES_ENOMEM;
    d->purchase = p;
    d->cap_rows = cap;
  }
  d->user[d->n_rows] = u;
  d->item[d->n_rows] = i;
  d->ts[d->n_rows] = ts;
  d->purchase[d->n_rows] = purchase ? 1 : 0;
  d->n_rows++;
  return MES_OK;
}

struct byte_key {
  const char *s;
  uint32_t len, idx;
};

static int cmp_byte_key(const void *a, const void *b) {
  const struct byte_key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c)
    return c;
  return (x->len > y->len) - (x->len < y->len);
}

/* item_rank[i] = position of item i's id in byte order. */
static int rank_items(struct mes_eval_data *d) {
  size_t n = d->items.n;
  d->item_rank = mes__alloc(n, sizeof *d->item_rank);
  struct byte_key *k = mes__alloc(n, sizeof *k);
  if (!d->item_rank || !k) {
    free(k);
    return MES_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    k[i] = (struct byte_key){mes__strtab_get(&d->items, (uint32_t)i), d->items.len[i], (uint32_t)i};
  qsort(k, n, sizeof *k, cmp_byte_key);
  for (size_t r = 0; r < n; r++)
    d->item_rank[k[r].idx] = (uint32_t)r;
  free(k);
  return MES_OK;
}

static int bad_line(struct mes_err *err, size_t *bad, size_t line_no, const char *why) {
  if (bad)
    *bad = line_no;
  return mes_err_set(err, MES_EBAD_INPUT, NULL, "line %zu: %s", line_no, why);
}

/* 0 when the field obeys the id rule; otherwise -1 and *why says how not. */
static int check_id(const struct field *f, bool subject, const char **why) {
  int rc = mes_id_check(f->ptr, f->len);
  if (rc == MES_OK)
    return 0;
  if (rc == MES_EBAD_UTF8)
    *why = subject ? "the subject is not valid UTF-8" : "the item is not valid UTF-8";
  else
    *why = subject ? "the subject must be 1 to 128 bytes without control characters"
                   : "the item must be 1 to 128 bytes without control characters";
  return -1;
}

int mes_eval_data_read(FILE *f, struct mes_eval_data **out, size_t *bad, struct mes_err *err) {
  *out = NULL;
  if (bad)
    *bad = 0;
  struct mes_eval_data *d = calloc(1, sizeof *d);
  char *line = NULL, *scratch = NULL;
  size_t line_cap = 0, scratch_cap = 0, line_no = 0;
  int n_cols = 0, rc = MES_OK;
  if (!d)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  mes__strtab_init(&d->subjects);
  mes__strtab_init(&d->items);

  for (;;) {
    ssize_t got = getline(&line, &line_cap, f);
    if (got < 0) {
      if (ferror(f)) {
        rc = mes_err_set(err, MES_EIO, NULL, "the input could not be read");
        goto error;
      }
      break;
    }
    line_no++;
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n')
      len--;
    if (len && line[len - 1] == '\r')
      len--;
    const char *why = NULL;
    if (memchr(line, '\0', len)) {
      rc = bad_line(err, bad, line_no, "the line holds a NUL byte");
      goto error;
    }
    if (len + MAX_FIELDS + 1 > scratch_cap) {
      free(scratch);
      scratch_cap = len + MAX_FIELDS + 64;
      scratch = malloc(scratch_cap);
      if (!scratch) {
        rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
        goto error;
      }
    }
    const char *text = line;
    if (line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
      text += 3;
      len -= 3;
    }
    struct field fl[MAX_FIELDS];
    int n = split_fields(text, len, scratch, fl, &why);
    if (line_no == 1) {
      static const char *const want[] = {"subject", "item", "ts", "type"};
      bool ok = n == 3 || n == 4;
      for (int i = 0; ok && i < n; i++)
        ok = fl[i].len == strlen(want[i]) && memcmp(fl[i].ptr, want[i], fl[i].len) == 0;
      if (!ok) {
        rc = bad_line(err, bad, line_no, "the header must be subject,item,ts or subject,item,ts,type");
        goto error;
      }
      n_cols = n;
      continue;
    }
    if (n < 0) {
      rc = bad_line(err, bad, line_no, why);
      goto error;
    }
    if (len == 0) {
      rc = bad_line(err, bad, line_no, "the line is empty");
      goto error;
    }
    if (n != n_cols) {
      rc = bad_line(err, bad, line_no,
                    n_cols == 3 ? "expected 3 fields: subject,item,ts" : "expected 4 fields: subject,item,ts,type");
      goto error;
    }
    if (fl[0].len == 0) { /* no user id: discarded by the protocol */
      d->n_no_subject++;
      continue;
    }
    if (check_id(&fl[0], true, &why) || check_id(&fl[1], false, &why)) {
      rc = bad_line(err, bad, line_no, why);
      goto error;
    }
    double ts;
    if (mes__parse_decimal(fl[2].ptr, fl[2].len, &ts)) {
      rc = bad_line(err, bad, line_no, "ts must be unix seconds, an integer or a decimal number");
      goto error;
    }
    bool purchase = n_cols == 4 && is_purchase_type(fl[3].ptr, fl[3].len);
    if (n_cols == 4) {
      if (purchase)
        d->any_purchase = true;
      else
        d->any_other = true;
    }
    uint32_t u, i;
    if (mes__strtab_intern(&d->subjects, fl[0].ptr, fl[0].len, &u) ||
        mes__strtab_intern(&d->items, fl[1].ptr, fl[1].len, &i) || push_row(d, u, i, ts, purchase)) {
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
      goto error;
    }
  }
  if (line_no == 0) {
    rc = bad_line(err, bad, 1, "the file is empty; the header subject,item,ts is missing");
    goto error;
  }
  if (rank_items(d)) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  free(line);
  free(scratch);
  *out = d;
  return MES_OK;

error:
  free(line);
  free(scratch);
  mes_eval_data_free(d);
  return rc;
}

void mes_eval_data_free(struct mes_eval_data *d) {
  if (!d)
    return;
  mes__strtab_release(&d->subjects);
  mes__strtab_release(&d->items);
  free(d->user);
  free(d->item);
  free(d->ts);
  free(d->purchase);
  free(d->item_rank);
  free(d);
}

size_t mes_eval_data_rows(const struct mes_eval_data *d) { return d ? d->n_rows : 0; }

bool mes_eval_data_has_purchase_split(const struct mes_eval_data *d) {
  return d && d->any_purchase && d->any_other;
}
