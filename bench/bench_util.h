/*
 * bench_util — what every bench/bench_*.c needs, in one place: a seeded
 * generator (xorshift64*: fast, and the same sequence on every run, so that
 * runs and stores built by different benches compare), a monotonic clock,
 * the process's peak RSS, and removing a flat temporary directory.
 * Header-only: each bench is one translation unit.
 */
#ifndef MES_BENCH_UTIL_H
#define MES_BENCH_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/proc.h"

static uint64_t bench_rng = 0x2545F4914F6CDD1Dull;

static inline void bench_seed(uint64_t seed) { bench_rng = seed ? seed : 1; }

static inline uint64_t bench_rnd(void) {
  bench_rng ^= bench_rng >> 12;
  bench_rng ^= bench_rng << 25;
  bench_rng ^= bench_rng >> 27;
  return bench_rng * 2685821657736338717ull;
}

/* Uniform in [0, 1). */
static inline double bench_unif(void) { return (double)(bench_rnd() >> 11) / 9007199254740992.0; }

static inline double bench_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Highest resident set since start, KiB (-1 when /proc is unreadable). */
static inline long bench_peak_rss_kb(void) {
  size_t rss = 0, peak = 0;
  return mes_proc_memory(&rss, &peak) == 0 ? (long)(peak / 1024) : -1;
}

/* Removes dir and the files directly in it. */
static inline void bench_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  char path[512];
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

#endif
