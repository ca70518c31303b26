/*
 * fuzz_etag — libFuzzer target for the one header the static pages parse:
 * If-None-Match (src/http/h_static.c), compared with every page's ETag. The
 * input is the header's value as the client sent it, up to a NUL.
 *
 *   ./fuzz_etag fuzz/corpus/etag
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/assets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *inm = malloc(size + 1);
  if (!inm)
    return 0;
  memcpy(inm, data, size);
  inm[size] = '\0';
  for (size_t i = 0; i < mes__n_assets; i++) {
    bool hit = mes__etag_matches(inm, mes__assets[i].etag);
    /* Its own tag, alone, always matches; "*" matches anything. */
    if (strcmp(inm, mes__assets[i].etag) == 0 && !hit)
      abort();
  }
  free(inm);
  return 0;
}
