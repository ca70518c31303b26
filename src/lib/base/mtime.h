/*
 * base/mtime — wall-clock time in epoch milliseconds, and the two timestamp
 * forms of the contract (RFC 3339 strings, integer epoch milliseconds).
 */
#ifndef MES_BASE_MTIME_H
#define MES_BASE_MTIME_H

#include <stdint.h>
#include <stddef.h>

#include "base/err.h"

/* Current wall-clock time, epoch milliseconds. */
int64_t mes_now_ms(void);
/* Monotonic clock in nanoseconds, for latency measurements. */
uint64_t mes_mono_ns(void);

/* Parses an RFC 3339 date-time ("2026-11-20T21:04:05Z", fractional seconds and
 * "+01:00" offsets accepted) into epoch ms. MES_EBAD_TS on any mistake. */
int mes_time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into out (at least 32 bytes). */
void mes_time_format(int64_t ms, char out[32]);
/* Writes "YYYY-MM-DD" (UTC) into out (at least 11 bytes). */
void mes_time_format_date(int64_t ms, char out[11]);

#endif
