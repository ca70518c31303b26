/*
 * base/proc — memory figures from /proc/self/status.
 */
#include "base/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* The value of a "Name:   123 kB" line, in bytes; 0 when line is not it. */
static size_t kb_field(const char *line, const char *name) {
  size_t n = strlen(name);
  if (strncmp(line, name, n) != 0 || line[n] != ':')
    return 0;
  char *end = NULL;
  unsigned long long kb = strtoull(line + n + 1, &end, 10);
  return end == line + n + 1 ? 0 : (size_t)kb * 1024;
}

int mes_proc_memory(size_t *rss, size_t *peak) {
  *rss = *peak = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return MES_EUNAVAILABLE;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    size_t v;
    if ((v = kb_field(line, "VmRSS")))
      *rss = v;
    else if ((v = kb_field(line, "VmHWM")))
      *peak = v;
  }
  fclose(f);
  return *rss ? MES_OK : MES_EUNAVAILABLE;
}
