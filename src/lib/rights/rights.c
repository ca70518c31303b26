/*
 * rights/rights — the handle (rights.h): the owners the rights read and
 * write through, borrowed.
 */
#include <stdlib.h>

#include "rights/rights_int.h"

int mes_rights_new(struct mes_store *st, struct mes_subjects *subjects, struct mes_ledger *ledger,
                   struct mes_ingester *ingester, struct mes_catalog *catalog, struct mes_recommender *rec,
                   struct mes_rights **out) {
  *out = NULL;
  struct mes_rights *rt = calloc(1, sizeof *rt);
  if (!rt)
    return MES_ENOMEM;
  *rt = (struct mes_rights){
      .store = st, .subjects = subjects, .ledger = ledger, .ingester = ingester, .catalog = catalog, .rec = rec};
  *out = rt;
  return MES_OK;
}

void mes_rights_free(struct mes_rights *rt) { free(rt); }
