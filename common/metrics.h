/* Prometheus text exposition (format 0.0.4), for the agent's and the
 * broker's /metrics: families with HELP and TYPE, samples with escaped label
 * values. The numbers themselves live where they are counted (atomics in
 * each module instance); this only writes them out. */
#ifndef LOGSHIP_COMMON_METRICS_H
#define LOGSHIP_COMMON_METRICS_H
#include <stdint.h>

#include "common/sbuf.h"

/* "# HELP name help\n# TYPE name type\n"; type: counter, gauge. */
void metrics_family(struct sbuf *b, const char *name, const char *type, const char *help);
/* name{k1="v1",k2="v2"} value. labels: k, v pairs, NULL-terminated (may be
 * NULL). Integral values print without a fraction. */
void metrics_sample(struct sbuf *b, const char *name, const char *const *labels, double value);

/* A counter written by one thread and read by others (the status thread):
 * plain loads and stores, no locked read-modify-write on the hot path. */
#define METRIC_ADD(c, n) \
	atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), \
			      memory_order_relaxed)
#define METRIC_GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

#endif
