/*
 * fuzz_recs_request — libFuzzer target for the request parser of
 * POST /v1/recommendations (src/lib/recommend/request.c): the body as the HTTP
 * layer hands it over (parsed by mes_json_parse_object), through the field
 * tables and the rules they cannot say (a known channel, declared
 * categories). The parser is pure, so only the example policy is needed.
 *
 * Every input must either be refused with a 4xx code whose field is a JSON
 * pointer (or empty), or give a request within the contract's bounds.
 * Seeds: fuzz/corpus/recs_request/, dictionary: fuzz/recs_request.dict.
 *
 *   ./fuzz_recs_request -dict=fuzz/recs_request.dict fuzz/corpus/recs_request
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/json.h"
#include "policy/policy.h"
#include "recommend/recommend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mes_policy *policy;

static void cleanup(void) { mes_policy_free(policy); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!policy) {
    struct mes_err err;
    const char *yaml = mes_policy_example();
    if (mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &policy, &err))
      abort();
    atexit(cleanup);
  }
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = NULL;
  int rc = mes_json_parse_object((const char *)data, size, &body, &err);
  if (rc) {
    if (mes_rc_status(rc) / 100 != 4)
      abort();
    return 0;
  }
  struct mes_rec_request q;
  rc = mes_recommend_parse(body, &q, &err);
  if (rc) {
    if (mes_rc_status(rc) != 400 || (err.field[0] && err.field[0] != '/'))
      abort();
  } else {
    if (q.count < 1 || q.count > MES_REC_COUNT_MAX || (int)q.channel < 0 || q.channel >= MES_CH_N ||
        !q.placement || mes_id_check(q.placement, strlen(q.placement)))
      abort();
    if (q.subject && mes_id_check(q.subject, q.subject_len))
      abort();
    if (q.context_item && mes_id_check(q.context_item, q.context_item_len))
      abort();
    if (json_array_size(q.exclude) > MES_REC_EXCLUDE_MAX || json_array_size(q.categories) > MES_REC_CATEGORIES_MAX)
      abort();
  }
  json_decref(body);
  return 0;
}
