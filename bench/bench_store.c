/*
 * bench_store — the baseline of the ingestion benchmark: a bare loop that
 * seals rows with a subject key (XChaCha20-Poly1305) and inserts them into
 * the embedded store in 1,000-row transactions, with no HTTP, no JSON and no
 * policy. The HTTP figures in bench/README.md are reported as ratios to it.
 * It inserts through the store's fastest path, mes_store_event_insert_many
 * (the one POST /v1/events uses); "one" inserts row by row
 * (mes_store_event_insert), to show what grouping rows per statement saves.
 *
 * usage: bench_store DIR N_ROWS N_SUBJECTS [many|one]     (DIR must not exist)
 * prints one JSON line: {"rows":N,"seconds":S,"rows_per_s":R}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "crypto/crypto.h"
#include "ingest/evrec.h"
#include "store/store.h"

int main(int argc, char **argv) {
  bool one = argc == 5 && strcmp(argv[4], "one") == 0;
  if (argc < 4 || argc > 5 || (argc == 5 && !one && strcmp(argv[4], "many") != 0)) {
    fprintf(stderr, "usage: bench_store DIR N_ROWS N_SUBJECTS [many|one]\n");
    return 2;
  }
  long n_rows = strtol(argv[2], NULL, 10), n_subj = strtol(argv[3], NULL, 10);
  if (n_rows <= 0 || n_subj <= 0)
    return 2;
  struct mes_err err;
  struct mes_store *st;
  mes_crypto_init();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", argv[1]);
  if (system(cmd) != 0 || mes_store_open(argv[1], MES_STORE_SQLITE, true, &st, &err)) {
    fprintf(stderr, "bench_store: cannot open the store: %s\n", mes_err_text(&err));
    return 1;
  }
  /* Subjects first, as the server would have them after their consents. */
  int64_t *sids = calloc((size_t)n_subj, sizeof *sids);
  uint8_t key[MES_KEY_BYTES];
  mes_subject_key_new(key);
  if (!sids || mes_store_tx_begin(st))
    return 1;
  for (long i = 0; i < n_subj; i++) {
    uint8_t pn[32] = {0};
    memcpy(pn, &i, sizeof i);
    struct mes_subject_row row;
    if (mes_store_subject_ensure(st, pn, mes_now_ms(), &row))
      return 1;
    sids[i] = row.id;
  }
  uint64_t ticket;
  if (mes_store_tx_commit(st, &ticket) || mes_store_wait_durable(st, ticket))
    return 1;

  /* The document the server seals for a typical view event (evrec.h). */
  static const char cold[] = "{\"properties\":{\"duration_s\":35},\"context\":{\"authenticated\":true}}";
  struct mes_evrec rec = {.channel = MES_CH_WEB, .item = "item-01234", .item_len = 10,
                          .cold = {cold, sizeof cold - 1}};
  struct mes_buf doc;
  mes_buf_init(&doc, 4096);
  if (mes_evrec_encode(&doc, &rec))
    return 1;
  const char *pt = doc.data;
  size_t pt_len = doc.len, sealed_len = pt_len + MES_SEAL_OVERHEAD;
  enum { TX_ROWS = 1000, SEALED_MAX = 512 };
  uint8_t *sealed = malloc((size_t)TX_ROWS * SEALED_MAX);
  struct mes_event_row *rows = calloc(TX_ROWS, sizeof *rows);
  if (!sealed || !rows || sealed_len > SEALED_MAX)
    return 1;
  uint64_t t0 = mes_mono_ns();
  for (long i = 0; i < n_rows; i += TX_ROWS) {
    if (mes_store_tx_begin(st))
      return 1;
    size_t n = 0;
    for (long k = i; k < i + TX_ROWS && k < n_rows; k++, n++) {
      uint8_t *out = sealed + n * SEALED_MAX;
      mes_seal(key, "event", 5, pt, pt_len, out);
      rows[n] = (struct mes_event_row){.sid = sids[k % n_subj], .type = 0, .ts_ms = mes_now_ms(), .purposes = 1,
                                       .sealed = out, .sealed_len = sealed_len};
      if (one && mes_store_event_insert(st, &rows[n]))
        return 1;
    }
    if (!one && mes_store_event_insert_many(st, rows, n, NULL))
      return 1;
    if (mes_store_tx_commit(st, &ticket) || mes_store_wait_durable(st, ticket))
      return 1;
  }
  double secs = (double)(mes_mono_ns() - t0) / 1e9;
  printf("{\"rows\":%ld,\"seconds\":%.3f,\"rows_per_s\":%.0f}\n", n_rows, secs, (double)n_rows / secs);
  mes_store_close(st);
  free(sids);
  free(sealed);
  free(rows);
  mes_buf_release(&doc);
  return 0;
}
