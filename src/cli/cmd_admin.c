/* cli — init, keys, backup and restore: the data directory's administration. */
#include <stdio.h>
#include <string.h>

#include "base/mtime.h"
#include "cli/cli_int.h"

int mes__cmd_init(int argc, char **argv) {
  const char *dir = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 1, NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir)
    return mes__cli_usage("init needs --data DIR");
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_init_dir(dir, &err))
    return mes__cli_fail(&err);
  fprintf(stderr, "mesura: created %s (edit %s/mesura.yaml, then `mesura keys create`)\n", dir, dir);
  return MES_EXIT_OK;
}

static int key_row_print(void *ud, const struct mes_key_info *row) {
  (void)ud;
  char scopes[128], created[32], revoked[32];
  mes_scope_format(row->scopes, scopes, sizeof scopes);
  mes_time_format(row->created_ms, created);
  if (row->revoked_ms)
    mes_time_format(row->revoked_ms, revoked);
  printf("%s\t%s\t%s\t%s%s\n", row->name, scopes, created, row->revoked_ms ? "revoked " : "active",
         row->revoked_ms ? revoked : "");
  return 0;
}

/* Opens no engine: the rotation needs the directory to itself. */
static int rotate_master(const char *dir) {
  struct mes_err err;
  mes_err_clear(&err);
  int64_t n = 0;
  if (mes_engine_rotate_master(dir, &n, &err))
    return mes__cli_fail(&err);
  fprintf(stderr,
          "mesura: re-wrapped %lld subject %s under a new master key in %s/master.key; the old master.key opens "
          "nothing here any more: destroy its copies, and back the new one up (README, \"Rotating the master "
          "key\")\n",
          (long long)n, n == 1 ? "key" : "keys", dir);
  return MES_EXIT_OK;
}

int mes__cmd_keys(int argc, char **argv) {
  const char *dir = NULL, *scopes = NULL, *name = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}, {"scopes", &scopes, NULL}, {"name", &name, NULL}};
  const char *pos[2];
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 3, pos, 2, &n_pos))
    return MES_EXIT_USAGE;
  if (n_pos == 0)
    return mes__cli_usage("keys needs a subcommand: create, list, revoke or rotate-master");
  if (!dir)
    return mes__cli_usage("keys needs --data DIR");
  const char *sub = pos[0];
  uint32_t mask = 0;
  struct mes_err err;
  mes_err_clear(&err);
  char gen_name[32];
  if (strcmp(sub, "create") == 0) {
    if (n_pos != 1)
      return mes__cli_usage("keys create takes no positional argument");
    if (!scopes)
      return mes__cli_usage("keys create needs --scopes S1,S2");
    if (mes_scope_parse(scopes, &mask, &err))
      return mes__cli_usage("%s", mes_err_text(&err));
  } else if (strcmp(sub, "revoke") == 0) {
    if (n_pos != 2)
      return mes__cli_usage("keys revoke needs the key's NAME");
  } else if (strcmp(sub, "list") == 0) {
    if (n_pos != 1)
      return mes__cli_usage("keys list takes no positional argument");
  } else if (strcmp(sub, "rotate-master") == 0) {
    if (n_pos != 1 || scopes || name)
      return mes__cli_usage("usage: mesura keys rotate-master --data DIR");
    return rotate_master(dir);
  } else {
    return mes__cli_usage("unknown keys subcommand '%s': create, list, revoke or rotate-master", sub);
  }
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  int rc = MES_OK;
  if (strcmp(sub, "create") == 0) {
    char key[64];
    if (!name) { /* the randomness is the engine's: open first */
      char tok[16];
      mes_random_token(tok, sizeof tok, 6);
      snprintf(gen_name, sizeof gen_name, "key-%s", tok);
      name = gen_name;
    }
    rc = mes_engine_key_create(e, name, mask, key, &err);
    if (!rc) {
      printf("%s\n", key);
      mes_wipe(key, sizeof key);
    }
  } else if (strcmp(sub, "revoke") == 0) {
    rc = mes_engine_key_revoke(e, pos[1], &err);
  } else {
    /* Tab-separated like the rows, so that `cut -f` and a spreadsheet both
     * find the columns by name. */
    printf("NAME\tSCOPES\tCREATED\tSTATUS\n");
    rc = mes_engine_key_list(e, key_row_print, NULL, &err);
  }
  mes_engine_close(e);
  return rc ? mes__cli_fail(&err) : MES_EXIT_OK;
}

int mes__cmd_backup(int argc, char **argv) {
  const char *dir = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}};
  const char *pos[1];
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 1, pos, 1, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir || n_pos != 1)
    return mes__cli_usage("usage: mesura backup --data DIR FILE");
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_engine_backup(e, pos[0], &err);
  mes_engine_close(e);
  if (rc)
    return mes__cli_fail(&err);
  fprintf(stderr, "mesura: backup written to %s (subject keys are not in it, by design: see README)\n", pos[0]);
  return MES_EXIT_OK;
}

/* Run while nothing has the directory open: the engine refuses otherwise,
 * and the message says to stop the server first. */
int mes__cmd_restore(int argc, char **argv) {
  const char *dir = NULL, *keys = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}, {"keys", &keys, NULL}};
  const char *pos[1];
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 2, pos, 1, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir || n_pos != 1)
    return mes__cli_usage("usage: mesura restore --data DIR FILE [--keys KEYSFILE]");
  struct mes_err err;
  mes_err_clear(&err);
  int64_t n_erased = 0;
  if (mes_engine_restore(dir, pos[0], keys, &n_erased, &err))
    return mes__cli_fail(&err);
  /* A model saved in the backup was trained before those erasures. */
  fprintf(stderr, "mesura: restored %s/mesura.db from %s%s%s%s; the erasure journal removed %lld erased %s again%s\n",
          dir, pos[0], keys ? " and keys.db from " : "", keys ? keys : "", keys ? "" : " (keys.db kept)",
          (long long)n_erased, n_erased == 1 ? "person" : "people",
          n_erased > 0 ? " (run `mesura train` so that the model forgets them too)" : "");
  return MES_EXIT_OK;
}
