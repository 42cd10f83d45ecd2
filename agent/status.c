/* The status endpoint (common/httpd.c, its own thread, idle without
 * connections): /health (the process answers), /ready (config loaded and the
 * ring takes writes), /metrics (Prometheus text), /status (JSON: every input's
 * position and checkpoint, every output's cursor, lag and last error).
 * Off unless http.listen is set; the shipped config sets 127.0.0.1:2020. */
#include "agent/pipeline_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"
#include "agent/filter.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/metrics.h"

#ifndef LOGSHIP_VERSION
#define LOGSHIP_VERSION "0.1.0"
#endif

int pipeline_ready(struct pipeline *p, char *why, size_t whylen)
{
	if (!p->ready) {
		snprintf(why, whylen, "config not loaded");
		return 0;
	}
	if (p->blocked) {
		snprintf(why, whylen, "the ring does not take writes: %s",
			 p->append_error == -ENOSPC ? "full (buffer.max_bytes reached, or no space left on the disk)"
								   : strerror(-p->append_error));
		return 0;
	}
	snprintf(why, whylen, "ready");
	return 1;
}

static int64_t lag_bytes(const struct log_stats *st, int64_t at)
{
	int64_t span = st->end_offset - st->start_offset, lag = st->end_offset - at;
	if (span <= 0 || lag <= 0)
		return 0;
	if (lag > span)
		lag = span;
	return (int64_t)((double)st->size_bytes * (double)lag / (double)span);
}

void pipeline_write_metrics(struct pipeline *p, struct sbuf *b)
{
	pthread_mutex_lock(&p->mu);
	struct log_stats st;
	log_get_stats(p->ring, &st);
	const struct agent_config *c = p->cref->cfg;
	int64_t now = wall_ms();
	char why[128];

	metrics_family(b, "logship_ready", "gauge", "1 when the config is loaded and the ring takes writes");
	metrics_sample(b, "logship_ready", NULL, pipeline_ready(p, why, sizeof(why)));
	metrics_family(b, "logship_uptime_seconds", "gauge", "Seconds since the agent started");
	metrics_sample(b, "logship_uptime_seconds", NULL, (double)(now - p->started_ms) / 1000.0);
	metrics_family(b, "logship_reloads_total", "counter", "SIGHUP reloads tried");
	metrics_sample(b, "logship_reloads_total", NULL, (double)METRIC_GET(p->reloads));
	metrics_family(b, "logship_reload_failures_total", "counter", "Reloads refused for a bad config");
	metrics_sample(b, "logship_reload_failures_total", NULL, (double)METRIC_GET(p->reload_failures));

	metrics_family(b, "logship_ring_bytes", "gauge", "Bytes the ring holds on disk");
	metrics_sample(b, "logship_ring_bytes", NULL, (double)st.size_bytes);
	metrics_family(b, "logship_ring_max_bytes", "gauge", "The ring's capacity (buffer.max_bytes)");
	metrics_sample(b, "logship_ring_max_bytes", NULL, (double)c->max_bytes);
	metrics_family(b, "logship_ring_segments", "gauge", "Segments in the ring");
	metrics_sample(b, "logship_ring_segments", NULL, st.segments);
	metrics_family(b, "logship_ring_start_offset", "gauge", "Oldest offset the ring holds");
	metrics_sample(b, "logship_ring_start_offset", NULL, (double)st.start_offset);
	metrics_family(b, "logship_ring_end_offset", "gauge", "Next offset to be written");
	metrics_sample(b, "logship_ring_end_offset", NULL, (double)st.end_offset);
	metrics_family(b, "logship_ring_durable_offset", "gauge", "Offsets below this are durable");
	metrics_sample(b, "logship_ring_durable_offset", NULL, (double)st.durable_offset);
	metrics_family(b, "logship_ring_batches_total", "counter", "Batches the agent appended to the ring");
	metrics_sample(b, "logship_ring_batches_total", NULL, (double)METRIC_GET(p->batches));
	metrics_family(b, "logship_ring_syncs_total", "counter", "fdatasync calls on the ring");
	metrics_sample(b, "logship_ring_syncs_total", NULL, (double)st.syncs);
	metrics_family(b, "logship_ring_full_total", "counter", "Appends refused because the ring was full (when_full: block)");
	metrics_sample(b, "logship_ring_full_total", NULL, (double)st.full_refusals);
	metrics_family(b, "logship_ring_dropped_events_total", "counter", "Events deleted unshipped to make room (when_full: drop_oldest)");
	metrics_sample(b, "logship_ring_dropped_events_total", NULL, (double)st.dropped_records);
	metrics_family(b, "logship_ring_corrupt_batches_total", "counter", "Batches skipped by readers for a bad CRC");
	metrics_sample(b, "logship_ring_corrupt_batches_total", NULL, (double)st.corrupt_skipped);
	metrics_family(b, "logship_checkpoint_writes_total", "counter", "Input checkpoints written");
	metrics_sample(b, "logship_checkpoint_writes_total", NULL, (double)METRIC_GET(p->checkpoint_writes));

	static const struct { const char *name, *help; size_t off; } in_ctrs[] = {
		{ "logship_input_events_total", "Events the input handed to the pipeline", offsetof(struct input, events_in) },
		{ "logship_input_bytes_total", "Bytes of those events", offsetof(struct input, bytes_in) },
		{ "logship_input_dropped_total", "Events dropped (ring full for an input that cannot wait; oversized)", offsetof(struct input, dropped) },
		{ "logship_input_backpressure_total", "Events refused while the ring was full, kept and offered again by the input", offsetof(struct input, refused) },
	};
	for (size_t k = 0; k < sizeof(in_ctrs) / sizeof(in_ctrs[0]); k++) {
		metrics_family(b, in_ctrs[k].name, "counter", in_ctrs[k].help);
		for (size_t i = 0; i < p->ninputs; i++) {
			struct input *in = p->inputs[i];
			const char *l[] = { "input", in->name, "type", in->mod->type, NULL };
			_Atomic uint64_t *v = (_Atomic uint64_t *)((char *)in + in_ctrs[k].off);
			metrics_sample(b, in_ctrs[k].name, l, (double)METRIC_GET(*v));
		}
	}
	metrics_family(b, "logship_input_paused", "gauge", "1 while the input is paused by backpressure");
	for (size_t i = 0; i < p->ninputs; i++) {
		const char *l[] = { "input", p->inputs[i]->name, "type", p->inputs[i]->mod->type, NULL };
		metrics_sample(b, "logship_input_paused", l, p->inputs[i]->paused);
	}
	metrics_family(b, "logship_input_checkpoint_age_seconds", "gauge",
		       "How long the input's newest position has waited to be checkpointed (0: up to date)");
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		const char *l[] = { "input", in->name, "type", in->mod->type, NULL };
		int64_t since = in->unckpt_since_ms;
		metrics_sample(b, "logship_input_checkpoint_age_seconds", l, since ? (double)(now - since) / 1000.0 : 0);
	}

	static const struct { const char *name, *help; size_t off; } out_ctrs[] = {
		{ "logship_output_events_total", "Events the destination acknowledged", offsetof(struct output, events_out) },
		{ "logship_output_bytes_total", "Bytes of those events", offsetof(struct output, bytes_out) },
		{ "logship_output_retried_total", "Events sent again after a failure", offsetof(struct output, events_retried) },
		{ "logship_output_rejected_total", "Events the destination refused for good", offsetof(struct output, events_rejected) },
		{ "logship_output_dropped_total", "Events dropped from the ring (drop_oldest) before this output shipped them", offsetof(struct output, events_skipped) },
		{ "logship_output_send_failures_total", "Sends that failed (then retried with backoff)", offsetof(struct output, send_failures) },
		{ "logship_output_commits_total", "Cursor commits", offsetof(struct output, commits) },
	};
	for (size_t k = 0; k < sizeof(out_ctrs) / sizeof(out_ctrs[0]); k++) {
		metrics_family(b, out_ctrs[k].name, "counter", out_ctrs[k].help);
		for (size_t i = 0; i < p->noutputs; i++) {
			struct output *o = p->outputs[i];
			const char *l[] = { "output", o->name, "type", o->mod->type, NULL };
			_Atomic uint64_t *v = (_Atomic uint64_t *)((char *)o + out_ctrs[k].off);
			metrics_sample(b, out_ctrs[k].name, l, (double)METRIC_GET(*v));
		}
	}
	metrics_family(b, "logship_output_cursor", "gauge", "The output's committed (durable) cursor in the ring");
	for (size_t i = 0; i < p->noutputs; i++) {
		struct output *o = p->outputs[i];
		const char *l[] = { "output", o->name, "type", o->mod->type, NULL };
		metrics_sample(b, "logship_output_cursor", l, (double)atomic_load(&o->committed_offset));
	}
	metrics_family(b, "logship_output_lag_events", "gauge", "Ring offsets the output has not had acknowledged yet");
	for (size_t i = 0; i < p->noutputs; i++) {
		struct output *o = p->outputs[i];
		const char *l[] = { "output", o->name, "type", o->mod->type, NULL };
		int64_t lag = st.end_offset - atomic_load(&o->acked_offset);
		metrics_sample(b, "logship_output_lag_events", l, (double)(lag > 0 ? lag : 0));
	}
	metrics_family(b, "logship_output_lag_bytes", "gauge", "Ring bytes behind the output (estimated from the ring's mean batch size)");
	for (size_t i = 0; i < p->noutputs; i++) {
		struct output *o = p->outputs[i];
		const char *l[] = { "output", o->name, "type", o->mod->type, NULL };
		metrics_sample(b, "logship_output_lag_bytes", l, (double)lag_bytes(&st, atomic_load(&o->acked_offset)));
	}
	filters_write_metrics(p, b);
	pthread_mutex_unlock(&p->mu);
}

static void put_bytes_json(struct sbuf *b, const uint8_t *v, size_t n)
{
	if (!v)
		sbuf_puts(b, "null");
	else
		json_put_string(b, (const char *)v, n);
}

void pipeline_write_status(struct pipeline *p, struct sbuf *b)
{
	pthread_mutex_lock(&p->mu);
	struct log_stats st;
	log_get_stats(p->ring, &st);
	int64_t now = wall_ms();
	char why[128], ts[32];
	int ready = pipeline_ready(p, why, sizeof(why));
	sbuf_printf(b, "{\"version\":\"%s\",\"uptime_s\":%.3f,\"ready\":%s,\"ready_reason\":", LOGSHIP_VERSION,
		    (double)(now - p->started_ms) / 1000.0, ready ? "true" : "false");
	json_put_string(b, why, strlen(why));
	sbuf_puts(b, ",\"ring\":{\"dir\":");
	json_put_string(b, p->ring_dir, strlen(p->ring_dir));
	sbuf_printf(b, ",\"start_offset\":%lld,\"end_offset\":%lld,\"durable_offset\":%lld,\"bytes\":%llu,"
		    "\"max_bytes\":%llu,\"segments\":%u,\"dropped_events\":%llu}",
		    (long long)st.start_offset, (long long)st.end_offset, (long long)st.durable_offset,
		    (unsigned long long)st.size_bytes, (unsigned long long)p->cref->cfg->max_bytes, st.segments,
		    (unsigned long long)st.dropped_records);
	sbuf_puts(b, ",\"inputs\":[");
	for (size_t i = 0; i < p->ninputs; i++) {
		struct input *in = p->inputs[i];
		sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		json_put_string(b, in->name, strlen(in->name));
		sbuf_printf(b, ",\"type\":\"%s\",\"tag\":", in->mod->type);
		if (in->tag)
			json_put_string(b, in->tag, strlen(in->tag));
		else
			sbuf_puts(b, "null");
		sbuf_puts(b, ",\"position\":");
		put_bytes_json(b, in->pos, in->pos_len);
		sbuf_puts(b, ",\"checkpoint\":");
		put_bytes_json(b, in->ckpt_disk, in->ckpt_disk_len);
		sbuf_puts(b, ",\"checkpoint_at\":");
		if (in->ckpt_written_ms) {
			json_format_time(ts, in->ckpt_written_ms);
			sbuf_printf(b, "\"%s\"", ts);
		} else {
			sbuf_puts(b, "null");
		}
		int64_t since = in->unckpt_since_ms;
		sbuf_printf(b, ",\"checkpoint_age_s\":%.3f,\"state\":\"%s\",\"events\":%llu,\"dropped\":%llu}",
			    since ? (double)(now - since) / 1000.0 : 0.0,
			    in->stopped ? "stopped" : in->done ? "done" : in->paused ? "paused" : "running",
			    (unsigned long long)METRIC_GET(in->events_in), (unsigned long long)METRIC_GET(in->dropped));
	}
	sbuf_puts(b, "],\"outputs\":[");
	for (size_t i = 0; i < p->noutputs; i++) {
		struct output *o = p->outputs[i];
		int64_t acked = atomic_load(&o->acked_offset);
		int64_t lag = st.end_offset - acked;
		sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		json_put_string(b, o->name, strlen(o->name));
		sbuf_printf(b, ",\"type\":\"%s\",\"cursor\":%lld,\"acked\":%lld,\"lag_events\":%lld,\"lag_bytes\":%lld,"
			    "\"events\":%llu,\"retried\":%llu,\"rejected\":%llu,\"last_error\":",
			    o->mod->type, (long long)atomic_load(&o->committed_offset), (long long)acked,
			    (long long)(lag > 0 ? lag : 0), (long long)lag_bytes(&st, acked),
			    (unsigned long long)METRIC_GET(o->events_out),
			    (unsigned long long)METRIC_GET(o->events_retried),
			    (unsigned long long)METRIC_GET(o->events_rejected));
		pthread_mutex_lock(&o->mu);
		if (o->last_error[0]) {
			json_put_string(b, o->last_error, strlen(o->last_error));
			json_format_time(ts, o->last_error_ms);
			sbuf_printf(b, ",\"last_error_at\":\"%s\"}", ts);
		} else {
			sbuf_puts(b, "null,\"last_error_at\":null}");
		}
		pthread_mutex_unlock(&o->mu);
	}
	sbuf_puts(b, "],");
	filters_write_status(p, b);
	sbuf_puts(b, "}\n");
	pthread_mutex_unlock(&p->mu);
}

/* Answers on the httpd thread; the pipeline's mutex guards what it reads. */
static unsigned handle(void *arg, const char *method, const char *path, struct sbuf *b, const char **ctype)
{
	struct pipeline *p = arg;
	(void)method;
	if (strcmp(path, "/health") == 0) {
		sbuf_puts(b, "ok\n");
		return 200;
	}
	if (strcmp(path, "/ready") == 0) {
		char why[160];
		int ok = pipeline_ready(p, why, sizeof(why));
		sbuf_printf(b, "%s\n", why);
		return ok ? 200 : 503;
	}
	if (strcmp(path, "/metrics") == 0) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		pipeline_write_metrics(p, b);
		return 200;
	}
	if (strcmp(path, "/status") == 0) {
		*ctype = "application/json";
		pipeline_write_status(p, b);
		return 200;
	}
	sbuf_puts(b, "not found: try /health /ready /metrics /status\n");
	return 404;
}

int status_start(struct pipeline *p, const char *listen, const struct tls_server_conf *tls,
		 struct status_server **out)
{
	char err[512];
	struct httpd_options opt = { .max_conns = 64, .timeout_ms = 10000, .tls = tls };
	struct httpd *h = httpd_start(listen, &opt, handle, p, err, sizeof(err));
	if (!h) {
		LOG_ERROR("http", "status endpoint: %s", err);
		return -EADDRINUSE;
	}
	LOG_INFO("http", "status endpoint on %s://%s/ (/health /ready /metrics /status)", tls ? "https" : "http",
		 listen);
	*out = (struct status_server *)h;
	return 0;
}

void status_stop(struct status_server *s)
{
	httpd_stop((struct httpd *)s);
}
