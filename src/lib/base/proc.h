/*
 * base/proc — what the kernel says about this process's memory, for
 * /metrics and the benchmarks (Linux: /proc/self/status).
 */
#ifndef MES_BASE_PROC_H
#define MES_BASE_PROC_H

#include <stddef.h>

/* Resident bytes now (VmRSS) and the highest since start (VmHWM).
 * MES_EUNAVAILABLE when /proc cannot be read; both are 0 then. */
int mes_proc_memory(size_t *rss, size_t *peak);

#endif
