/*
 * fuzz_policy — libFuzzer target for the mesura.yaml loader (src/policy).
 *
 * Any input must either load or be refused with MES_EBAD_POLICY (or
 * MES_ENOMEM) and a "FILE:LINE: sentence" message; a loaded policy must
 * produce its privacy notice in every language. Seeds: fuzz/corpus/policy/,
 * dictionary: fuzz/policy.dict.
 *
 *   ./fuzz_policy -dict=fuzz/policy.dict fuzz/corpus/policy
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  int rc = mes_policy_load_buf("mesura.yaml", (const char *)data, size, &p, &err);
  if (rc != MES_OK) {
    /* Refusals name the file and a line, and end in a full stop. */
    if (p != NULL || (rc != MES_EBAD_POLICY && rc != MES_ENOMEM) ||
        (rc == MES_EBAD_POLICY && strncmp(err.msg, "mesura.yaml:", 12) != 0))
      abort();
    return 0;
  }
  struct mes_served_right served[MES_RIGHT_N];
  for (int r = 0; r < MES_RIGHT_N; r++)
    served[r] = (struct mes_served_right){(enum mes_right)r, "GET", "/v1/subjects/{s}"};
  for (int l = 0; l < MES_LANG_N; l++) {
    json_t *n = mes_policy_notice_json(p, served, (size_t)(l == 0 ? 0 : MES_RIGHT_N), (enum mes_lang)l);
    char *html = mes_policy_notice_html(p, served, (size_t)(l == 0 ? 0 : MES_RIGHT_N), (enum mes_lang)l);
    json_decref(n);
    free(html);
  }
  (void)mes_lang_negotiate(p, "pl;q=0.5, es;q=0.7, *;q=0.1");
  (void)mes_policy_channel_purposes(p, MES_CH_EMAIL);
  mes_policy_free(p);
  return 0;
}
