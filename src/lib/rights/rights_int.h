/*
 * rights_int — the rights handle's insides, shared by export.c, prefs.c and
 * rights.c only.
 */
#ifndef MES_RIGHTS_INT_H
#define MES_RIGHTS_INT_H

#include "rights/rights.h"

struct mes_rights {
  struct mes_store *store;       /* summary counts, decision records */
  struct mes_subjects *subjects; /* resolves; unseals decision records */
  struct mes_ledger *ledger;     /* consents and preferences */
  struct mes_ingester *ingester; /* events; dismissals */
  struct mes_catalog *catalog;   /* categories of the items seen */
  struct mes_recommender *rec;   /* what it showed the person (impressions) */
};

#endif
