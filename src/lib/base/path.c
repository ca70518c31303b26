/* base/path — joining a directory and a name, refusing what does not fit. */
#include "base/path.h"

#include <stdio.h>

#include "base/err.h"

int mes_path_join(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap) {
    if (cap > 0)
      out[0] = '\0';
    return MES_EOUT_OF_RANGE;
  }
  return MES_OK;
}
