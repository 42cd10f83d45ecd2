/* The agent's side of filters (module.h): instances made from `filters:`,
 * one chain per input of the filters that match it, in config order, run by
 * input_emit/input_offer before the batcher. pipeline.c calls filters_apply
 * after every change of the instance lists (start, SIGHUP) and filters_free
 * at the end; status.c writes the metrics. All on the loop thread except the
 * metric writers (status thread, under p->mu), filter_ready (any) and the
 * chains themselves when they run on the filter thread (filter_thread.c). */
#ifndef LOGSHIP_AGENT_FILTER_H
#define LOGSHIP_AGENT_FILTER_H
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

struct pipeline;
struct input;
struct cfg_ref;

/* Makes the filter instances of cref's config (unchanged ones, same name and
 * fingerprint, keep running; changed ones restart; removed ones go) and
 * gives every input of p its chain. 0, or the first error of an instance
 * that could not be created (strict: the caller fails; else logged, and
 * the chains skip it). */
int filters_apply(struct pipeline *p, struct cfg_ref *cref, int strict);
void filters_free(struct pipeline *p);

/* input_emit / input_offer of an input with a chain (in->chain != NULL),
 * or with events still at the filter thread. */
int filter_chain_emit(struct input *in, int64_t ts_ms, const char *json, size_t len, int kept);
/* input_emit_line's way to the filter thread: as filter_chain_emit, when
 * in's chain runs there and takes events now; 1 when not (the caller
 * writes the text and emits it). */
int filter_chain_emit_line(struct input *in, int64_t ts_ms, const char *head, size_t hlen, const char *msg,
			   size_t mlen, const char *tail, size_t tlen);

/* The filter thread (agent/filter_internal.h), for pipeline.c; each does
 * nothing without one. publish: hand over the events the loop round
 * queued (before the loop waits). sync: wait until the thread has nothing
 * left and emit its results (before a reload or shutdown changes
 * anything). ring_ready: the ring takes events again: emit the results it
 * refused. forget_input: the input goes away: its results are dropped. */
void filters_publish(struct pipeline *p);
void filters_sync(struct pipeline *p);
void filters_ring_ready(struct pipeline *p);
void filters_forget_input(struct pipeline *p, struct input *in);

/* Per filter instance: events in, dropped, waits, errors, and the module's
 * own counters (Prometheus text; /status JSON member "filters": [...]).
 * Caller holds p->mu. */
void filters_write_metrics(struct pipeline *p, struct sbuf *b);
void filters_write_status(struct pipeline *p, struct sbuf *b);

/* One instance on its own, outside any pipeline (unit tests, benchmarks):
 * made from a loaded config's item, applied to events by hand. filter_ready
 * only raises its flag there. filter_instance_stat reads "events",
 * "dropped", "waits", "errors" or a module counter's name (0 if none). */
struct filter;
struct event;
struct agent_filter_conf;
int filter_instance_new(const struct agent_filter_conf *fc, struct filter **out);
int filter_instance_apply(struct filter *f, struct event *ev);
uint64_t filter_instance_stat(struct filter *f, const char *name);
void filter_instance_free(struct filter *f);

#endif
