/*
 * Unit tests of the eval command lines (src/cli/cmd_eval.c), through
 * mes_cli_main as `mesura` runs them: exit code 2 only for a wrong command
 * line, 1 for a bad or missing file, 0 when the figures were written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

/* Five users' views, enough for the protocol to evaluate two of them. */
static const char good_csv[] = "subject,item,ts\n"
                               "u1,i1,1\nu1,i2,2\nu1,i3,3\nu1,i4,4\nu1,i5,5\n"
                               "u2,i1,10\nu2,i2,11\nu2,i1,30\nu2,i3,12\nu2,i6,13\nu2,i4,14.0\n"
                               "u3,i1,1\nu3,i2,2\nu3,i3,3\nu3,9,5\n\"u3\",\"10\",5\n"
                               ",i1,3\n"
                               "u4,9,1\nu4,i1,2\nu4,i2,3\nu4,10,4\n";

static char *temp_file(const char *text) {
  char *path = strdup("/tmp/mesura-eval-test-XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t n = strlen(text);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  close(fd);
  return path;
}

/* Runs `mesura CMD a1 ... a6` (the arguments up to the first NULL) with
 * stdout sent to /dev/null, to keep the test log readable. */
static int run(const char *cmd, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
               const char *a6) {
  char *argv[] = {"mesura", (char *)cmd, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6,
                  NULL};
  int argc = 2;
  while (argv[argc])
    argc++;
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  FILE *null = fopen("/dev/null", "w");
  assert_non_null(null);
  dup2(fileno(null), STDOUT_FILENO);
  int rc = mes_cli_main(argc, argv);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  fclose(null);
  return rc;
}

static void test_eval_exit_codes(void **state) {
  (void)state;
  char *good = temp_file(good_csv);
  char *bad = temp_file("subject,item,ts\nu,i,1\nu,i,oops\n");
  assert_int_equal(run("eval", NULL, NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(run("eval", "--input", NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(run("eval", "--input", good, "--bogus", NULL, NULL, NULL), 2);
  assert_int_equal(run("eval", "--input", good, "--model", "nope", NULL, NULL), 2);
  assert_int_equal(run("eval", "--input", bad, "--model", "popular", NULL, NULL), 1); /* a bad file, not a bad command line */
  assert_int_equal(run("eval", "--input", "/nonexistent/file.csv", NULL, NULL, NULL, NULL), 1);
  assert_int_equal(run("eval", "--input", good, "--model", "popular", "--json", NULL), 0);
  assert_int_equal(run("eval", "--input", good, "--model", "ease", NULL, NULL), 0);
  assert_int_equal(run("eval", "--help", NULL, NULL, NULL, NULL, NULL), 0);
  unlink(good);
  unlink(bad);
  free(good);
  free(bad);
}

static void test_convert_exit_codes(void **state) {
  (void)state;
  char *in = temp_file("1\t2\t5\t881250949\n3\t4\t2\t881250950\n");
  char out[64];
  snprintf(out, sizeof out, "%s.csv", in);
  assert_int_equal(run("eval-convert", NULL, NULL, NULL, NULL, NULL, NULL), 2);
  assert_int_equal(run("eval-convert", "--dataset", "ml-100k", "--input", in, NULL, NULL), 2);
  assert_int_equal(run("eval-convert", "--dataset", "netflix", "--input", in, "--output", out), 2);
  assert_int_equal(run("eval-convert", "--dataset", "ml-100k", "--input", "/nonexistent/u.data", "--output", out), 1);
  assert_int_equal(run("eval-convert", "--dataset", "amazon", "--input", in, "--output", out), 1); /* not JSON */
  assert_int_equal(access(out, F_OK), -1); /* a failed run leaves no file under the final name */
  assert_int_equal(run("eval-convert", "--dataset", "ml-100k", "--input", in, "--output", out), 0);
  FILE *f = fopen(out, "r");
  assert_non_null(f);
  char text[128] = {0};
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  assert_string_equal(text, "subject,item,ts\n1,2,881250949\n"); /* the rating of 2 is left out */
  unlink(out);
  unlink(in);
  free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eval_exit_codes),
      cmocka_unit_test(test_convert_exit_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
