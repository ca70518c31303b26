/*
 * subject_int — the subject registry's insides, shared by subject.c (keys,
 * sealing) and subjmap.c (the hints) only.
 */
#ifndef MES_SUBJECT_INT_H
#define MES_SUBJECT_INT_H

#include "subject/subject.h"
#include "subject/subjmap.h"

struct mes_subjects {
  struct mes_store *store;         /* borrowed */
  const struct mes_master *master; /* borrowed */
  const struct mes_log *log;       /* borrowed; may be NULL */
  struct mes_keycache *keys;       /* owned; capacity 0 keeps nothing */
  struct mes_subjmap *map;         /* owned; likewise */
};

#endif
