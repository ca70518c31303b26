/* cli — the access log's commands: `mesura verify-log` checks every
 * person's log against its chain and head (exit 0 intact, 1 with the first
 * broken entry named), and `mesura incident` lists the people whose data
 * one key read since a time, by pseudonym, so that they can be told when
 * the key leaked; `--reveal` shows their ids, after a confirmation, to an
 * operator who holds the master key (the ids are sealed under each person's
 * key, which only the master key opens). */
#include <stdio.h>
#include <string.h>

#include "base/mtime.h"
#include "cli/cli_int.h"

int mes__cmd_verify_log(int argc, char **argv) {
  const char *dir = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 1, NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir)
    return mes__cli_usage("usage: mesura verify-log --data DIR");
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_access_verdict v;
  int rc = mes_engine_access_verify(e, &v, &err);
  mes_engine_close(e);
  if (rc)
    return mes__cli_fail(&err);
  if (!v.intact) {
    /* The subject's row number, never an id: this output may be shared. */
    printf("broken: subject #%lld, entry %lld: %s\n", (long long)v.subject, (long long)v.entry, v.problem);
    return MES_EXIT_FAIL;
  }
  printf("intact: %lld access logs, %lld entries\n", (long long)v.n_logs, (long long)v.n_entries);
  return MES_EXIT_OK;
}

static int print_subject(void *ud, const char *pseudonym, const char *id, size_t id_len) {
  long *n = ud;
  (*n)++;
  if (id)
    printf("%s\t%.*s\n", pseudonym, (int)id_len, id);
  else
    printf("%s\n", pseudonym);
  return 0;
}

int mes__cmd_incident(int argc, char **argv) {
  const char *dir = NULL, *key = NULL, *since = NULL;
  bool reveal = false;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}, {"key", &key, NULL}, {"since", &since, NULL},
                                     {"reveal", NULL, &reveal}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 4, NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir || !key || !since)
    return mes__cli_usage("usage: mesura incident --data DIR --key NAME --since TIME [--reveal]");
  int64_t since_ms = 0;
  if (mes_time_parse_rfc3339(since, strlen(since), &since_ms) != MES_OK)
    return mes__cli_usage("--since takes an RFC 3339 time, such as 2026-01-31T00:00:00Z");
  if (reveal) {
    /* Ids are personal data: the operator says so before they are shown. */
    fprintf(stderr, "mesura: --reveal prints the subject ids of the people key \"%s\" read. Type yes to go on: ",
            key);
    char answer[16] = "";
    if (!fgets(answer, sizeof answer, stdin) || strncmp(answer, "yes", 3) != 0 ||
        (answer[3] != '\n' && answer[3] != '\0')) {
      fprintf(stderr, "mesura: not confirmed; nothing shown\n");
      return MES_EXIT_FAIL;
    }
  }
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  struct mes_err err;
  mes_err_clear(&err);
  long n = 0;
  int rc = mes_engine_incident(e, key, since_ms, reveal, print_subject, &n, &err);
  mes_engine_close(e);
  if (rc)
    return mes__cli_fail(&err);
  fprintf(stderr, "mesura: key \"%s\" read the data of %ld %s since %s\n", key, n, n == 1 ? "person" : "people",
          since);
  return MES_EXIT_OK;
}
