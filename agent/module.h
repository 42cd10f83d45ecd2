/* The module contract: what an input or output module exposes to the agent,
 * and what the agent offers it back. One module is one file (or folder) that
 * defines one `const struct input_module` or `const struct output_module`;
 * agent/registry.c lists them. Adding a module touches that table and the
 * module's own files only.
 *
 * Config. A module declares its keys once (struct cfg_key, common/config.h)
 * and the size of the struct they bind into. The agent binds every instance's
 * map with cfg_bind, so validation, defaults, `logship --check` and
 * docs/configuration.md all come from that declaration. Keys every instance
 * has (type, name, tag / match, retry_*) are the agent's, not the module's.
 * `check` (optional) validates across keys, with errors at positions.
 *
 * Inputs run on the agent's one event loop (main thread) and must never
 * block. They are driven by three things the agent dispatches to them:
 *   - fd readiness  (input_watch_fd    -> on_fd):    tail, syslog, journald, stdin
 *   - one timer     (input_timer_set   -> on_timer): polling, rates, retries
 *   - "run again"   (input_schedule    -> run):      work left after a budget
 * An input hands events over with input_emit() and tells its source position
 * with input_set_position() after the events it covers. The agent checkpoints
 * that position (data_dir/checkpoints/<name>.pos) only once every event emitted
 * before it is durable in the ring (invariant 1); at start the module reads it
 * back with input_checkpoint().
 *
 * Backpressure. input_emit() returns -EAGAIN when the ring is full: the event
 * was NOT taken. An input that can wait keeps it (and does not move its
 * position past it) and returns from its handler; the agent stops calling its
 * handlers (fds, timer, run) until space is back, then calls `run` (if set)
 * and re-enables everything. An input flagged INPUT_CANNOT_WAIT (UDP) keeps
 * being called; its refused events are counted as dropped by the agent.
 *
 * Outputs each run in their own thread, because their clients block (libcurl,
 * librdkafka, write(2) to a slow disk). The agent reads the ring from the
 * output's durable cursor, decodes the records the output's `match` selects
 * and calls `send` with a run of them. Every record gets one verdict:
 *   OUT_OK      the destination acknowledged it
 *   OUT_RETRY   failed for now: the agent sends it again after a backoff
 *   OUT_REJECT  refused for good: counted, and written with its reason
 *               (output_reject) to the dead-letter log, never retried
 *               forever (invariant 4)
 * A synchronous output (no `poll`) blocks in `send` until every record has
 * its verdict, which it writes into recs[i].status (acknowledgements may
 * arrive in any order inside one call). A record left OUT_PENDING takes the
 * call's return value: 0 = OK, < 0 = RETRY. So a simple output writes
 * everything and returns 0 or -errno. The agent sends one run at a time.
 * An asynchronous output (one with `poll`: kafka) returns from `send` with
 * records still in flight, and gives each record its verdict later, exactly
 * once, with output_verdict() or output_reject(), from inside `send` or
 * `poll` (the output's thread). The records and the bytes they point to stay
 * valid and untouched until then. The agent keeps several runs in flight
 * (`in_flight_bytes` of ring data, at most OUTPUT_MAX_RUNS runs) and calls
 * `poll` when it cannot send more; before the output ends it polls until
 * every record has its verdict (calling `abort` first when stopping), so a
 * module never holds a record past its output's end.
 * Either way the agent commits the cursor only past the longest prefix of
 * runs, in ring order, whose records are all OK or REJECT (invariant 2),
 * with the rejects written to the dead-letter log first, and before each
 * commit calls `sync` (if set) so that what `send` wrote is as durable as
 * the destination allows. Records that came back OUT_RETRY are sent again
 * once nothing is in flight and the backoff has passed, oldest run first,
 * before any new run (so a failure does not reorder more than it must).
 * Commits happen at most every commit interval, when the output catches up,
 * and at stop. `abort` (optional) is called from another thread at shutdown
 * to make a blocking send or poll return soon; what it did not finish is
 * RETRY.
 */
#ifndef LOGSHIP_AGENT_MODULE_H
#define LOGSHIP_AGENT_MODULE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct input;      /* the agent's handle on one input instance */
struct output;     /* the agent's handle on one output instance */
struct filter;     /* the agent's handle on one filter instance */

/* --- inputs ----------------------------------------------------------------- */

#define INPUT_CANNOT_WAIT 1u   /* cannot be paused (UDP): refused events are dropped */

struct input_module {
	const char *type;                  /* "generate": the `type:` in the config */
	const char *doc;                   /* one paragraph for docs/configuration.md */
	const struct cfg_key *keys;        /* the module's own keys (NULL-terminated) */
	size_t conf_size;                  /* struct the keys bind into */
	unsigned flags;                    /* INPUT_* */
	/* Cross-key checks after binding; error at a position (cfg_fail). */
	int (*check)(const void *conf, const struct cfg_node *map, struct cfg_error *err);
	/* Creates the instance (conf stays valid until destroy). No I/O that
	 * waits. 0 or -errno (then the agent logs and refuses to start it). */
	int (*init)(struct input *in, const void *conf, void **state);
	/* Starts producing: registers fds, timers, or schedules itself. */
	int (*start)(void *state);
	void (*on_fd)(void *state, int fd, unsigned events);   /* EPOLL* bits */
	void (*on_timer)(void *state);
	void (*run)(void *state);
	/* Stops producing (unwatch fds etc.); no input_emit after this. */
	void (*stop)(void *state);
	void (*destroy)(void *state);
};

/* The instance's name (unique among inputs) and config. */
const char *input_name(const struct input *in);
/* Hands one event to the pipeline: ts_ms is the event time (the record's
 * timestamp), json one ECS JSON object. The record key is the input's name.
 * 0 = taken, -EAGAIN = ring full, not taken (see above), -E2BIG = larger than
 * a batch may be (dropped, counted). */
int input_emit(struct input *in, int64_t ts_ms, const char *json, size_t len);
/* input_emit of the usual line event, the text head + the JSON string of
 * msg[0..mlen) (json_put_string) + tail: head is the text up to and with
 * the key "message" and its colon, tail what follows the value, the closing
 * brace included. With a chain on the filter thread the line travels raw,
 * and a chain that starts with `parse` json of the message never escapes it
 * (event_begin_line); else the text is written here. Out of memory, the
 * line is lost (0). */
int input_emit_line(struct input *in, int64_t ts_ms, const char *head, size_t hlen, const char *msg, size_t mlen,
		    const char *tail, size_t tlen);
/* 1 when input_emit_line would hand a line over raw now (in's chain runs
 * on the filter thread and takes events): an input that writes its own
 * text faster than input_emit_line would can ask first. */
int input_takes_lines(const struct input *in);
/* The same, for an event the caller keeps and offers again when refused (a
 * TCP message in a module that also has UDP sources, hence INPUT_CANNOT_WAIT):
 * a refusal is counted as waiting, never as a drop. */
int input_offer(struct input *in, int64_t ts_ms, const char *json, size_t len);
/* The source position after the events emitted so far (opaque bytes, at most
 * INPUT_POSITION_MAX). Checkpointed once they are durable. */
#define INPUT_POSITION_MAX 65536   /* the tail input: ~4000 files' identities and offsets */
void input_set_position(struct input *in, const void *pos, size_t len);
/* The last checkpointed position: its length (copied into buf, up to cap),
 * 0 if there is none, < 0 on a read error (reported). */
int input_checkpoint(struct input *in, void *buf, size_t cap);
/* Event-loop registration; events are EPOLLIN/EPOLLOUT. 0 or -errno
 * (-EPERM: fd cannot be polled, e.g. a regular file: use input_schedule). */
int input_watch_fd(struct input *in, int fd, unsigned events);
void input_unwatch_fd(struct input *in, int fd);
/* Arms the input's one timer delay_ms from now (re-arming replaces it);
 * delay_ms < 0 disarms it. */
void input_timer_set(struct input *in, int64_t delay_ms);
/* Calls `run` again on the next loop iteration (after fds are served). */
void input_schedule(struct input *in);
/* The input has nothing more to give (stdin at EOF). With exit set, the
 * agent shuts down as on SIGTERM once every input is done. */
void input_done(struct input *in, int exit_agent);

/* --- outputs ---------------------------------------------------------------- */

enum out_status { OUT_PENDING = 0, OUT_OK, OUT_RETRY, OUT_REJECT };

struct out_record {
	int64_t offset;                /* in the ring */
	int64_t timestamp;             /* event time, ms */
	const char *key; int32_t key_len;      /* source (input name) */
	const char *value; int32_t value_len;  /* the ECS JSON event */
	enum out_status status;        /* set by send */
	char *reason;                  /* set by output_reject(); the agent frees it */
};

struct output_module {
	const char *type;
	const char *doc;
	const struct cfg_key *keys;
	size_t conf_size;
	int (*check)(const void *conf, const struct cfg_node *map, struct cfg_error *err);
	/* Creates the instance; may not connect yet (send does, and retries). */
	int (*init)(struct output *out, const void *conf, void **state);
	/* In the output's thread. See the top of this file. An asynchronous
	 * module returns 0 once it has taken the run (every record then gets
	 * its verdict, now or in a later poll), or < 0 having taken none of
	 * those it left OUT_PENDING (the agent retries them). */
	int (*send)(void *state, struct out_record *recs, size_t n);
	/* Optional; set = asynchronous. Gives the verdicts that have come in,
	 * waiting up to timeout_ms for one when none has (0: do not wait).
	 * The agent calls it when it has nothing more to send, so a module
	 * that holds records back to fill batches sends them now. Returns how
	 * many verdicts it gave, or -errno (logged by the module). */
	int (*poll)(void *state, int timeout_ms);
	int (*sync)(void *state);                 /* optional */
	void (*abort)(void *state);               /* optional, from another thread */
	void (*destroy)(void *state);
};

/* Runs an asynchronous output may have in flight, besides its bytes bound. */
#define OUTPUT_MAX_RUNS 64

const char *output_name(const struct output *out);
/* An asynchronous output's verdict on r (OUT_OK or OUT_RETRY; OUT_REJECT
 * goes through output_reject, which is a verdict too). Exactly once per
 * record sent, from the output's thread inside send or poll. In a
 * synchronous output it is the same as setting r->status. */
void output_verdict(struct output *out, struct out_record *r, enum out_status st);
/* Refuses r for good with a reason (printf-style): the agent writes it to the
 * dead-letter log data_dir/deadletter/<output>.ndjson (agent/deadletter.h)
 * before the cursor moves past it. Prefer this to setting OUT_REJECT alone.
 * In an asynchronous output it is the record's verdict (see output_verdict). */
void output_reject(struct output *out, struct out_record *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records the last error (for /status) and logs it at WARN. */
void output_error(struct output *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --- filters ------------------------------------------------------------------ */

/* Filters sit between the inputs and the ring (docs/filters.md): each config
 * item of `filters:` is one instance, applied in config order to the events
 * of the inputs its `match:` selects (input names or tags, wildcards;
 * default: every input). An input no filter matches pays nothing. `apply`
 * runs on the agent's event loop (main thread), one event at a time, and
 * may change the event through agent/event.h.
 *
 * An event a filter drops (FILTER_DROP) is taken as far as the input is
 * concerned: input_emit returns 0 and positions after it may be
 * checkpointed. A filter that cannot decide yet (waiting for an API answer)
 * returns -EAGAIN: the input keeps the event and waits exactly as when the
 * ring is full; the filter calls filter_ready() once it can go on, and the
 * agent resumes the inputs that wait on it. When they offer the same event
 * again, the chain resumes at the filter that waited (the filters before it
 * do not see it twice). Any other negative value is an error: counted on the
 * filter, and the event goes on unchanged by it. */

struct filter;     /* the agent's handle on one filter instance */
struct event;      /* one event being processed (agent/event.h) */

#define FILTER_KEEP 0   /* the event (maybe changed) goes on */
#define FILTER_DROP 1   /* dropped here, counted by the agent per filter */

/* filter_module.flags */
enum {
	/* apply may return -EAGAIN: the set's chains then run on the loop
	 * thread, where the waiting input is at hand (else on the filter
	 * thread, agent/filter_internal.h) */
	FILTER_MAY_WAIT = 1 << 0,
};

struct filter_module {
	const char *type;
	const char *doc;
	unsigned flags;                   /* FILTER_* */
	const struct cfg_key *keys;
	size_t conf_size;
	int (*check)(const void *conf, const struct cfg_node *map, struct cfg_error *err);
	/* Creates the instance (conf stays valid until destroy). 0 or -errno. */
	int (*init)(struct filter *f, const void *conf, void **state);
	/* On the loop thread, or on the filter thread (one thread at a time
	 * either way); must never block. FILTER_KEEP, FILTER_DROP, or -EAGAIN (only
	 * with FILTER_MAY_WAIT): cannot decide
	 * yet -> the input keeps the event and waits exactly as when the ring is full
	 * (input_emit returns -EAGAIN; INPUT_CANNOT_WAIT inputs count a drop); the filter
	 * calls filter_ready(f) (thread-safe, from any thread) when it can go on, and the
	 * agent resumes the waiting inputs, which offer the event again. */
	int (*apply)(void *state, struct event *ev);
	void (*destroy)(void *state);
};

/* The instance's name (unique among filters). */
const char *filter_name(const struct filter *f);
/* Thread-safe: the filter that returned -EAGAIN can go on. */
void filter_ready(struct filter *f);
/* A named counter of this instance, shown on /metrics as
 * logship_filter_<name>_total{filter="..."} and in /status. Call it from
 * init (at most FILTER_COUNTERS_MAX names per instance; the same name gives
 * the same counter); NULL when the table is full. Increment with
 * atomic_fetch_add_explicit(c, 1, memory_order_relaxed) from any thread. */
#define FILTER_COUNTERS_MAX 16
_Atomic uint64_t *filter_counter(struct filter *f, const char *name);

/* --- the registry (agent/registry.c) ----------------------------------------- */

extern const struct input_module *const registry_inputs[];    /* NULL-terminated */
extern const struct output_module *const registry_outputs[];
const struct input_module *registry_input(const char *type);
const struct output_module *registry_output(const char *type);
extern const struct filter_module *const registry_filters[];
const struct filter_module *registry_filter(const char *type);

#endif
