/*
 * base/alloc — the allocation-failure counter (see alloc.h). Plain
 * thread-local integers: the hooked allocators call mes_alloc_refuse() on
 * every allocation, so it must not allocate, lock or log.
 */
#include "base/alloc.h"

static _Thread_local bool armed;
static _Thread_local enum mes_alloc_mode mode_now;
static _Thread_local uint64_t fail_nth; /* 0: count only */
static _Thread_local uint64_t counted;
static _Thread_local uint64_t refused;

void mes_alloc_fail_at(uint64_t nth, enum mes_alloc_mode mode) {
  fail_nth = nth;
  mode_now = mode;
  counted = 0;
  refused = 0;
  armed = true;
}

void mes_alloc_disarm(void) { armed = false; }

uint64_t mes_alloc_count(void) { return counted; }

uint64_t mes_alloc_refused(void) { return refused; }

bool mes_alloc_refuse(void) {
  if (!armed)
    return false;
  counted++;
  if (fail_nth == 0)
    return false;
  bool fail = mode_now == MES_ALLOC_FAIL_FROM ? counted >= fail_nth : counted == fail_nth;
  if (fail)
    refused++;
  return fail;
}
