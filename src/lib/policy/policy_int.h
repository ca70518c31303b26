/*
 * policy_int — private to src/lib/policy/ (and its unit tests).
 *
 * The schema of mesura.yaml is declared once, in schema.c, as a tree of
 * struct mes__pfield rows. The loader (policy.c) walks the YAML document
 * against that tree: it refuses unknown keys, checks types and bounds, fills
 * defaults and stores each value at the row's offset. The reference table of
 * docs/config.md is printed from the same rows (mes__policy_schema_doc), and a
 * unit test checks that the file and the example mesura.yaml agree with it.
 */
#ifndef MES_POLICY_INT_H
#define MES_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "policy/policy.h"

enum mes__pkind {
  MES_PK_MAP,     /* fixed keys: `fields` */
  MES_PK_DICT,    /* keys named by the brand (ids), each value a MES_PK_MAP of `fields` */
  MES_PK_STR,     /* text */
  MES_PK_TEXT,    /* text, or a map of language -> text (a plain text is English) */
  MES_PK_BOOL,    /* true | false */
  MES_PK_INT,     /* positive whole number, at most `max` */
  MES_PK_CHOICE,  /* one of `choices`, stored as its index */
  MES_PK_CHOICES, /* list of `choices`, stored as a bitmask of indexes */
  MES_PK_NAMES,   /* list of distinct ids, stored as char ** plus a count */
  MES_PK_REFS,    /* list of declared purpose names, stored as a bitmask */
  MES_PK_ORIGINS, /* list of distinct web origins (scheme://host[:port]), stored as MES_PK_NAMES */
};

struct mes__pfield {
  const char *name; /* NULL ends a table */
  enum mes__pkind kind;
  bool required;
  int dflt;                         /* INT, BOOL, CHOICE: default value or index */
  int max;                          /* INT: largest value; DICT: most entries */
  bool zero_ok;                     /* INT: 0 is accepted too (it means "never") */
  const char *const *choices;       /* CHOICE, CHOICES: NULL-terminated names */
  const struct mes__pfield *fields; /* MAP: its keys; DICT: the keys of each entry */
  size_t off, size;                 /* where the value goes, relative to the owner struct */
  size_t off_count;                 /* NAMES, DICT: where the count goes */
  size_t elem_size;                 /* DICT: size of one entry (whose first member is char *name) */
  const char *noun;                 /* DICT: "purpose", used in sentences */
  bool distinct_case;               /* DICT: names may not differ only in letter case either */
  const char *type_doc;             /* docs: what it accepts (derived for INT, BOOL, CHOICE, CHOICES) */
  const char *default_doc;          /* docs: the default in words (derived for INT, BOOL, CHOICE; "required") */
  const char *doc;                  /* for docs/config.md: what it means, in plain words */
};

/* The top-level keys of mesura.yaml (owner struct: struct mes_policy). */
extern const struct mes__pfield mes__policy_schema[];

/* Enum names, indexed by the enum, NULL-terminated (read-only tables). */
extern const char *const mes__channel_names[MES_CH_N + 1];
extern const char *const mes__lang_names[MES_LANG_N + 1];
extern const char *const mes__source_names[MES_SRC_N + 1];

/* Appends the Markdown reference table of every key (docs/config.md embeds it
 * verbatim). MES_OK or the buffer's error. */
int mes__policy_schema_doc(struct mes_buf *out);

/* Loads from a buffer with an explicit modification time (epoch ms), which
 * gives the default policy_version. mes_policy_load_buf uses the clock. */
int mes__policy_load_mtime(const char *name, const char *yaml, size_t len, int64_t mtime_ms, struct mes_policy **out,
                           struct mes_err *err);

/* The fixed sentences of the privacy notice, for the test that checks every
 * translation keeps the English conversions (%s, %d) in the same order. */
size_t mes__notice_n_texts(void);
const char *mes__notice_text(size_t i, enum mes_lang l);

#endif
