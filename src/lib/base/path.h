/*
 * base/path — file paths made of a directory and a name. One joiner, so that
 * every path is checked to fit its buffer: a path cut short by snprintf names
 * another file, and the caller would open, write or remove that one instead.
 */
#ifndef MES_BASE_PATH_H
#define MES_BASE_PATH_H

#include <stddef.h>

/*
 * Writes "dir/name" into out (cap bytes, the NUL included). dir and name are
 * borrowed NUL-terminated strings, joined as given (no slash is added or
 * removed beyond the one between them). Returns MES_OK, or MES_EOUT_OF_RANGE
 * when the path does not fit: out then holds "" (when cap > 0), never a
 * shortened path.
 */
int mes_path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
