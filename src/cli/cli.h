/*
 * cli — the `mesura` command line (contract §1), a thin layer over the engine
 * and the HTTP server. Exit codes: 0 success, 2 usage error, 1 other error,
 * always with one line on stderr.
 */
#ifndef MES_CLI_H
#define MES_CLI_H

enum { MES_EXIT_OK = 0, MES_EXIT_FAIL = 1, MES_EXIT_USAGE = 2 };

/* Runs the command line; returns the process exit code. */
int mes_cli_main(int argc, char **argv);

#endif
