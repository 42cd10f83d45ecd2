/* Structures shared by the pipeline's files: pipeline.c (loop, batcher,
 * lifecycle, reload), input.c (the input API of module.h), output.c (output
 * threads), checkpoint.c (input positions on disk), status.c (reads). */
#ifndef LOGSHIP_AGENT_PIPELINE_INTERNAL_H
#define LOGSHIP_AGENT_PIPELINE_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/loop.h"
#include "agent/deadletter.h"
#include "agent/module.h"
#include "agent/pipeline.h"
#include "buffer/batch.h"
#include "buffer/log.h"

/* A loaded config, kept alive while any module instance made from it runs
 * (modules may keep pointers into their bound conf). */
struct cfg_ref {
	struct agent_config *cfg;
	int refs;
};

struct input_fd { int fd; unsigned events; };

struct input {
	struct pipeline *p;
	struct cfg_ref *cref;
	const struct agent_input_conf *conf;
	const struct input_module *mod;
	void *state;
	const char *name, *tag;        /* point into conf */
	size_t name_len;
	int started, stopped, done;
	int paused;                    /* ring full: handlers are not called */
	int scheduled;                 /* run() wanted */
	int timer_due;                 /* the timer fired while paused */
	struct loop_timer timer;
	struct input_fd *fds;
	size_t nfds, capfds;
	/* position after the events emitted so far; in_batch: the current batch
	 * holds events it covers (it is checkpointed after that batch) */
	uint8_t *pos;
	size_t pos_len, pos_cap;
	int pos_in_batch;
	/* checkpointed (durable) position, handed to the writer thread when
	 * dirty; the one the writer last put on disk (what /status shows:
	 * what a restart would resume from), and when */
	uint8_t *ckpt;
	size_t ckpt_len;
	int ckpt_dirty;
	uint8_t *ckpt_disk;
	size_t ckpt_disk_len;
	int64_t ckpt_written_ms;       /* wall clock */
	/* Wall ms of the oldest position not yet checkpointed, 0 = none. Atomic:
	 * the main loop writes it, the status thread reads it for /metrics. */
	_Atomic int64_t unckpt_since_ms;
	_Atomic uint64_t events_in, bytes_in, dropped, refused;
	struct filter_chain *chain;    /* the filters it goes through; NULL: none (agent/filter.c) */
	/* agent/filter_thread.c (loop thread only): events handed to the filter
	 * thread and come back to the batcher (sequence numbers); a position
	 * set while some were away, applied when fq_pos_seq has come back; and
	 * whether the input waits for room in the queue */
	uint64_t fq_pushed, fq_done, fq_pos_seq;
	uint8_t *fq_pos;
	size_t fq_pos_len, fq_pos_cap;
	int fq_pos_set, fq_wait;
	struct sbuf line;              /* input_emit_line's text, reused */
};

struct output {
	struct pipeline *p;
	struct cfg_ref *cref;
	const struct agent_output_conf *conf;
	const struct output_module *mod;
	void *state;
	const char *name;
	struct log_cursor *cursor;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	_Atomic int stop, drain, exited;
	char last_error[256];          /* under mu */
	int error_in_send;             /* output thread only: send reported its own error */
	int64_t last_error_ms;
	_Atomic uint64_t events_out, events_retried, events_rejected, events_skipped, bytes_out, sends,
		send_failures, commits;
	_Atomic int64_t acked_offset, committed_offset;
	struct deadletter dl;          /* output thread only */
	/* Output thread only (agent/output.c): the runs read from the ring and
	 * not yet retired, oldest first, in a circle of max_runs slots (1 for
	 * a synchronous module). */
	struct out_run *runs;
	size_t run_head, nruns, max_runs;
	struct out_mem *spare;         /* buffers of retired runs, for the next ones */
	size_t nspare;
	size_t in_flight_bytes;        /* ring bytes of those runs */
	size_t pending;                /* records handed to send, no verdict yet */
	size_t retry_runs;             /* runs whose retries wait for retry_at */
	int64_t retry_at;              /* monotonic ms; 0: no retry scheduled */
	int64_t read_off;              /* the next ring offset to read */
	int64_t acked;                 /* end of the retired prefix: the cursor may go here */
	int bad_verdicts;              /* verdicts for records not in flight (a module bug) */
};

/* Checkpoint queue entry: pos becomes the input's checkpoint once the ring's
 * durable offset reaches end. */
struct ckpt_entry {
	int64_t end;
	struct input *in;
	uint8_t *pos;
	size_t len;
};

struct pipeline {
	struct cfg_ref *cref;          /* the config in force */
	const char *main_file, *conf_dir;
	struct loop *loop;
	int sigfd, evfd;
	_Atomic unsigned ring_events;  /* LOG_EV_* bits since the loop last looked */
	struct log *ring;
	char *ring_dir;
	int ckpt_dirfd;
	struct ckpt_writer *ckw;       /* writes checkpoints into ckpt_dirfd */
	/* the batcher */
	struct batch_builder batch;
	int batch_finished;            /* batch.out holds a batch the ring refused */
	uint32_t batch_records;
	struct loop_timer batch_timer, retry_timer;
	int blocked;                   /* the ring refused the last append */
	int append_error;              /* last append's -errno (0: fine) */
	int64_t blocked_since_ms;
	int64_t retry_delay_ms;
	int64_t appended_end;          /* end offset after our last append */
	struct ckpt_entry *ckq;
	size_t ckq_head, ckq_len, ckq_cap;
	/* instances; lists change under mu (the status thread reads them) */
	pthread_mutex_t mu;
	struct input **inputs;
	size_t ninputs;
	struct output **outputs;
	size_t noutputs;
	_Atomic uint64_t inputs_gen;   /* bumped when names/tags change (output match caches) */
	int nscheduled;
	int quit;                      /* shutdown requested */
	int exit_when_done;
	int ready;
	int64_t started_ms;
	_Atomic uint64_t reloads, reload_failures, batches, checkpoint_writes;
	struct status_server *status;
	char *status_listen;
	struct filter_set *filters;    /* agent/filter.c; NULL until a config has filters */
};

/* input.c */
int input_create(struct pipeline *p, struct cfg_ref *cref, const struct agent_input_conf *ic,
		 struct input **out);
int input_start_instance(struct input *in);
void input_stop_instance(struct input *in);
void input_destroy_instance(struct input *in);
void input_pause(struct input *in);
void input_resume(struct input *in);
void input_run_scheduled(struct input *in);
/* input_set_position's work, now: the events before pos are in the batcher. */
void input_apply_position(struct input *in, const void *pos, size_t len);

/* output.c */
int output_create(struct pipeline *p, struct cfg_ref *cref, const struct agent_output_conf *oc,
		  struct output **out);
int output_start_thread(struct output *o);
/* drain: ship what the ring holds first; the caller then waits, with
 * output_wait_exit, and finally stops it for good with output_stop. */
void output_request_drain(struct output *o);
int output_wait_exit(struct output *o, int64_t deadline_ms);
void output_stop(struct output *o);
void output_destroy(struct output *o);

/* pipeline.c, for input.c */
/* kept: the input keeps a refused event (input_offer): never a drop. */
int pipeline_emit(struct pipeline *p, struct input *in, int64_t ts, const char *json, size_t len, int kept);
/* The same for an event accepted before its input stopped (a filter thread
 * result): a stopped input does not refuse it. */
int pipeline_emit_accepted(struct pipeline *p, struct input *in, int64_t ts, const char *json, size_t len,
			   int kept);
void pipeline_position(struct pipeline *p, struct input *in);
void pipeline_input_done(struct pipeline *p, struct input *in, int exit_agent);
/* Tag of input `name` (NULL: none) and whether it exists; under p->mu. */
int pipeline_input_tag_locked(struct pipeline *p, const char *name, size_t len, const char **tag);

/* checkpoint.c */
int checkpoint_dir_open(const char *data_dir, int *dirfd);
int checkpoint_read(int dirfd, const char *name, void *buf, size_t cap);
int checkpoint_write(int dirfd, const char *name, const void *pos, size_t len);
/* The checkpoint writer thread (writes off the event loop; see checkpoint.c).
 * submit copies pos; a newer position of the same name replaces a pending
 * one. Each completion is told to notify_fd (an eventfd, or -1); collect
 * hands the completions (done_ms 0: failed) to fn. drain waits until
 * everything submitted is written; stop drains and frees. */
struct ckpt_writer;
int ckpt_writer_start(int dirfd, int notify_fd, struct ckpt_writer **out);
int ckpt_writer_submit(struct ckpt_writer *w, const char *name, const void *pos, size_t len);
void ckpt_writer_drain(struct ckpt_writer *w);
/* Hands each finished write (its position; done_ms 0 = it failed) to fn,
 * which may keep the position's buffer (malloc'd, never NULL): it takes
 * *pos and sets it to NULL; else the buffer is freed after fn. */
void ckpt_writer_collect(struct ckpt_writer *w,
			 void (*fn)(void *arg, const char *name, uint8_t **pos, size_t len, int64_t done_ms),
			 void *arg);
void ckpt_writer_stop(struct ckpt_writer *w);

/* status.c */
struct status_server;
struct tls_server_conf;
/* tls NULL: plain HTTP. */
int status_start(struct pipeline *p, const char *listen, const struct tls_server_conf *tls,
		 struct status_server **out);
void status_stop(struct status_server *s);

void cfg_ref_put(struct cfg_ref *r);
int64_t wall_ms(void);

#endif
