/* Filter instances and the chains that run them (see filter.h, module.h).
 *
 * Each input has a chain: the filters whose match selects it, in config
 * order (NULL when none: input_emit goes straight to the batcher). The
 * chain runs on the loop thread with one reusable struct event per set, so
 * the steady state allocates nothing.
 *
 * Waiting. A filter that returns -EAGAIN makes input_emit refuse the event
 * like a full ring does: the input keeps it and is paused. The chain holds a
 * copy of the event as it was offered and as far as it got; when the input
 * offers the same bytes again the chain resumes at the filter that waited,
 * so the filters before it (a throttle, say) do not count it twice. The same
 * holds when the ring refuses an event the chain already processed.
 * filter_ready() (any thread) raises a flag and writes the set's eventfd;
 * the loop then resumes the inputs waiting on a ready filter.
 *
 * Positions: a dropped event is taken (input_emit returns 0); the input's
 * next position covers it like any event, and pipeline_position checkpoints
 * it no earlier than the events before it are durable. */
#include "agent/filter.h"
#include "agent/filter_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/event.h"
#include "agent/pipeline_internal.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/metrics.h"

/* --- the module side --------------------------------------------------------------- */

const char *filter_name(const struct filter *f)
{
	return f->name;
}

void filter_ready(struct filter *f)
{
	atomic_store(&f->ready, 1);
	if (!f->set)
		return;   /* a standalone instance (filter_instance_new) */
	uint64_t one = 1;
	ssize_t w = write(f->set->evfd, &one, sizeof(one));
	(void)w;
}

_Atomic uint64_t *filter_counter(struct filter *f, const char *name)
{
	_Atomic uint64_t *c = NULL;
	pthread_mutex_lock(&f->cmu);
	size_t n = atomic_load(&f->nctr);
	for (size_t i = 0; i < n && !c; i++)
		if (strcmp(f->ctr[i].name, name) == 0)
			c = &f->ctr[i].v;
	if (!c && n < FILTER_COUNTERS_MAX && strlen(name) < sizeof(f->ctr[n].name)) {
		snprintf(f->ctr[n].name, sizeof(f->ctr[n].name), "%s", name);
		atomic_store(&f->ctr[n].v, 0);
		c = &f->ctr[n].v;
		atomic_store(&f->nctr, n + 1);   /* published after it is set */
	}
	pthread_mutex_unlock(&f->cmu);
	return c;
}

/* --- instances --------------------------------------------------------------------- */

static int filter_create(struct filter_set *s, struct cfg_ref *cref, const struct agent_filter_conf *fc,
			 struct filter **out)
{
	struct filter *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->set = s;
	f->cref = cref;
	if (cref)
		cref->refs++;
	f->conf = fc;
	f->mod = fc->mod;
	f->name = fc->name;
	pthread_mutex_init(&f->cmu, NULL);
	int rc = f->mod->init(f, fc->conf, &f->state);
	if (rc < 0) {
		LOG_ERROR(f->name, "cannot create filter (%s): %s", f->mod->type, strerror(-rc));
		pthread_mutex_destroy(&f->cmu);
		if (cref)
			cfg_ref_put(cref);
		free(f);
		return rc;
	}
	LOG_INFO(f->name, "filter started (%s)", f->mod->type);
	*out = f;
	return 0;
}

static void filter_destroy(struct filter *f)
{
	if (!f)
		return;
	if (f->mod->destroy)
		f->mod->destroy(f->state);
	pthread_mutex_destroy(&f->cmu);
	if (f->cref)
		cfg_ref_put(f->cref);
	free(f);
}

/* --- standalone instances ------------------------------------------------------------ */

int filter_instance_new(const struct agent_filter_conf *fc, struct filter **out)
{
	return filter_create(NULL, NULL, fc, out);
}

int filter_instance_apply(struct filter *f, struct event *ev)
{
	int rc = f->mod->apply(f->state, ev);
	if (rc == -EAGAIN) {
		METRIC_ADD(f->waits, 1);
		return rc;
	}
	METRIC_ADD(f->events_in, 1);
	if (rc == FILTER_DROP)
		METRIC_ADD(f->dropped, 1);
	else if (rc < 0)
		METRIC_ADD(f->errors, 1);
	return rc;
}

uint64_t filter_instance_stat(struct filter *f, const char *name)
{
	if (!strcmp(name, "events"))
		return METRIC_GET(f->events_in);
	if (!strcmp(name, "dropped"))
		return METRIC_GET(f->dropped);
	if (!strcmp(name, "waits"))
		return METRIC_GET(f->waits);
	if (!strcmp(name, "errors"))
		return METRIC_GET(f->errors);
	size_t n = atomic_load(&f->nctr);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f->ctr[i].name, name))
			return METRIC_GET(f->ctr[i].v);
	return 0;
}

void filter_instance_free(struct filter *f)
{
	filter_destroy(f);
}

static void chain_free(struct filter_chain *ch)
{
	if (!ch)
		return;
	free(ch->f);
	sbuf_free(&ch->orig);
	sbuf_free(&ch->text);
	sbuf_free(&ch->tmp);
	free(ch);
}

/* The loop saw the eventfd: resume every input waiting on a ready filter. */
static void on_ready(void *arg, int fd, unsigned events)
{
	struct filter_set *s = arg;
	struct pipeline *p = s->p;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	(void)events;
	if (s->ft)
		filter_thread_drain(s->ft);   /* results came back */
	for (size_t i = 0; i < s->n; i++)
		if (atomic_exchange(&s->f[i]->ready, 0))
			for (size_t k = 0; k < p->ninputs; k++) {
				struct input *in = p->inputs[k];
				struct filter_chain *ch = in->chain;
				if (!ch || ch->waiting != s->f[i])
					continue;
				ch->waiting = NULL;
				if (p->blocked)
					continue;   /* the ring resumes it when it takes writes */
				if (in->paused)
					input_resume(in);
				else if (in->mod->run)
					input_schedule(in);
			}
}

static struct filter_set *set_get(struct pipeline *p)
{
	if (p->filters)
		return p->filters;
	struct filter_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->p = p;
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->evfd < 0 || loop_add_fd(p->loop, s->evfd, EPOLLIN, on_ready, s) < 0) {
		if (s->evfd >= 0)
			close(s->evfd);
		free(s);
		return NULL;
	}
	p->filters = s;
	return s;
}

static struct filter *find_kept(struct filter_set *s, const struct agent_filter_conf *fc)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i] && strcmp(s->f[i]->name, fc->name) == 0 &&
		    strcmp(s->f[i]->conf->fingerprint, fc->fingerprint) == 0)
			return s->f[i];
	return NULL;
}

int filters_apply(struct pipeline *p, struct cfg_ref *cref, int strict)
{
	const struct agent_config *c = cref->cfg;
	struct filter_set *s = p->filters;
	if (!s && !c->nfilters)
		return 0;      /* no filters, never had any: nothing to do */
	if (!s && !(s = set_get(p))) {
		LOG_ERROR("agent", "cannot set up filters: out of memory or no eventfd");
		return -ENOMEM;
	}
	if (s->ft)
		filter_thread_sync(s->ft);   /* no job may point at what changes */
	struct filter **nf = calloc(c->nfilters + 1, sizeof(*nf));
	struct filter_chain **nch = calloc(p->ninputs + 1, sizeof(*nch));
	if (!nf || !nch) {
		free(nf);
		free(nch);
		return -ENOMEM;
	}
	int rc = 0;
	size_t kept = 0;
	for (size_t i = 0; i < c->nfilters; i++) {
		struct filter *f = find_kept(s, &c->filters[i]);
		if (f) {
			for (size_t k = 0; k < s->n; k++)
				if (s->f[k] == f)
					s->f[k] = NULL;   /* moved to the new list */
			nf[i] = f;
			kept++;
			continue;
		}
		int r = filter_create(s, cref, &c->filters[i], &nf[i]);
		if (r < 0 && !rc)
			rc = r;
	}
	/* Chains: every input of p, the matching filters in config order. */
	for (size_t k = 0; k < p->ninputs; k++) {
		struct input *in = p->inputs[k];
		size_t n = 0;
		for (size_t i = 0; i < c->nfilters; i++)
			n += nf[i] && agent_filter_matches(&c->filters[i], in->name, in->tag);
		if (!n)
			continue;
		struct filter_chain *ch = calloc(1, sizeof(*ch));
		if (ch && !(ch->f = calloc(n, sizeof(*ch->f)))) {
			free(ch);
			ch = NULL;
		}
		if (!ch) {
			rc = -ENOMEM;
			continue;
		}
		ch->set = s;
		for (size_t i = 0; i < c->nfilters; i++)
			if (nf[i] && agent_filter_matches(&c->filters[i], in->name, in->tag))
				ch->f[ch->n++] = nf[i];
		nch[k] = ch;
	}
	if (rc < 0 && strict) {
		for (size_t i = 0; i < c->nfilters; i++)
			if (nf[i] && nf[i]->cref == cref)
				filter_destroy(nf[i]);
		for (size_t k = 0; k < p->ninputs; k++)
			chain_free(nch[k]);
		free(nf);
		free(nch);
		return rc;
	}
	/* Publish: inputs get their chains; the status thread sees the list. */
	for (size_t k = 0; k < p->ninputs; k++)
		p->inputs[k]->chain = nch[k];
	pthread_mutex_lock(&p->mu);
	struct filter **old = s->f;
	size_t nold = s->n;
	struct filter_chain **oldch = s->chains;
	size_t noldch = s->nchains;
	size_t n = 0;
	for (size_t i = 0; i < c->nfilters; i++)
		if (nf[i])
			nf[n++] = nf[i];
	s->f = nf;
	s->n = n;
	s->chains = nch;
	s->nchains = p->ninputs;
	pthread_mutex_unlock(&p->mu);
	/* The chains run on the filter thread unless a filter may make an
	 * input wait (its -EAGAIN needs the input at hand) or the config says
	 * not to. The thread, once started, stays (idle) until filters_free:
	 * results it still holds drain through it. */
	int may_wait = 0;
	for (size_t i = 0; i < n; i++)
		may_wait |= (nf[i]->mod->flags & FILTER_MAY_WAIT) != 0;
	int want = c->filter_thread && n && !may_wait;
	if (want && !s->ft && filter_thread_start(s, &s->ft) < 0)
		LOG_WARN("agent", "cannot start the filter thread; filters run on the event loop");
	s->threaded = want && s->ft;
	for (size_t i = 0; i < nold; i++)
		if (old[i]) {
			LOG_INFO(old[i]->name, "filter %s", "stopped (changed or removed)");
			filter_destroy(old[i]);
		}
	free(old);
	for (size_t k = 0; k < noldch; k++)
		chain_free(oldch[k]);
	free(oldch);
	/* An input that waited on a filter, or held an event, starts over:
	 * it offers the event again to its new chain. */
	for (size_t k = 0; k < p->ninputs; k++) {
		struct input *in = p->inputs[k];
		if (in->paused && !p->blocked)
			input_resume(in);
	}
	size_t filtered = 0;
	for (size_t k = 0; k < p->ninputs; k++)
		filtered += nch[k] != NULL;
	if (c->nfilters)
		LOG_INFO("agent", "filters: %zu running (%zu kept), %zu input(s) filtered, on %s", n, kept, filtered,
			 s->threaded ? "the filter thread" : "the event loop");
	return rc;
}

void filters_free(struct pipeline *p)
{
	struct filter_set *s = p->filters;
	if (!s)
		return;   /* called after the inputs are gone: chains go with the set */
	filter_thread_stop(s->ft);
	for (size_t i = 0; i < s->n; i++)
		filter_destroy(s->f[i]);
	free(s->f);
	for (size_t k = 0; k < s->nchains; k++)
		chain_free(s->chains[k]);
	free(s->chains);
	loop_del_fd(p->loop, s->evfd);
	close(s->evfd);
	event_free(&s->ev);
	free(s);
	p->filters = NULL;
}

/* --- running ---------------------------------------------------------------------- */

/* Keeps the event offered (orig) and its state after `at` filters. */
static void hold(struct filter_chain *ch, const char *json, size_t len, int64_t ts, const struct event *ev,
		 size_t at)
{
	/* ev may borrow ch->text (a resumed event): build in tmp, then swap. */
	ch->tmp.len = 0;
	ch->tmp.err = 0;
	sbuf_put(&ch->tmp, ev->json, ev->len);
	if (json != ch->orig.p) {
		ch->orig.len = 0;
		ch->orig.err = 0;
		sbuf_put(&ch->orig, json, len);
	}
	if (ch->tmp.err || ch->orig.err) {
		ch->held = 0;   /* out of memory: the next offer runs the whole chain */
		return;
	}
	struct sbuf x = ch->text;
	ch->text = ch->tmp;
	ch->tmp = x;
	ch->held = 1;
	ch->at = at;
	ch->orig_ts = ts;
	ch->held_ts = ev->ts_ms;
}

int filter_chain_run(struct filter_chain *ch, struct event *ev, size_t *at)
{
	for (size_t i = *at; i < ch->n; i++) {
		int rc = filter_instance_apply(ch->f[i], ev);   /* applies and counts */
		if (rc == -EAGAIN) {
			*at = i;
			return rc;
		}
		if (rc == FILTER_DROP)
			return FILTER_DROP;
	}
	*at = ch->n;
	return FILTER_KEEP;
}

int filter_chain_emit(struct input *in, int64_t ts, const char *json, size_t len, int kept)
{
	struct filter_chain *ch = in->chain;
	struct pipeline *p = in->p;
	int cannot_wait = (in->mod->flags & INPUT_CANNOT_WAIT) && !kept;
	/* A full ring refuses before any filter counts the event. */
	if (p->blocked || in->stopped)
		return pipeline_emit(p, in, ts, json, len, kept);
	if (ch && ch->set->threaded)
		return filter_thread_push(ch->set->ft, in, ch, ts, json, len, kept);
	if (in->fq_pushed != in->fq_done)
		/* Events of this input are still at the filter thread (a reload
		 * took its chain away, or made the set wait-capable): this one
		 * waits for them, so that the order holds. */
		return filter_thread_refuse(p->filters->ft, in, kept);
	if (!ch)
		return pipeline_emit(p, in, ts, json, len, kept);
	struct event *ev = &ch->set->ev;
	size_t i = 0;
	if (ch->held && ch->orig_ts == ts && ch->orig.len == len && memcmp(ch->orig.p, json, len) == 0) {
		event_begin(ev, in->name, in->tag, ch->held_ts, ch->text.p, ch->text.len);
		i = ch->at;
	} else {
		event_begin(ev, in->name, in->tag, ts, json, len);
	}
	ch->held = 0;
	int rc = filter_chain_run(ch, ev, &i);
	if (rc == -EAGAIN) {
		if (cannot_wait) {
			METRIC_ADD(in->dropped, 1);
			return -EAGAIN;
		}
		METRIC_ADD(in->refused, 1);
		hold(ch, json, len, ts, ev, i);
		ch->waiting = ch->f[i];
		input_pause(in);
		return -EAGAIN;
	}
	if (rc == FILTER_DROP)
		return 0;
	rc = pipeline_emit(p, in, ev->ts_ms, ev->json, ev->len, kept);
	if (rc == -EAGAIN && !cannot_wait)
		hold(ch, json, len, ts, ev, ch->n);
	return rc;
}

int input_takes_lines(const struct input *in)
{
	const struct filter_chain *ch = in->chain;
	/* as filter_chain_emit decides to push */
	return ch && ch->set->threaded && !in->p->blocked && !in->stopped;
}

int filter_chain_emit_line(struct input *in, int64_t ts, const char *head, size_t hlen, const char *msg,
			   size_t mlen, const char *tail, size_t tlen)
{
	if (!input_takes_lines(in))
		return 1;
	return filter_thread_push_line(in->chain->set->ft, in, in->chain, ts, head, hlen, msg, mlen, tail, tlen);
}

/* --- the filter thread, seen from the pipeline --------------------------------------- */

void filters_publish(struct pipeline *p)
{
	if (p->filters && p->filters->ft)
		filter_thread_publish(p->filters->ft);
}

void filters_sync(struct pipeline *p)
{
	if (p->filters && p->filters->ft)
		filter_thread_sync(p->filters->ft);
}

void filters_ring_ready(struct pipeline *p)
{
	if (p->filters && p->filters->ft)
		filter_thread_drain(p->filters->ft);
}

void filters_forget_input(struct pipeline *p, struct input *in)
{
	if (p->filters && p->filters->ft)
		filter_thread_forget(p->filters->ft, in);
}

/* --- metrics ------------------------------------------------------------------------ */

static void metric_name(char *out, size_t cap, const char *ctr)
{
	size_t n = (size_t)snprintf(out, cap, "logship_filter_");
	for (const char *c = ctr; *c && n + 7 < cap; c++) {
		char x = *c;
		out[n++] = (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9') ? x : '_';
	}
	snprintf(out + n, cap - n, "_total");
}

void filters_write_metrics(struct pipeline *p, struct sbuf *b)
{
	struct filter_set *s = p->filters;
	static const struct { const char *name, *help; size_t off; } ctrs[] = {
		{ "logship_filter_events_total", "Events the filter decided on (kept or dropped)", offsetof(struct filter, events_in) },
		{ "logship_filter_dropped_total", "Events the filter dropped", offsetof(struct filter, dropped) },
		{ "logship_filter_waits_total", "Times the filter made an input wait (-EAGAIN)", offsetof(struct filter, waits) },
		{ "logship_filter_errors_total", "Events the filter failed on (passed on unchanged by it)", offsetof(struct filter, errors) },
	};
	for (size_t k = 0; k < sizeof(ctrs) / sizeof(ctrs[0]); k++) {
		metrics_family(b, ctrs[k].name, "counter", ctrs[k].help);
		for (size_t i = 0; s && i < s->n; i++) {
			struct filter *f = s->f[i];
			const char *l[] = { "filter", f->name, "type", f->mod->type, NULL };
			_Atomic uint64_t *v = (_Atomic uint64_t *)((char *)f + ctrs[k].off);
			metrics_sample(b, ctrs[k].name, l, (double)METRIC_GET(*v));
		}
	}
	/* The modules' own counters: one family per distinct name. */
	for (size_t i = 0; s && i < s->n; i++) {
		struct filter *f = s->f[i];
		size_t nc = atomic_load(&f->nctr);
		for (size_t c = 0; c < nc; c++) {
			int seen = 0;
			for (size_t j = 0; j < i && !seen; j++)
				for (size_t d = 0; d < atomic_load(&s->f[j]->nctr) && !seen; d++)
					seen = !strcmp(s->f[j]->ctr[d].name, f->ctr[c].name);
			if (seen)
				continue;
			char name[128];
			metric_name(name, sizeof(name), f->ctr[c].name);
			metrics_family(b, name, "counter", "A filter module's own counter (docs/filters.md)");
			for (size_t j = i; j < s->n; j++) {
				struct filter *g = s->f[j];
				size_t ng = atomic_load(&g->nctr);
				for (size_t d = 0; d < ng; d++)
					if (!strcmp(g->ctr[d].name, f->ctr[c].name)) {
						const char *l[] = { "filter", g->name, "type", g->mod->type, NULL };
						metrics_sample(b, name, l, (double)METRIC_GET(g->ctr[d].v));
					}
			}
		}
	}
}

void filters_write_status(struct pipeline *p, struct sbuf *b)
{
	struct filter_set *s = p->filters;
	sbuf_puts(b, "\"filters\":[");
	for (size_t i = 0; s && i < s->n; i++) {
		struct filter *f = s->f[i];
		sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		json_put_string(b, f->name, strlen(f->name));
		sbuf_printf(b, ",\"type\":\"%s\",\"match\":[", f->mod->type);
		for (size_t k = 0; k < f->conf->match.n; k++) {
			if (k)
				sbuf_putc(b, ',');
			json_put_string(b, f->conf->match.v[k], strlen(f->conf->match.v[k]));
		}
		sbuf_printf(b, "],\"events\":%llu,\"dropped\":%llu,\"waits\":%llu,\"errors\":%llu,\"counters\":{",
			    (unsigned long long)METRIC_GET(f->events_in), (unsigned long long)METRIC_GET(f->dropped),
			    (unsigned long long)METRIC_GET(f->waits), (unsigned long long)METRIC_GET(f->errors));
		size_t nc = atomic_load(&f->nctr);
		for (size_t c = 0; c < nc; c++) {
			if (c)
				sbuf_putc(b, ',');
			json_put_string(b, f->ctr[c].name, strlen(f->ctr[c].name));
			sbuf_printf(b, ":%llu", (unsigned long long)METRIC_GET(f->ctr[c].v));
		}
		sbuf_puts(b, "}}");
	}
	sbuf_putc(b, ']');
}
