/*
 * recommend/access — the access log (contract §7): who read a person's data,
 * when, what for.
 *
 * A request that reads someone's data notes it here; the entry is sealed
 * under the person's key at once (so that erasure shreds it, like the rest
 * of their data) and queued with the decision records (record.c), whose
 * writer thread chains each subject's entries and writes them in the batch
 * it writes anyway: logging a read adds no commit and no wait to a request.
 *
 * The chain: entry k carries MAC(chain key, MAC of entry k-1 || sid || k ||
 * time || action || reader || sealed entry), and the subject's head (count,
 * last MAC, and a MAC of those) sits in a table apart. The chain key is
 * derived from the subject's own key, not from the master key: it is then
 * as out of reach of someone who can write mesura.db as the data (the
 * subject keys live wrapped in keys.db), it survives a rotation of the
 * master key (which re-wraps subject keys without changing them), and an
 * erasure destroys it with everything else. Someone who can write mesura.db
 * but has no key can then delete or change entries, but cannot make a head
 * that agrees with the result: editing breaks a MAC, removing one breaks the
 * sequence, removing the last ones leaves a head that counts more. What such
 * a person can still do is put back an older mesura.db whole (a backup):
 * that is a restore, and the journal and the keys say what it undoes.
 *
 * Retention (the policy's rights.access_log_retention_days): the sweep deletes the
 * oldest entries of a chain and moves the head's start to the first entry
 * kept, recording that entry's seq and the MAC it chains to, under the
 * head's MAC. Only a holder of the key can move the start, so the chain
 * still proves that nothing kept was removed, and removing the first kept
 * entry, or cutting more off the start, breaks it like any other removal.
 * The sweep deletes a prefix only: an entry kept for its date keeps every
 * later one, even one a few milliseconds older (reads noted out of order),
 * until the next sweep. It never moves the start of a chain that does not
 * verify: deleting the evidence of tampering would launder it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/mtime.h"
#include "crypto/crypto.h"
#include "recommend/rec_int.h"

#define CHAIN_LABEL "mesura access log chain"
#define SUBJECT_TOKEN_ACTOR "subject-token" /* the name auth gives a person's own token */
#define MS_PER_DAY 86400000LL

/* An entry's sealed part holds what its row's clear columns (time, action,
 * reader, all under the chain's MAC) do not say: the purpose, when it is
 * not the action's own, and the person's id as the request named it, for
 * `mesura incident --reveal`. Byte 0 is ENTRY_FORM, byte 1 the purpose's
 * length (0: the action's own), then the purpose, then the id (to the end;
 * none when the request named none). The sentence is rendered on read, in
 * the reader's language. A sealed part that opens with '{' is the JSON
 * document {"at", "reader", "action", "purpose", "subject"} of logs written
 * before the form existed, read as such. */
#define ENTRY_FORM 1
#define ENTRY_HEAD 2

static const char *const action_code[MES_ACCESS_N] = {
    [MES_ACCESS_RECOMMEND] = "recommend", [MES_ACCESS_EXPORT] = "export",   [MES_ACCESS_WHY] = "why",
    [MES_ACCESS_RECORD] = "record",       [MES_ACCESS_PROFILE] = "profile", [MES_ACCESS_AUDIT] = "audit",
};

/* The purpose each kind of read served: recommendations, and the shop
 * reading back the record of an answer it served, serve personalization;
 * export, why and the profile answer the person's own rights (their token
 * or the support team asks); audits are audits (an audit or admin key
 * reading a record too: mes__rec_access_note_for). */
static const char *const action_purpose[MES_ACCESS_N] = {
    [MES_ACCESS_RECOMMEND] = "personalization",       [MES_ACCESS_EXPORT] = "data_subject_request",
    [MES_ACCESS_WHY] = "data_subject_request",        [MES_ACCESS_RECORD] = "personalization",
    [MES_ACCESS_PROFILE] = "data_subject_request",    [MES_ACCESS_AUDIT] = "audit",
};

/* The sentences, by language and action: one for a key (%s its name), one
 * for the person's own token. */
static const char *const text_key[MES_LANG_N][MES_ACCESS_N] = {
    [MES_LANG_EN] = {
        [MES_ACCESS_RECOMMEND] = "The key \u201c%s\u201d read your history to choose recommendations for you.",
        [MES_ACCESS_EXPORT] = "The key \u201c%s\u201d exported all the data held about you.",
        [MES_ACCESS_WHY] = "The key \u201c%s\u201d read your history to explain a suggestion to you.",
        [MES_ACCESS_RECORD] = "The key \u201c%s\u201d read the record of a recommendation made for you.",
        [MES_ACCESS_PROFILE] = "The key \u201c%s\u201d looked at the summary of the data held about you.",
        [MES_ACCESS_AUDIT] = "The key \u201c%s\u201d replayed your recommendations in a fairness audit.",
    },
    [MES_LANG_ES] = {
        [MES_ACCESS_RECOMMEND] = "La clave \u201c%s\u201d ley\u00f3 tu historial para elegir recomendaciones para ti.",
        [MES_ACCESS_EXPORT] = "La clave \u201c%s\u201d export\u00f3 todos los datos que se guardan sobre ti.",
        [MES_ACCESS_WHY] = "La clave \u201c%s\u201d ley\u00f3 tu historial para explicarte una sugerencia.",
        [MES_ACCESS_RECORD] = "La clave \u201c%s\u201d ley\u00f3 el registro de una recomendaci\u00f3n hecha para ti.",
        [MES_ACCESS_PROFILE] = "La clave \u201c%s\u201d consult\u00f3 el resumen de los datos que se guardan sobre ti.",
        [MES_ACCESS_AUDIT] = "La clave \u201c%s\u201d reprodujo tus recomendaciones en una auditor\u00eda de equidad.",
    },
    [MES_LANG_PL] = {
        [MES_ACCESS_RECOMMEND] = "Klucz \u201e%s\u201d odczyta\u0142 Twoj\u0105 histori\u0119, aby dobra\u0107 dla Ciebie rekomendacje.",
        [MES_ACCESS_EXPORT] = "Klucz \u201e%s\u201d wyeksportowa\u0142 wszystkie przechowywane o Tobie dane.",
        [MES_ACCESS_WHY] = "Klucz \u201e%s\u201d odczyta\u0142 Twoj\u0105 histori\u0119, aby wyja\u015bni\u0107 Ci sugesti\u0119.",
        [MES_ACCESS_RECORD] = "Klucz \u201e%s\u201d odczyta\u0142 zapis rekomendacji przygotowanej dla Ciebie.",
        [MES_ACCESS_PROFILE] = "Klucz \u201e%s\u201d przejrza\u0142 podsumowanie przechowywanych o Tobie danych.",
        [MES_ACCESS_AUDIT] = "Klucz \u201e%s\u201d odtworzy\u0142 Twoje rekomendacje w audycie r\u00f3wno\u015bci.",
    },
};
static const char *const text_you[MES_LANG_N][MES_ACCESS_N] = {
    [MES_LANG_EN] = {
        [MES_ACCESS_RECOMMEND] = "You asked for recommendations chosen from your history.",
        [MES_ACCESS_EXPORT] = "You exported all the data held about you.",
        [MES_ACCESS_WHY] = "You asked why an item is suggested to you.",
        [MES_ACCESS_RECORD] = "You read the record of a recommendation made for you.",
        [MES_ACCESS_PROFILE] = "You looked at the summary of the data held about you.",
        [MES_ACCESS_AUDIT] = "Your recommendations were replayed in a fairness audit.",
    },
    [MES_LANG_ES] = {
        [MES_ACCESS_RECOMMEND] = "Pediste recomendaciones elegidas a partir de tu historial.",
        [MES_ACCESS_EXPORT] = "Exportaste todos los datos que se guardan sobre ti.",
        [MES_ACCESS_WHY] = "Preguntaste por qu\u00e9 se te sugiere un art\u00edculo.",
        [MES_ACCESS_RECORD] = "Le\u00edste el registro de una recomendaci\u00f3n hecha para ti.",
        [MES_ACCESS_PROFILE] = "Consultaste el resumen de los datos que se guardan sobre ti.",
        [MES_ACCESS_AUDIT] = "Tus recomendaciones se reprodujeron en una auditor\u00eda de equidad.",
    },
    [MES_LANG_PL] = {
        [MES_ACCESS_RECOMMEND] = "Poprosi\u0142e\u015b o rekomendacje dobrane na podstawie Twojej historii.",
        [MES_ACCESS_EXPORT] = "Wyeksportowa\u0142e\u015b wszystkie przechowywane o Tobie dane.",
        [MES_ACCESS_WHY] = "Zapyta\u0142e\u015b, dlaczego proponujemy Ci dany produkt.",
        [MES_ACCESS_RECORD] = "Odczyta\u0142e\u015b zapis rekomendacji przygotowanej dla Ciebie.",
        [MES_ACCESS_PROFILE] = "Przejrza\u0142e\u015b podsumowanie przechowywanych o Tobie danych.",
        [MES_ACCESS_AUDIT] = "Twoje rekomendacje zosta\u0142y odtworzone w audycie r\u00f3wno\u015bci.",
    },
};

/* ---------------------------------------------------------------- the chain */

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void chain_key(const uint8_t subject_key[MES_KEY_BYTES], uint8_t out[MES_KEY_BYTES]) {
  mes_mac(subject_key, CHAIN_LABEL, sizeof CHAIN_LABEL - 1, out);
}

/* The MAC of an entry, given the previous one's (zeros for the first). */
static int entry_mac(const uint8_t ck[MES_KEY_BYTES], const uint8_t prev[MES_ACCESS_MAC_BYTES], int64_t sid,
                     int64_t seq, int64_t ts_ms, int action, const char *reader, const uint8_t *sealed, size_t len,
                     uint8_t out[MES_ACCESS_MAC_BYTES]) {
  size_t rlen = strlen(reader);
  size_t n = MES_ACCESS_MAC_BYTES + 8 * 4 + 8 + rlen + len;
  uint8_t *buf = malloc(n);
  if (!buf)
    return MES_ENOMEM;
  uint8_t *p = buf;
  memcpy(p, prev, MES_ACCESS_MAC_BYTES);
  p += MES_ACCESS_MAC_BYTES;
  put64(p, (uint64_t)sid), p += 8;
  put64(p, (uint64_t)seq), p += 8;
  put64(p, (uint64_t)ts_ms), p += 8;
  put64(p, (uint64_t)action), p += 8;
  put64(p, (uint64_t)rlen), p += 8; /* lengths framed: reader and entry cannot trade bytes */
  memcpy(p, reader, rlen), p += rlen;
  if (len)
    memcpy(p, sealed, len);
  mes_mac(ck, buf, n, out);
  free(buf);
  return MES_OK;
}

static const uint8_t zero_mac[MES_ACCESS_MAC_BYTES];

/* The MAC entry h->first chains to: zeros for a chain that starts at 1,
 * whatever the row says (its MAC does not cover base then). */
static const uint8_t *head_base(const struct mes_access_head *h) { return h->first > 1 ? h->base : zero_mac; }

/* A head's MAC. A chain that starts at its first entry is MACed over sid,
 * n and last alone, the form heads had before retention existed, so that
 * those still verify; a swept one also over first and base, under another
 * tag (and length), so that neither form passes for the other. */
static void head_mac(const uint8_t ck[MES_KEY_BYTES], const struct mes_access_head *h,
                     uint8_t out[MES_ACCESS_MAC_BYTES]) {
  uint8_t buf[4 + 16 + MES_ACCESS_MAC_BYTES + 8 + MES_ACCESS_MAC_BYTES];
  bool swept = h->first > 1;
  memcpy(buf, swept ? "kept" : "head", 4);
  put64(buf + 4, (uint64_t)h->sid);
  put64(buf + 12, (uint64_t)h->n);
  memcpy(buf + 20, h->last, MES_ACCESS_MAC_BYTES);
  size_t len = 20 + MES_ACCESS_MAC_BYTES;
  if (swept) {
    put64(buf + len, (uint64_t)h->first);
    memcpy(buf + len + 8, h->base, MES_ACCESS_MAC_BYTES);
    len += 8 + MES_ACCESS_MAC_BYTES;
  }
  mes_mac(ck, buf, len, out);
}

/* One subject's chain while a batch is chained. */
struct chain {
  int64_t sid;
  bool usable; /* false: the key is gone, or the stored chain is broken */
  bool is_new; /* no head stored yet */
  uint8_t ck[MES_KEY_BYTES];
  struct mes_access_head head;
  struct mes_access_head was; /* the stored head as checked, which the append replaces */
};

/* Loads sid's chain: its key and head. A head that fails its MAC is never
 * extended: a new head would vouch for the alteration. A chain whose head
 * was deleted starts again from 1 (finding its entries without the head
 * would take a scan of the whole log); verification reports the old
 * entries, with no head or beside the new chain's. */
static void chain_load(struct mes_recommender *r, struct chain *ch, int64_t sid) {
  memset(ch, 0, sizeof *ch);
  ch->sid = sid;
  uint8_t key[MES_KEY_BYTES];
  if (mes_subject_key(r->subjects, sid, key) != MES_OK)
    return; /* erased meanwhile: nothing to log */
  chain_key(key, ch->ck);
  mes_wipe(key, sizeof key);
  int rc = mes_store_access_head_get(r->st, sid, &ch->head);
  if (rc == MES_ENOT_FOUND) {
    ch->head = (struct mes_access_head){.sid = sid, .first = 1};
    ch->is_new = true;
    ch->usable = true;
    return;
  }
  if (rc != MES_OK)
    return;
  uint8_t want[MES_ACCESS_MAC_BYTES];
  head_mac(ch->ck, &ch->head, want);
  if (!mes_ct_equal(want, ch->head.mac, sizeof want)) {
    mes_log(r->log, MES_LOG_ERROR, "access log head of subject #%lld was altered: not extended", (long long)sid);
    return;
  }
  ch->was = ch->head;
  ch->usable = true;
}

/* ------------------------------------------------------- the heads in memory */

/* The writer keeps the heads it wrote last, with their chain keys, so that
 * a subject read again is chained on without reading and checking its head
 * and deriving its key again. Direct-mapped on sid: a slot holds the last
 * subject that hashed there. A remembered head is only a guess: the append
 * replaces the stored head only if it is still the one remembered, column
 * for column, so a head that a sweep, another process, an erasure or an
 * edit of the file changed makes the append fail, and the batch's heads are
 * forgotten and read (and checked) from the store again: a head altered in
 * the file is never overwritten by a good one. An erasure wipes its
 * subject's slot, chain key included (mes_recommender_forget, between two
 * batches). HEAD_SLOTS × 168 bytes. */
#define HEAD_SLOTS 4096

struct mes__rec_head_slot {
  int64_t sid; /* 0: empty */
  uint8_t ck[MES_KEY_BYTES];
  struct mes_access_head head;
};

static struct mes__rec_head_slot *head_slot(struct mes_recommender *r, int64_t sid) {
  if (!r->head_slots)
    return NULL;
  uint64_t h = (uint64_t)sid * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing: neighbouring ids spread */
  return &r->head_slots[h >> (64 - 12)];
}
_Static_assert(HEAD_SLOTS == 1 << 12, "head_slot takes the hash's top 12 bits");

static void head_forget(struct mes_recommender *r, int64_t sid) {
  struct mes__rec_head_slot *s = head_slot(r, sid);
  if (s && s->sid == sid)
    mes_wipe(s, sizeof *s);
}

void mes__rec_access_forget(struct mes_recommender *r, int64_t sid) { head_forget(r, sid); }

bool mes__rec_access_remembers(struct mes_recommender *r, int64_t sid) {
  const struct mes__rec_head_slot *s = head_slot(r, sid);
  return s && s->sid == sid;
}

/* Finds sid's chain: remembered, or loaded from the store. Either way the
 * subject's key must still exist (an erasure removes it first). */
static void chain_find(struct mes_recommender *r, struct chain *ch, int64_t sid) {
  struct mes__rec_head_slot *s = head_slot(r, sid);
  if (s && s->sid == sid) {
    uint8_t key[MES_KEY_BYTES];
    bool alive = mes_subject_key(r->subjects, sid, key) == MES_OK;
    mes_wipe(key, sizeof key);
    if (!alive) {
      head_forget(r, sid);
      memset(ch, 0, sizeof *ch);
      ch->sid = sid;
      return;
    }
    *ch = (struct chain){.sid = sid, .usable = true, .head = s->head, .was = s->head};
    memcpy(ch->ck, s->ck, sizeof ch->ck);
    return;
  }
  chain_load(r, ch, sid);
}

void mes__rec_access_release(struct mes_recommender *r) {
  if (r->head_slots)
    mes_wipe(r->head_slots, HEAD_SLOTS * sizeof *r->head_slots);
  free(r->head_slots);
  r->head_slots = NULL;
}

/* How often a batch is chained again when another process extended one of
 * its chains meanwhile (a `mesura audit` beside a server): the append then
 * meets that process's rows or head and is refused whole, and the heads are
 * read again. */
#define APPEND_TRIES 3

/* Chains a[0..n) onto their heads (remembered, or read now), into rows and
 * heads (n each), and appends them: MES_EEXISTS when a stored head is not
 * the one extended (another writer got there first). */
static int chain_and_append(struct mes_recommender *r, const struct mes__rec_access *a, size_t n,
                            struct chain *chains, struct mes_access_row *rows, struct mes_access_head_put *heads,
                            size_t *n_chains_out) {
  size_t n_chains = 0, n_rows = 0, n_heads = 0;
  *n_chains_out = 0;
  for (size_t i = 0; i < n; i++) {
    struct chain *ch = NULL;
    for (size_t k = 0; k < n_chains && !ch; k++)
      if (chains[k].sid == a[i].sid)
        ch = &chains[k];
    if (!ch) {
      ch = &chains[n_chains++];
      *n_chains_out = n_chains;
      chain_find(r, ch, a[i].sid);
    }
    if (!ch->usable)
      continue;
    struct mes_access_row *row = &rows[n_rows];
    *row = (struct mes_access_row){.sid = a[i].sid, .seq = ch->head.n + 1, .ts_ms = a[i].ts_ms,
                                   .action = a[i].action, .reader = a[i].reader, .sealed = a[i].sealed,
                                   .sealed_len = a[i].len};
    int rc = entry_mac(ch->ck, ch->head.last, row->sid, row->seq, row->ts_ms, row->action, row->reader,
                       row->sealed, row->sealed_len, row->mac);
    if (rc)
      return rc;
    ch->head.n = row->seq;
    memcpy(ch->head.last, row->mac, MES_ACCESS_MAC_BYTES);
    n_rows++;
  }
  for (size_t k = 0; k < n_chains; k++) {
    struct chain *ch = &chains[k];
    if (!ch->usable)
      continue;
    head_mac(ch->ck, &ch->head, ch->head.mac);
    heads[n_heads] = (struct mes_access_head_put){.head = ch->head, .is_new = ch->is_new, .was = ch->was};
    n_heads++;
  }
  int rc = mes_store_access_append(r->st, rows, n_rows, heads, n_heads);
  for (size_t k = 0, j = 0; rc == MES_OK && k < n_chains; k++)
    if (chains[k].usable)
      chains[k].head.last_id = heads[j++].head.last_id; /* where the next append points back to */
  return rc;
}

void mes__rec_access_write(struct mes_recommender *r, const struct mes__rec_access *a, size_t n) {
  if (!r->head_slots)
    r->head_slots = calloc(HEAD_SLOTS, sizeof *r->head_slots); /* none: every head is read */
  struct chain *chains = calloc(n, sizeof *chains);
  struct mes_access_row *rows = calloc(n, sizeof *rows);
  struct mes_access_head_put *heads = calloc(n, sizeof *heads);
  size_t n_chains = 0;
  int rc = chains && rows && heads ? MES_EEXISTS : MES_ENOMEM;
  for (int t = 0; t < APPEND_TRIES && rc == MES_EEXISTS; t++) {
    if (t > 0)
      for (size_t k = 0; k < n_chains; k++)
        head_forget(r, chains[k].sid);
    rc = chain_and_append(r, a, n, chains, rows, heads, &n_chains);
  }
  for (size_t k = 0; k < n_chains; k++) {
    struct mes__rec_head_slot *s = head_slot(r, chains[k].sid);
    if (!s)
      break;
    if (rc == MES_OK && chains[k].usable) {
      s->sid = chains[k].sid;
      memcpy(s->ck, chains[k].ck, sizeof s->ck);
      s->head = chains[k].head;
    } else {
      head_forget(r, chains[k].sid); /* what the store holds is not known: read it next time */
    }
  }
  if (rc)
    mes_log(r->log, MES_LOG_WARN, "%zu access log entries not written: %s", n, mes_rc_message(rc));
  if (chains)
    mes_wipe(chains, n * sizeof *chains);
  free(chains);
  free(rows);
  free(heads);
}

/* ---------------------------------------------------------------- noting */

void mes__rec_access_note(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                          size_t subject_len, int action) {
  mes_recommender_access_note(r, c, sid, subject, subject_len, (enum mes_access_action)action);
}

void mes_recommender_access_note(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                                 size_t subject_len, enum mes_access_action action) {
  if (action > 0 && action < MES_ACCESS_N)
    mes__rec_access_note_for(r, c, sid, subject, subject_len, action, action_purpose[action]);
}

void mes__rec_access_note_for(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                              size_t subject_len, int action, const char *purpose) {
  if (!r || sid <= 0 || action <= 0 || action >= MES_ACCESS_N || r->access_off)
    return;
  const char *actor = c->actor && *c->actor ? c->actor : "mesura";
  char *reader = strndup(actor, 64);
  size_t purpose_len = strcmp(purpose, action_purpose[action]) == 0 ? 0 : strlen(purpose);
  if (!subject)
    subject_len = 0;
  uint8_t small[ENTRY_HEAD + UINT8_MAX + MES_ID_MAX];
  size_t len = ENTRY_HEAD + purpose_len + subject_len;
  uint8_t *plain = len <= sizeof small ? small : malloc(len);
  int rc = !reader || !plain ? MES_ENOMEM : purpose_len > UINT8_MAX ? MES_EINTERNAL : MES_OK;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  if (!rc) {
    plain[0] = ENTRY_FORM;
    plain[1] = (uint8_t)purpose_len;
    memcpy(plain + ENTRY_HEAD, purpose, purpose_len);
    if (subject_len)
      memcpy(plain + ENTRY_HEAD + purpose_len, subject, subject_len);
    rc = mes_subject_seal(r->subjects, sid, "access", plain, len, &sealed, &sealed_len);
    mes_wipe(plain, len);
  }
  if (plain != small)
    free(plain);
  if (rc) {
    free(reader);
    mes_log(r->log, MES_LOG_WARN, "access log entry not made: %s", mes_rc_code(rc));
    return;
  }
  mes__rec_enqueue_access(r, sid, c->now_ms, action, reader, sealed, sealed_len);
}

/* ---------------------------------------------------------------- reading */

struct log_read {
  struct mes_recommender *r;
  enum mes_lang lang;
  json_t *entries;
  int rc;
  /* The chain as the entries are read, checked as verification would. */
  bool keyed;                        /* ck holds the chain key */
  uint8_t ck[MES_KEY_BYTES];
  uint8_t prev[MES_ACCESS_MAC_BYTES]; /* the MAC the next entry chains to */
  int64_t next;                       /* the seq it must have */
  bool intact;
};

/* One entry as read back, from its row and its opened sealed part. The
 * strings are borrowed from the row, the opened part or doc. */
struct entry {
  int64_t at_ms;
  int action;
  const char *reader;
  const char *purpose;
  size_t purpose_len;
  const char *subject; /* NULL: the read named no id */
  size_t subject_len;
  json_t *doc; /* the JSON form's document (owned), or NULL */
};

/* Reads row's opened sealed part (plain, len) into *e; false when it says
 * nothing a reader could be shown (then e->doc is still to be freed). */
static bool entry_read(const struct mes_access_row *row, const char *plain, size_t len, struct entry *e) {
  memset(e, 0, sizeof *e);
  if (len && plain[0] == '{') {
    e->doc = mes_json_load_parts(plain, len);
    const char *code = json_string_value(json_object_get(e->doc, "action"));
    for (int a = 1; a < MES_ACCESS_N && code; a++)
      if (strcmp(code, action_code[a]) == 0)
        e->action = a;
    e->reader = json_string_value(json_object_get(e->doc, "reader"));
    e->at_ms = (int64_t)json_integer_value(json_object_get(e->doc, "at"));
    const json_t *p = json_object_get(e->doc, "purpose"), *id = json_object_get(e->doc, "subject");
    if (json_is_string(p)) {
      e->purpose = json_string_value(p);
      e->purpose_len = json_string_length(p);
    }
    if (json_is_string(id)) {
      e->subject = json_string_value(id);
      e->subject_len = json_string_length(id);
    }
  } else if (len >= ENTRY_HEAD && (uint8_t)plain[0] == ENTRY_FORM && ENTRY_HEAD + (size_t)(uint8_t)plain[1] <= len) {
    e->action = row->action > 0 && row->action < MES_ACCESS_N ? row->action : 0;
    e->reader = row->reader;
    e->at_ms = row->ts_ms;
    e->purpose_len = (uint8_t)plain[1];
    e->purpose = e->purpose_len ? plain + ENTRY_HEAD : NULL;
    size_t at = ENTRY_HEAD + e->purpose_len;
    if (at < len) {
      e->subject = plain + at;
      e->subject_len = len - at;
    }
  }
  if (e->action && !e->purpose) {
    e->purpose = action_purpose[e->action];
    e->purpose_len = strlen(e->purpose);
  }
  return e->action && e->reader;
}

/* Whether row is where the chain read so far says, as stored. Without a
 * head to start from (an altered one, or a key gone), no entry can be told
 * apart: none is marked, and the log is not intact. */
static bool entry_checks(struct log_read *lr, const struct mes_access_row *row) {
  if (!lr->keyed)
    return true;
  uint8_t want[MES_ACCESS_MAC_BYTES];
  bool ok = row->seq == lr->next &&
            entry_mac(lr->ck, lr->prev, row->sid, row->seq, row->ts_ms, row->action, row->reader, row->sealed,
                      row->sealed_len, want) == MES_OK &&
            mes_ct_equal(want, row->mac, sizeof want);
  memcpy(lr->prev, row->mac, sizeof lr->prev); /* the next entry vouches for this MAC as stored */
  lr->next = row->seq + 1;
  return ok;
}

static int add_entry(void *ud, const struct mes_access_row *row) {
  struct log_read *lr = ud;
  bool checks = entry_checks(lr, row);
  if (!checks)
    lr->intact = false;
  char *plain = NULL;
  size_t plain_len = 0;
  int rc = mes_subject_unseal(lr->r->subjects, row->sid, "access", row->sealed, row->sealed_len, &plain, &plain_len);
  if (rc == MES_ECRYPTO)
    return 0; /* not this subject's entry: the chain check reports it */
  if (rc) {
    lr->rc = rc;
    return 1;
  }
  struct entry en;
  json_t *e = NULL;
  if (entry_read(row, plain, plain_len, &en)) {
    bool own = strcmp(en.reader, SUBJECT_TOKEN_ACTOR) == 0;
    char text[512], at[32];
    if (own)
      snprintf(text, sizeof text, "%s", text_you[lr->lang][en.action]);
    else
      snprintf(text, sizeof text, text_key[lr->lang][en.action], en.reader);
    mes_time_format(en.at_ms, at);
    e = json_pack("{s:s, s:s, s:s%, s:s, s:s}", "at", at, "reader", own ? "you" : en.reader, "purpose", en.purpose,
                  en.purpose_len, "action", action_code[en.action], "text", text);
    if (!e || (!checks && json_object_set_new(e, "altered", json_true())))
      lr->rc = MES_ENOMEM;
  }
  json_decref(en.doc);
  mes_wipe(plain, plain_len);
  free(plain);
  if (e && json_array_append_new(lr->entries, e))
    lr->rc = MES_ENOMEM;
  return lr->rc != MES_OK;
}

int mes_recommend_access_log(struct mes_recommender *r, int64_t sid, enum mes_lang lang, json_t **out, bool *intact,
                             struct mes_err *err) {
  *out = NULL;
  if (intact)
    *intact = false;
  struct log_read lr = {
      .r = r, .lang = lang >= 0 && lang < MES_LANG_N ? lang : MES_LANG_EN, .entries = json_array(), .intact = true};
  if (!lr.entries)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  /* The head the entries are read against: a chain with none is intact
   * only when empty. */
  struct mes_access_head h;
  int rc = sid > 0 ? mes_store_access_head_get(r->st, sid, &h) : MES_ENOT_FOUND;
  bool has_head = rc == MES_OK;
  if (rc == MES_ENOT_FOUND)
    rc = MES_OK;
  uint8_t key[MES_KEY_BYTES];
  if (!rc && has_head && mes_subject_key(r->subjects, sid, key) == MES_OK) {
    chain_key(key, lr.ck);
    mes_wipe(key, sizeof key);
    uint8_t want[MES_ACCESS_MAC_BYTES];
    head_mac(lr.ck, &h, want);
    lr.keyed = mes_ct_equal(want, h.mac, sizeof want); /* an altered head vouches for nothing */
    lr.next = h.first > 1 ? h.first : 1;
    memcpy(lr.prev, head_base(&h), sizeof lr.prev);
  }
  if (!rc && sid > 0)
    rc = mes_store_access_list(r->st, sid, add_entry, &lr);
  if (!rc)
    rc = lr.rc;
  bool whole = has_head ? lr.keyed && lr.next == h.n + 1 && mes_ct_equal(lr.prev, h.last, sizeof lr.prev)
                        : json_array_size(lr.entries) == 0;
  mes_wipe(lr.ck, sizeof lr.ck);
  if (rc) {
    json_decref(lr.entries);
    return mes_err_set(err, rc, NULL, NULL);
  }
  if (intact)
    *intact = lr.intact && whole;
  *out = lr.entries;
  return MES_OK;
}

/* ---------------------------------------------------------------- verifying */

struct verify {
  struct mes_recommender *r;
  struct mes_access_check *out;
  struct mes_access_head *heads;
  size_t n_heads, cap_heads, next_head; /* heads by sid; next_head: the first not yet matched */
  int64_t sid;                          /* the chain being walked (0: none) */
  bool skip;                            /* its key is gone */
  uint8_t ck[MES_KEY_BYTES];
  uint8_t prev[MES_ACCESS_MAC_BYTES];
  int64_t count;
  const struct mes_access_head *head; /* the walked chain's, or NULL */
  int rc;
};

static int collect_head(void *ud, const struct mes_access_head *h) {
  struct verify *v = ud;
  if (v->n_heads == v->cap_heads) {
    size_t cap = v->cap_heads ? 2 * v->cap_heads : 64;
    struct mes_access_head *p = realloc(v->heads, cap * sizeof *p);
    if (!p) {
      v->rc = MES_ENOMEM;
      return 1;
    }
    v->heads = p;
    v->cap_heads = cap;
  }
  v->heads[v->n_heads++] = *h;
  return 0;
}

static void fault(struct verify *v, int64_t sid, int64_t seq, const char *problem) {
  if (!v->out->intact)
    return; /* the first one is reported */
  v->out->intact = false;
  v->out->bad_sid = sid;
  v->out->bad_seq = seq;
  v->out->problem = problem;
}

/* Whether the subject has a key: a chain without one is an erasure under way. */
static bool load_key(struct verify *v, int64_t sid) {
  uint8_t key[MES_KEY_BYTES];
  if (mes_subject_key_stored(v->r->subjects, sid, key) != MES_OK)
    return false;
  chain_key(key, v->ck);
  mes_wipe(key, sizeof key);
  return true;
}

/* Checks a head (its MAC, and against the walked entries: count, count
 * entries walked, last the MAC of the last one). */
static void check_head(struct verify *v, const struct mes_access_head *h, int64_t count,
                       const uint8_t last[MES_ACCESS_MAC_BYTES]) {
  uint8_t want[MES_ACCESS_MAC_BYTES];
  head_mac(v->ck, h, want);
  if (!mes_ct_equal(want, h->mac, sizeof want))
    fault(v, h->sid, h->n, "The head of this log was altered.");
  else if (count < h->n)
    fault(v, h->sid, count + 1, "Entries are missing at the end of this log (it was truncated).");
  else if (count > h->n || !mes_ct_equal(last, h->last, MES_ACCESS_MAC_BYTES))
    fault(v, h->sid, h->n, "This log does not end where its head says.");
}

/* Heads below sid that no entry reached: their whole log is gone, which
 * is right only when the sweep took it (the start is past the end). */
static void heads_before(struct verify *v, int64_t sid) {
  while (v->next_head < v->n_heads && v->heads[v->next_head].sid < sid) {
    const struct mes_access_head *h = &v->heads[v->next_head++];
    if (load_key(v, h->sid)) {
      v->out->subjects++;
      check_head(v, h, h->first > 1 ? h->first - 1 : 0, head_base(h));
    }
  }
}

static void finish_chain(struct verify *v) {
  if (v->sid && !v->skip) {
    if (v->head)
      check_head(v, v->head, v->count, v->prev);
    else
      fault(v, v->sid, 1, "This log has entries but no head.");
  }
  v->sid = 0;
}

static int verify_row(void *ud, const struct mes_access_row *row) {
  struct verify *v = ud;
  if (row->sid != v->sid) {
    finish_chain(v);
    heads_before(v, row->sid);
    v->sid = row->sid;
    v->count = 0;
    memset(v->prev, 0, sizeof v->prev);
    v->head = NULL;
    if (v->next_head < v->n_heads && v->heads[v->next_head].sid == row->sid) {
      v->head = &v->heads[v->next_head++];
      /* A swept chain starts where its head says. */
      if (v->head->first > 1)
        v->count = v->head->first - 1;
      memcpy(v->prev, head_base(v->head), sizeof v->prev);
    }
    v->skip = !load_key(v, row->sid);
    if (!v->skip)
      v->out->subjects++;
    /* Whether the head may say so is its MAC's to tell, before the entries
     * are walked from the start it gives: a forged start is reported as
     * such, not as the entries it misplaces. */
    if (!v->skip && v->head) {
      uint8_t want[MES_ACCESS_MAC_BYTES];
      head_mac(v->ck, v->head, want);
      if (!mes_ct_equal(want, v->head->mac, sizeof want))
        fault(v, v->head->sid, v->head->n, "The head of this log was altered.");
    }
  }
  if (v->skip)
    return 0;
  v->out->entries++;
  v->count++;
  uint8_t want[MES_ACCESS_MAC_BYTES];
  if (row->seq != v->count) {
    fault(v, row->sid, v->count, row->seq > v->count ? "This entry was removed." : "Entries were reordered.");
    v->count = row->seq;
  }
  if (entry_mac(v->ck, v->prev, row->sid, row->seq, row->ts_ms, row->action, row->reader, row->sealed,
                row->sealed_len, want)) {
    v->rc = MES_ENOMEM;
    return 1;
  }
  if (!mes_ct_equal(want, row->mac, sizeof want))
    fault(v, row->sid, row->seq, "This entry was altered.");
  memcpy(v->prev, row->mac, sizeof v->prev); /* the next entry vouches for this MAC as stored */
  return 0;
}

int mes_recommend_access_verify(struct mes_recommender *r, struct mes_access_check *out, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  out->intact = true;
  mes_recommender_flush(r);
  struct verify v = {.r = r, .out = out};
  int rc = mes_store_access_heads(r->st, collect_head, &v);
  if (!rc && !(rc = v.rc))
    rc = mes_store_access_list(r->st, 0, verify_row, &v);
  if (!rc && !(rc = v.rc)) {
    finish_chain(&v);
    heads_before(&v, INT64_MAX);
  }
  mes_wipe(v.ck, sizeof v.ck);
  free(v.heads);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- retention */

/* How many chains one sweep transaction moves: bounds the time the writer
 * lock is held, between the recommender's own batches. */
#define TRIM_BATCH 256

struct sid_list {
  int64_t *v;
  size_t n, cap;
  int rc;
};

static int add_sid(void *ud, int64_t sid) {
  struct sid_list *l = ud;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    int64_t *p = realloc(l->v, cap * sizeof *p);
    if (!p) {
      l->rc = MES_ENOMEM;
      return 1;
    }
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n++] = sid;
  return 0;
}

/* Walking one chain's oldest entries to find the new start. */
struct trim_walk {
  const uint8_t *ck;
  int64_t before_ms;
  int64_t next;                         /* the seq the next row must have */
  uint8_t prev[MES_ACCESS_MAC_BYTES];   /* the MAC the next row chains to */
  bool broken;
  int rc;
};

static int trim_row(void *ud, const struct mes_access_row *row) {
  struct trim_walk *w = ud;
  if (row->seq != w->next) { /* removed, reordered, or below the start */
    w->broken = true;
    return 1;
  }
  if (row->ts_ms >= w->before_ms)
    return 1; /* kept, and so is everything after it */
  uint8_t want[MES_ACCESS_MAC_BYTES];
  if (entry_mac(w->ck, w->prev, row->sid, row->seq, row->ts_ms, row->action, row->reader, row->sealed,
                row->sealed_len, want)) {
    w->rc = MES_ENOMEM;
    return 1;
  }
  if (!mes_ct_equal(want, row->mac, sizeof want)) {
    w->broken = true;
    return 1;
  }
  memcpy(w->prev, row->mac, sizeof w->prev);
  w->next++;
  return 0;
}

/* Plans sid's trim into *t: 1 when entries go, 0 when none (or the chain
 * cannot be vouched for: logged, left alone), < 0 an error code negated. */
static int plan_trim(struct mes_recommender *r, int64_t sid, int64_t before_ms, struct mes_access_trim *t) {
  struct chain ch;
  chain_load(r, &ch, sid);
  if (!ch.usable || ch.head.n == 0) {
    mes_wipe(ch.ck, sizeof ch.ck);
    return 0;
  }
  int64_t first = ch.head.first > 1 ? ch.head.first : 1;
  struct trim_walk w = {.ck = ch.ck, .before_ms = before_ms, .next = first};
  memcpy(w.prev, head_base(&ch.head), sizeof w.prev);
  int rc = mes_store_access_list(r->st, sid, trim_row, &w);
  if (!rc)
    rc = w.rc;
  int out = 0;
  if (rc) {
    out = -rc;
  } else if (w.broken || w.next > ch.head.n + 1) {
    mes_log(r->log, MES_LOG_ERROR, "access log of subject #%lld does not verify: its old entries are kept",
            (long long)sid);
  } else if (w.next > first) {
    if (w.next == ch.head.n + 1 && !mes_ct_equal(w.prev, ch.head.last, sizeof w.prev)) {
      mes_log(r->log, MES_LOG_ERROR, "access log of subject #%lld does not verify: its old entries are kept",
              (long long)sid);
    } else {
      struct mes_access_head h = ch.head;
      h.first = w.next;
      memcpy(h.base, w.prev, sizeof h.base);
      *t = (struct mes_access_trim){.sid = sid, .n = ch.head.n, .was_first = first, .first = w.next};
      memcpy(t->base, w.prev, sizeof t->base);
      head_mac(ch.ck, &h, t->mac);
      out = 1;
    }
  }
  mes_wipe(ch.ck, sizeof ch.ck);
  mes_wipe(&w, sizeof w);
  return out;
}

int mes_recommend_access_sweep(struct mes_recommender *r, const struct mes_req *c, int64_t *n_deleted,
                               struct mes_err *err) {
  if (n_deleted)
    *n_deleted = 0;
  int days = c->policy ? c->policy->rights.access_log_retention_days : 0;
  if (days <= 0)
    return MES_OK;
  int64_t before_ms = c->now_ms - (int64_t)days * MS_PER_DAY;
  mes_recommender_flush(r); /* the reads noted until now are chained */
  struct sid_list sids = {0};
  int rc = mes_store_access_expired(r->st, before_ms, add_sid, &sids);
  if (!rc)
    rc = sids.rc;
  struct mes_access_trim *t = rc ? NULL : calloc(TRIM_BATCH, sizeof *t);
  if (!rc && !t)
    rc = MES_ENOMEM;
  int64_t total = 0;
  for (size_t i = 0; !rc && i < sids.n;) {
    size_t n = 0;
    for (; i < sids.n && n < TRIM_BATCH && !rc; i++) {
      int p = plan_trim(r, sids.v[i], before_ms, &t[n]);
      if (p < 0)
        rc = -p;
      else
        n += (size_t)p;
    }
    int64_t d = 0;
    if (!rc && n)
      rc = mes_store_access_trim(r->st, t, n, &d);
    total += d;
  }
  free(t);
  free(sids.v);
  if (n_deleted)
    *n_deleted = total;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- incidents */

struct incident {
  struct mes_recommender *r;
  bool reveal;
  mes_access_incident_cb cb;
  void *ud;
  char *id; /* revealed id (owned) */
  size_t id_len;
  int rc;
};

static int find_id(void *ud, const struct mes_access_row *row) {
  struct incident *in = ud;
  char *plain = NULL;
  size_t plain_len = 0;
  if (mes_subject_unseal(in->r->subjects, row->sid, "access", row->sealed, row->sealed_len, &plain, &plain_len))
    return 0;
  struct entry en;
  (void)entry_read(row, plain, plain_len, &en);
  if (en.subject && en.subject_len && (in->id = strndup(en.subject, en.subject_len)))
    in->id_len = strlen(in->id);
  json_decref(en.doc);
  mes_wipe(plain, plain_len);
  free(plain);
  return in->id != NULL;
}

static int incident_row(void *ud, int64_t sid, const uint8_t pn[32]) {
  struct incident *in = ud;
  char hex[17];
  mes_pseudonym_hex(pn, hex);
  if (in->reveal)
    (void)mes_store_access_list(in->r->st, sid, find_id, in);
  int stop = in->cb(in->ud, hex, in->id, in->id_len);
  if (in->id) {
    mes_wipe(in->id, in->id_len);
    free(in->id);
    in->id = NULL;
    in->id_len = 0;
  }
  return stop;
}

int mes_recommend_access_incident(struct mes_recommender *r, const char *reader, int64_t since_ms, bool reveal,
                                  mes_access_incident_cb cb, void *ud, struct mes_err *err) {
  mes_recommender_flush(r);
  struct incident in = {r, reveal, cb, ud, NULL, 0, MES_OK};
  int rc = mes_store_access_readers(r->st, reader, since_ms, incident_row, &in);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
