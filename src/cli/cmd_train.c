/* cli — `mesura train`: trains a model from the stored events and saves it as
 * the newest; a server running on the same data directory makes it live
 * within a second (its background thread polls for newer models). */
#include <stdio.h>

#include "cli/cli_int.h"

int mes__cmd_train(int argc, char **argv) {
  const char *dir = NULL;
  /* --data like every other command; --dir is accepted as its synonym. */
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}, {"dir", &dir, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 2, NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir)
    return mes__cli_usage("train needs --data DIR");
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *meta = NULL;
  if (mes_engine_train(e, NULL, &meta, &err)) {
    mes_engine_close(e);
    return mes__cli_fail(&err);
  }
  mes_engine_close(e);
  const char *from = json_string_value(json_object_get(meta, "data_from"));
  const char *to = json_string_value(json_object_get(meta, "data_to"));
  const char *kind = json_string_value(json_object_get(meta, "kind"));
  json_int_t ease_items = json_integer_value(json_object_get(meta, "ease_items"));
  printf("Model %lld trained and saved: %s of %lld items (%lld in EASE) from %lld events of %lld people "
         "(%lld events read; data %s to %s), in %.1f s, %.1f MiB in memory. A server on this directory uses it "
         "within a second.\n",
         (long long)json_integer_value(json_object_get(meta, "id")), mes__cli_model_phrase(kind),
         (long long)json_integer_value(json_object_get(meta, "items")), (long long)ease_items,
         (long long)json_integer_value(json_object_get(meta, "events")),
         (long long)json_integer_value(json_object_get(meta, "subjects")),
         (long long)json_integer_value(json_object_get(meta, "events_read")), from ? from : "none",
         to ? to : "none", (double)json_integer_value(json_object_get(meta, "train_ms")) / 1000.0,
         (double)json_integer_value(json_object_get(meta, "memory_bytes")) / (1024.0 * 1024.0));
  json_decref(meta);
  return MES_EXIT_OK;
}
