/* The `mesura` program: the command line over libmesura. */
#include "cli/cli.h"

int main(int argc, char **argv) { return mes_cli_main(argc, argv); }
