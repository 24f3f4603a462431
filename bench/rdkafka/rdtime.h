/*
 * Stand-in for librdkafka's internal src/rdtime.h: the two clocks rdkafka_performance.c reads, in microseconds.
 * rd_clock() is monotonic (intervals, throughput); rd_uclock() is wall-clock time.
 */
#pragma once
#include <stdint.h>
#include <time.h>
#include <sys/time.h>

typedef int64_t rd_ts_t;

static __inline rd_ts_t rd_clock (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ((rd_ts_t)ts.tv_sec * 1000000LL) + ((rd_ts_t)ts.tv_nsec / 1000);
}

static __inline rd_ts_t rd_uclock (void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return ((rd_ts_t)tv.tv_sec * 1000000LL) + (rd_ts_t)tv.tv_usec;
}
