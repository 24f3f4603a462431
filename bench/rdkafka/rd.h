/*
 * Stand-in for librdkafka's internal src/rd.h, holding only what examples/rdkafka_performance.c uses.
 * Debian's librdkafka-dev ships the example but not librdkafka's internal headers; scripts/build-rdkafka-perf.sh
 * puts this file where the example's `#include "../src/rd.h"` and `#include "rd.h"` find it.
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>
#include <unistd.h>
#include <time.h>
#include <sys/time.h>

#define RD_UNUSED __attribute__((unused))
#define rd_snprintf snprintf
#define rd_strdup strdup
#define rd_sleep(s) sleep(s)
#define RD_ARRAYSIZE(A) (sizeof(A) / sizeof(*(A)))
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_assert(x) do { if (!(x)) abort(); } while (0)
