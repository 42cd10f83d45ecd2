/* The Kubernetes API client: one background thread driving libcurl's multi
 * interface, so that up to KUBE_INFLIGHT pods are fetched at once and a slow
 * answer for one pod does not hold the others back.
 *
 *   main loop (apply)                      worker thread
 *   kube_cache_decide -> fetch?  --queue-> pop (FIFO, bounded, one per pod:
 *                                          the cache entry's `queued` flag
 *                                          de-duplicates)
 *                                          GET /api/v1/namespaces/{ns}/pods/{pod}
 *                                          GET /api/v1/namespaces/{ns} (cached
 *                                          per namespace, worker-private)
 *                                          parse (no lock), kube_cache_complete
 *   offered again      <-----ready()-----  a waited-for pod is known, or its
 *                                          wait_until passed (the worker keeps
 *                                          every waiting pod's deadline)
 *
 * The service-account token is re-read whenever its file changes (stat before
 * each request; kubelet swaps the projected token atomically, hourly or so)
 * and after a 401. Failures that mean "the API server is not answering us"
 * (transport errors and timeouts, 401, 403, 429, 5xx) mark it down for
 * retry_ms: events of pods never seen then go on at once instead of each
 * new pod costing wait_ms. 401/403 and other failures are logged at most once
 * per error_log_interval each, with how many were not logged. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/logging.h"
#include "filters/kubernetes/kube.h"

#define KUBE_INFLIGHT 8
#define KUBE_MAX_BODY (16u << 20)     /* a Pod with huge annotations is ~1 MiB */
#define KUBE_NS_MAX 1024              /* namespaces remembered by the worker */

struct kube_req {
	char *key;                    /* "ns/pod" */
	int64_t wait_until_ms;
	int signalled;                /* ready() was called for its deadline */
	struct kube_req *next;
};

struct ns_entry {
	char *name;
	char *labels;                 /* JSON object text; NULL: unknown (failed) */
	int64_t expires_ms;
	int fetching;
	struct ns_entry *next;
};

struct transfer {
	CURL *h;
	struct curl_slist *headers;
	struct sbuf body;
	int too_big;
	struct item *item;            /* NULL for a namespace fetch */
	struct ns_entry *ns;          /* the namespace fetched, when item is NULL */
	struct transfer *next;        /* in the list of namespace transfers */
	char path[600];
};

struct item {
	struct kube_req *req;
	char ns[256];
	struct transfer *pod;         /* NULL once finished */
	int pod_done;
	long pod_status;              /* HTTP status, 0 = transport error */
	int ns_wait;                  /* waits for its namespace's fetch */
};

struct token {
	char *value;
	struct stat st;
	int have_st, missing_logged;
};

struct logonce {
	int64_t last_ms;
	uint64_t suppressed;
};

struct kube_client {
	struct kube_client_conf conf;
	pthread_t thread;
	int started;
	CURLM *multi;

	/* Shared with the main loop, under mu. */
	pthread_mutex_t mu;
	struct kube_cache cache;
	struct kube_req *qhead, *qtail;
	size_t qlen;
	int stop;
	int64_t down_until_ms;

	/* Worker-private. */
	struct item *inflight[KUBE_INFLIGHT];
	struct ns_entry *ns;
	size_t nns;
	struct transfer *ns_transfers;  /* namespace fetches in flight */
	struct token token;
	struct logonce log_auth, log_ns, log_other;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* --- the main loop's side ------------------------------------------------------ */

struct kube_cache *kube_client_lock(struct kube_client *k)
{
	pthread_mutex_lock(&k->mu);
	return &k->cache;
}

void kube_client_unlock(struct kube_client *k)
{
	pthread_mutex_unlock(&k->mu);
}

int kube_client_down(struct kube_client *k, int64_t now)
{
	return now < k->down_until_ms;
}

int kube_client_queue(struct kube_client *k, const char *key, size_t len, int64_t wait_until_ms)
{
	struct kube_req *r = NULL;
	if (k->qlen >= k->conf.max_queue || !(r = calloc(1, sizeof(*r))) || !(r->key = strndup(key, len))) {
		free(r);
		kube_cache_unqueue(&k->cache, key, len, clock_mono_ms(), &k->conf.policy);
		return -ENOSPC;
	}
	r->wait_until_ms = wait_until_ms;
	r->signalled = wait_until_ms <= clock_mono_ms();   /* a refresh: nobody waits */
	if (k->qtail)
		k->qtail->next = r;
	else
		k->qhead = r;
	k->qtail = r;
	k->qlen++;
	curl_multi_wakeup(k->multi);
	return 0;
}

/* --- logging --------------------------------------------------------------------- */

static void log_limited(struct kube_client *k, struct logonce *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void log_limited(struct kube_client *k, struct logonce *l, const char *fmt, ...)
{
	int64_t now = clock_mono_ms();
	if (l->last_ms && now - l->last_ms < k->conf.error_log_interval_ms) {
		l->suppressed++;
		return;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->suppressed)
		LOG_WARN(k->conf.name, "%s (%" PRIu64 " more like it in the last %" PRId64 "s not logged)",
			 msg, l->suppressed, k->conf.error_log_interval_ms / 1000);
	else
		LOG_WARN(k->conf.name, "%s", msg);
	l->last_ms = now;
	l->suppressed = 0;
}

/* --- token ------------------------------------------------------------------------- */

/* The current token, re-read when the file's identity or mtime changed. */
static const char *token_get(struct kube_client *k)
{
	struct token *t = &k->token;
	if (!k->conf.token_file)
		return NULL;
	struct stat st;
	if (stat(k->conf.token_file, &st) < 0) {
		if (!t->missing_logged)
			LOG_WARN(k->conf.name, "token_file %s: %s: asking the API server without a token",
				 k->conf.token_file, strerror(errno));
		t->missing_logged = 1;
		return t->value;
	}
	if (t->have_st && st.st_ino == t->st.st_ino && st.st_dev == t->st.st_dev &&
	    st.st_size == t->st.st_size && st.st_mtim.tv_sec == t->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == t->st.st_mtim.tv_nsec)
		return t->value;
	FILE *f = fopen(k->conf.token_file, "re");
	if (!f)
		return t->value;
	char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	char *v = strdup(buf);
	if (v) {
		free(t->value);
		t->value = v;
		t->st = st;
		t->have_st = 1;
		t->missing_logged = 0;
		LOG_DEBUG(k->conf.name, "read the service-account token from %s", k->conf.token_file);
	}
	return t->value;
}

/* --- transfers ---------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;
	if (t->body.len + len > KUBE_MAX_BODY) {
		t->too_big = 1;
		return 0;
	}
	sbuf_put(&t->body, p, len);
	return t->body.err ? 0 : len;
}

static void transfer_free(struct kube_client *k, struct transfer *t)
{
	if (!t)
		return;
	if (t->h) {
		curl_multi_remove_handle(k->multi, t->h);
		curl_easy_cleanup(t->h);
	}
	curl_slist_free_all(t->headers);
	sbuf_free(&t->body);
	free(t);
}

static struct transfer *transfer_start(struct kube_client *k, const char *path)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (!t || !(t->h = curl_easy_init())) {
		free(t);
		return NULL;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", k->conf.url, path);
	const char *tok = token_get(k);
	t->headers = curl_slist_append(NULL, "Accept: application/json");
	if (tok && *tok) {
		struct sbuf h = { 0 };
		sbuf_printf(&h, "Authorization: Bearer %s", tok);
		if (!h.err) {
			struct curl_slist *l = curl_slist_append(t->headers, sbuf_cstr(&h));
			if (l)
				t->headers = l;
		}
		sbuf_free(&h);
	}
	CURL *h = t->h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)k->conf.request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)k->conf.request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (k->conf.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, k->conf.ca_file);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, k->conf.tls_verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, k->conf.tls_verify ? 2L : 0L);
	if (curl_multi_add_handle(k->multi, h) != CURLM_OK) {
		transfer_free(k, t);
		return NULL;
	}
	if (k->conf.requests)
		atomic_fetch_add_explicit(k->conf.requests, 1, memory_order_relaxed);
	return t;
}

/* The outcome of a finished transfer: HTTP status, or 0 with a reason. */
static long transfer_status(struct transfer *t, CURLcode rc, char *why, size_t whysz)
{
	long status = 0;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
		return status;
	}
	snprintf(why, whysz, "%s", t->too_big ? "response larger than 16 MiB" : curl_easy_strerror(rc));
	return 0;
}

/* Marks the API server down or up after an answer, and logs failures. */
static void note_status(struct kube_client *k, struct transfer *t, long status, const char *why)
{
	char status_text[24];
	snprintf(status_text, sizeof(status_text), "%ld", status);
	int failed = status == 0 || status == 401 || status == 403 || status == 429 || status >= 500;
	if (failed && k->conf.errors)
		atomic_fetch_add_explicit(k->conf.errors, 1, memory_order_relaxed);
	if (t->item) {
		/* Only pod answers say whether events should wait for the API server:
		 * a namespace refused by RBAC is not an unreachable server. */
		pthread_mutex_lock(&k->mu);
		k->down_until_ms = failed ? clock_mono_ms() + k->conf.policy.retry_ms : 0;
		pthread_mutex_unlock(&k->mu);
	}
	if (status == 403 && !t->item) {
		log_limited(k, &k->log_ns, "GET %s%s: 403 Forbidden: the service account may not get "
			    "namespaces (grant it, or set namespace_labels: false); pods keep their own labels",
			    k->conf.url, t->path);
	} else if (status == 401) {
		k->token.have_st = 0;    /* re-read it before the next request */
		log_limited(k, &k->log_auth, "GET %s%s: 401 Unauthorized: the API server refused the token "
			    "from %s (expired or revoked? it is re-read when the file changes); events go "
			    "on without Kubernetes metadata", k->conf.url, t->path,
			    k->conf.token_file ? k->conf.token_file : "(no token_file)");
	} else if (status == 403) {
		log_limited(k, &k->log_auth, "GET %s%s: 403 Forbidden: the service account lacks RBAC "
			    "permission (it needs get on pods%s); events go on without Kubernetes metadata",
			    k->conf.url, t->path, k->conf.namespace_labels ? " and namespaces" : "");
	} else if (failed) {
		log_limited(k, &k->log_other, "GET %s%s: %s%s; retrying in %" PRId64 "ms, events go on "
			    "without Kubernetes metadata meanwhile", k->conf.url, t->path,
			    status ? "HTTP status " : "", status ? status_text : why, k->conf.policy.retry_ms);
	}
}

/* --- namespaces (worker-private) ------------------------------------------------------- */

static struct ns_entry *ns_find(struct kube_client *k, const char *name)
{
	for (struct ns_entry *e = k->ns; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static struct ns_entry *ns_get(struct kube_client *k, const char *name)
{
	struct ns_entry *e = ns_find(k, name);
	if (e)
		return e;
	if (k->nns >= KUBE_NS_MAX) {
		/* Forget an idle one (not being fetched): the list is short and this rare. */
		struct ns_entry **pp = &k->ns;
		while (*pp && (*pp)->fetching)
			pp = &(*pp)->next;
		if (*pp) {
			struct ns_entry *old = *pp;
			*pp = old->next;
			free(old->name);
			free(old->labels);
			free(old);
			k->nns--;
		}
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->name = strdup(name))) {
		free(e);
		return NULL;
	}
	e->next = k->ns;
	k->ns = e;
	k->nns++;
	return e;
}

/* --- items -------------------------------------------------------------------------- */

static void signal_ready(struct kube_client *k)
{
	if (k->conf.ready)
		k->conf.ready(k->conf.ready_arg);
}

static void item_free(struct kube_client *k, struct item *it)
{
	transfer_free(k, it->pod);
	if (it->req)
		free(it->req->key);
	free(it->req);
	free(it);
}

/* Both answers are in (or the namespace is not wanted): store the outcome. */
static void item_finish(struct kube_client *k, int slot)
{
	struct item *it = k->inflight[slot];
	struct transfer *t = it->pod;
	struct kube_meta *meta = NULL;
	long status = it->pod_status;
	if (status == 200 && t) {
		char err[256];
		meta = kube_json_pod(t->body.p ? t->body.p : "", t->body.len, &k->conf.json, err, sizeof(err));
		if (!meta) {
			status = 0;
			log_limited(k, &k->log_other, "GET %s%s: unreadable answer: %s", k->conf.url, t->path, err);
		} else if (k->conf.namespace_labels) {
			struct ns_entry *ns = ns_find(k, it->ns);
			if (ns && ns->labels && strcmp(ns->labels, "{}") != 0 &&
			    kube_meta_add(meta, "kubernetes.namespace_labels", ns->labels, strlen(ns->labels)) == 0)
				kube_meta_render(meta);   /* on failure: the pod's own fields */
		}
	}
	const char *key = it->req->key;
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&k->mu);
	int waiting = kube_cache_complete(&k->cache, key, strlen(key), now, &k->conf.policy, status, meta);
	pthread_mutex_unlock(&k->mu);
	if (waiting)
		signal_ready(k);
	item_free(k, it);
	k->inflight[slot] = NULL;
}

static void item_maybe_finish(struct kube_client *k, int slot)
{
	struct item *it = k->inflight[slot];
	if (it->pod_done && !it->ns_wait)
		item_finish(k, slot);
}

static void item_start(struct kube_client *k, int slot, struct kube_req *r)
{
	struct item *it = calloc(1, sizeof(*it));
	const char *slash = strchr(r->key, '/');
	if (!it || !slash || (size_t)(slash - r->key) >= sizeof(it->ns)) {
		free(it);
		pthread_mutex_lock(&k->mu);
		kube_cache_unqueue(&k->cache, r->key, strlen(r->key), clock_mono_ms(), &k->conf.policy);
		pthread_mutex_unlock(&k->mu);
		free(r->key);
		free(r);
		return;
	}
	it->req = r;
	memcpy(it->ns, r->key, (size_t)(slash - r->key));
	k->inflight[slot] = it;
	char path[600];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", it->ns, slash + 1);
	it->pod = transfer_start(k, path);
	if (!it->pod) {
		it->pod_done = 1;      /* status 0: counts as a failure, retried later */
		item_maybe_finish(k, slot);
		return;
	}
	it->pod->item = it;
	if (!k->conf.namespace_labels)
		return;
	struct ns_entry *ns = ns_get(k, it->ns);
	if (!ns)
		return;
	if (ns->fetching) {
		it->ns_wait = 1;
		return;
	}
	if (ns->expires_ms > clock_mono_ms())
		return;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", it->ns);
	struct transfer *nt = transfer_start(k, path);
	if (!nt)
		return;
	nt->ns = ns;
	nt->next = k->ns_transfers;
	k->ns_transfers = nt;
	ns->fetching = 1;
	it->ns_wait = 1;
}

/* A namespace answer: remember it, and let the items waiting for it finish. */
static void ns_done(struct kube_client *k, struct transfer *t, CURLcode rc)
{
	char why[256] = "";
	long status = transfer_status(t, rc, why, sizeof(why));
	struct ns_entry *ns = t->ns;
	int64_t now = clock_mono_ms();
	ns->fetching = 0;
	if (status == 200) {
		char err[256];
		char *labels = kube_json_namespace_labels(t->body.p ? t->body.p : "", t->body.len,
							  k->conf.json.dedot, err, sizeof(err));
		if (!labels)
			log_limited(k, &k->log_other, "GET %s%s: unreadable answer: %s", k->conf.url, t->path, err);
		free(ns->labels);
		ns->labels = labels;
		ns->expires_ms = now + (labels ? k->conf.namespace_ttl_ms : k->conf.policy.retry_ms);
	} else {
		/* 403 is common (RBAC for pods only): pods still get their labels,
		 * and the namespace is asked again after a while, not per pod. */
		if (status == 403 || status == 404)
			ns->expires_ms = now + k->conf.namespace_ttl_ms;
		else
			ns->expires_ms = now + k->conf.policy.retry_ms;
		note_status(k, t, status, why);
	}
	for (int i = 0; i < KUBE_INFLIGHT; i++) {
		struct item *it = k->inflight[i];
		if (it && it->ns_wait && strcmp(it->ns, ns->name) == 0) {
			it->ns_wait = 0;
			item_maybe_finish(k, i);
		}
	}
}

static void pod_done(struct kube_client *k, struct transfer *t, CURLcode rc)
{
	char why[256] = "";
	struct item *it = t->item;
	it->pod_status = transfer_status(t, rc, why, sizeof(why));
	it->pod_done = 1;
	if (it->pod_status != 200 && it->pod_status != 404)
		note_status(k, t, it->pod_status, why);
	else
		note_status(k, t, it->pod_status, "");
	for (int i = 0; i < KUBE_INFLIGHT; i++)
		if (k->inflight[i] == it) {
			item_maybe_finish(k, i);
			break;
		}
}

/* --- the worker --------------------------------------------------------------------- */

/* Calls ready() for every deadline passed; returns the next one. Without
 * any, the worker sleeps until new work wakes it (curl_multi_wakeup) or a
 * transfer needs it (curl_multi_poll also honours libcurl's own timeouts):
 * an idle filter costs no wake-ups. */
static int64_t deadlines(struct kube_client *k, int64_t now)
{
	int64_t next = now + 600000;
	int fire = 0;
	pthread_mutex_lock(&k->mu);
	for (struct kube_req *r = k->qhead; r; r = r->next)
		if (!r->signalled) {
			if (r->wait_until_ms <= now)
				r->signalled = fire = 1;
			else if (r->wait_until_ms < next)
				next = r->wait_until_ms;
		}
	pthread_mutex_unlock(&k->mu);
	for (int i = 0; i < KUBE_INFLIGHT; i++) {
		struct kube_req *r = k->inflight[i] ? k->inflight[i]->req : NULL;
		if (r && !r->signalled) {
			if (r->wait_until_ms <= now)
				r->signalled = fire = 1;
			else if (r->wait_until_ms < next)
				next = r->wait_until_ms;
		}
	}
	if (fire)
		signal_ready(k);
	return next;
}

static void *worker(void *arg)
{
	struct kube_client *k = arg;
	for (;;) {
		struct kube_req *take[KUBE_INFLIGHT];
		int slots[KUBE_INFLIGHT], ntake = 0;
		pthread_mutex_lock(&k->mu);
		if (k->stop) {
			pthread_mutex_unlock(&k->mu);
			break;
		}
		for (int i = 0; i < KUBE_INFLIGHT && k->qhead; i++) {
			if (k->inflight[i])
				continue;
			struct kube_req *r = k->qhead;
			k->qhead = r->next;
			if (!k->qhead)
				k->qtail = NULL;
			k->qlen--;
			r->next = NULL;
			slots[ntake] = i;
			take[ntake++] = r;
		}
		pthread_mutex_unlock(&k->mu);
		for (int i = 0; i < ntake; i++)
			item_start(k, slots[i], take[i]);

		int64_t now = clock_mono_ms();
		int64_t next = deadlines(k, now);
		int running = 0;
		curl_multi_perform(k->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(k->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct transfer *t = NULL;
			CURLcode rc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			if (t->item) {
				pod_done(k, t, rc);   /* frees t with its item */
			} else {
				struct transfer **pp = &k->ns_transfers;
				while (*pp && *pp != t)
					pp = &(*pp)->next;
				if (*pp)
					*pp = t->next;
				ns_done(k, t, rc);
				transfer_free(k, t);
			}
		}
		now = clock_mono_ms();
		long wait = next > now ? (long)(next - now) : 0;
		curl_multi_poll(k->multi, NULL, 0, (int)wait, NULL);
	}
	return NULL;
}

int kube_client_start(struct kube_client **out, const struct kube_client_conf *conf)
{
	pthread_once(&curl_once, curl_init_once);
	struct kube_client *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->conf = *conf;
	if (kube_cache_init(&k->cache, conf->cache_size) < 0) {
		free(k);
		return -ENOMEM;
	}
	pthread_mutex_init(&k->mu, NULL);
	if (!(k->multi = curl_multi_init())) {
		kube_client_stop(k);
		return -ENOMEM;
	}
	curl_multi_setopt(k->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)KUBE_INFLIGHT);
	int rc = pthread_create(&k->thread, NULL, worker, k);
	if (rc) {
		kube_client_stop(k);
		return -rc;
	}
	k->started = 1;
	*out = k;
	return 0;
}

void kube_client_stop(struct kube_client *k)
{
	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->mu);
		k->stop = 1;
		pthread_mutex_unlock(&k->mu);
		curl_multi_wakeup(k->multi);
		pthread_join(k->thread, NULL);
	}
	for (int i = 0; i < KUBE_INFLIGHT; i++)
		if (k->inflight[i])
			item_free(k, k->inflight[i]);
	while (k->ns_transfers) {
		struct transfer *t = k->ns_transfers;
		k->ns_transfers = t->next;
		transfer_free(k, t);
	}
	if (k->multi)
		curl_multi_cleanup(k->multi);
	while (k->qhead) {
		struct kube_req *r = k->qhead;
		k->qhead = r->next;
		free(r->key);
		free(r);
	}
	while (k->ns) {
		struct ns_entry *e = k->ns;
		k->ns = e->next;
		free(e->name);
		free(e->labels);
		free(e);
	}
	free(k->token.value);
	kube_cache_free(&k->cache);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
