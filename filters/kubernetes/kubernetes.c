/* The `kubernetes` filter: adds a pod's labels, annotations (opt-in), its
 * namespace's labels, node name, uid, IP, controller (Deployment, DaemonSet,
 * StatefulSet, Job, CronJob) and container image to the events of its
 * containers, from the Kubernetes API server. The tail input names the pod
 * (kubernetes.namespace, kubernetes.pod.name, container.id from the
 * /var/log/containers file name); events without kubernetes.pod.name pass
 * untouched after one field lookup.
 *
 * `apply` never blocks: a known pod is enriched from the cache; a pod never
 * seen is fetched in the background (kube_client.c) while its events wait up
 * to wait_timeout (-EAGAIN: the input pauses as on a full ring); after that,
 * or at once while the API server is failing, they go on without metadata
 * and are counted as `unenriched`. See kube.h for the parts. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/event.h"
#include "agent/module.h"
#include "common/clock.h"
#include "common/logging.h"
#include "filters/kubernetes/kube.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_conf {
	char *kube_url, *token_file, *ca_file;
	int tls_verify, annotations, namespace_labels, dedot;
	int64_t cache_ttl, negative_ttl, namespace_ttl, retry_interval, wait_timeout;
	int64_t request_timeout, error_log_interval, cache_size, max_pending;
};

#define DAY (24 * 3600 * 1000LL)
#define KEY(n, t, f, d, lo, hi, doc) { n, t, offsetof(struct kube_conf, f), d, 0, NULL, lo, hi, NULL, doc }
static const struct cfg_key kube_keys[] = {
	KEY("kube_url", CFG_T_STRING, kube_url, NULL, 0, 0,
	    "The API server. Default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT "
	    "(set in every pod), else https://kubernetes.default.svc:443."),
	KEY("token_file", CFG_T_STRING, token_file, SA_DIR "/token", 0, 0,
	    "Bearer token file (the service account's). Re-read whenever it changes: bound tokens rotate."),
	KEY("ca_file", CFG_T_STRING, ca_file, SA_DIR "/ca.crt", 0, 0,
	    "CA bundle the API server's certificate is checked against (the system's CAs if the default is absent)."),
	KEY("tls_verify", CFG_T_BOOL, tls_verify, "true", 0, 0,
	    "Verify the API server's certificate and host name."),
	KEY("annotations", CFG_T_BOOL, annotations, "false", 0, 0,
	    "Also add the pod's annotations as kubernetes.annotations.*."),
	KEY("namespace_labels", CFG_T_BOOL, namespace_labels, "true", 0, 0,
	    "Also add the namespace's labels as kubernetes.namespace_labels.* (needs RBAC get on namespaces)."),
	KEY("dedot", CFG_T_BOOL, dedot, "true", 0, 0,
	    "Replace '.' in label and annotation keys with '_' (app.kubernetes.io/name -> app_kubernetes_io/name), "
	    "so that Elasticsearch does not read them as nested objects."),
	KEY("cache_ttl", CFG_T_DURATION, cache_ttl, "5m", 1000, 30 * DAY,
	    "How long a pod's metadata is used before it is fetched again (in the background: events never wait for a refresh)."),
	KEY("cache_size", CFG_T_INT, cache_size, "4096", 1, 1 << 24,
	    "Pods remembered; the least recently used is forgotten beyond."),
	KEY("negative_ttl", CFG_T_DURATION, negative_ttl, "30s", 100, DAY,
	    "How long a pod the API server does not know (404) is remembered as gone."),
	KEY("namespace_ttl", CFG_T_DURATION, namespace_ttl, "5m", 1000, 30 * DAY,
	    "How long a namespace's labels are used before they are fetched again."),
	KEY("retry_interval", CFG_T_DURATION, retry_interval, "5s", 100, DAY,
	    "After a failed request (timeout, 401, 403, 5xx), when the pod is asked again; meanwhile "
	    "events of pods never seen go on at once."),
	KEY("wait_timeout", CFG_T_DURATION, wait_timeout, "250ms", 0, 60000,
	    "How long events of a pod never seen wait for its metadata; then they go on without it "
	    "(counted as unenriched) and the fetch goes on in the background. 0 = never wait."),
	KEY("request_timeout", CFG_T_DURATION, request_timeout, "5s", 100, 600000,
	    "Timeout of one request to the API server, connecting included."),
	KEY("max_pending", CFG_T_INT, max_pending, "1024", 1, 1 << 20,
	    "Pods waiting to be fetched; beyond it, events of new pods go on at once, unenriched."),
	KEY("error_log_interval", CFG_T_DURATION, error_log_interval, "60s", 0, DAY,
	    "401/403 and other API failures are logged at most once per interval each (with a count of the rest)."),
	{ .name = NULL },
};

struct kf {
	struct filter *f;
	const struct kube_conf *c;
	struct kube_client *client;
	struct kube_policy policy;
	char *url;
	_Atomic uint64_t *enriched, *unenriched;
};

static int kube_check(const void *conf, const struct cfg_node *map, struct cfg_error *err)
{
	const struct kube_conf *c = conf;
	if (c->kube_url && strncmp(c->kube_url, "https://", 8) != 0 && strncmp(c->kube_url, "http://", 7) != 0)
		return cfg_fail(err, cfg_at(map, "kube_url"), "kube_url must start with https:// (or http://): %s",
				c->kube_url);
	if (c->token_file && !*c->token_file)
		return cfg_fail(err, cfg_at(map, "token_file"), "token_file must not be empty");
	return 0;
}

/* The API server's base URL without a trailing '/'. */
static char *base_url(const struct kube_conf *c)
{
	struct sbuf b = { 0 };
	if (c->kube_url) {
		sbuf_puts(&b, c->kube_url);
		while (b.len && b.p[b.len - 1] == '/')
			b.len--;
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
		if (host && *host)
			sbuf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
				    port && *port ? port : "443");
		else
			sbuf_puts(&b, "https://kubernetes.default.svc:443");
	}
	if (b.err) {
		sbuf_free(&b);
		return NULL;
	}
	char *s = strdup(sbuf_cstr(&b));
	sbuf_free(&b);
	return s;
}

static void on_ready(void *arg)
{
	filter_ready(arg);
}

static void kube_destroy(void *state)
{
	struct kf *k = state;
	if (!k)
		return;
	kube_client_stop(k->client);
	free(k->url);
	free(k);
}

static int kube_init(struct filter *f, const void *conf, void **state)
{
	const struct kube_conf *c = conf;
	struct kf *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->f = f;
	k->c = c;
	k->policy = (struct kube_policy){
		.ttl_ms = c->cache_ttl, .negative_ttl_ms = c->negative_ttl, .retry_ms = c->retry_interval,
		.wait_ms = c->wait_timeout, .min_refresh_ms = 5000,
	};
	k->enriched = filter_counter(f, "enriched");
	k->unenriched = filter_counter(f, "unenriched");
	if (!(k->url = base_url(c))) {
		free(k);
		return -ENOMEM;
	}
	/* A CA file named in the config must be there; the default one is
	 * absent outside a pod, and then the system's CAs are used. */
	const char *ca = c->ca_file;
	if (ca && access(ca, R_OK) < 0) {
		if (strcmp(ca, SA_DIR "/ca.crt") != 0) {
			LOG_ERROR(filter_name(f), "ca_file %s: %s", ca, strerror(errno));
			kube_destroy(k);
			return -ENOENT;
		}
		LOG_INFO(filter_name(f), "no %s: checking %s against the system's CAs", ca, k->url);
		ca = NULL;
	}
	struct kube_client_conf kc = {
		.url = k->url,
		.token_file = c->token_file,
		.ca_file = ca,
		.tls_verify = c->tls_verify,
		.request_timeout_ms = c->request_timeout,
		.namespace_labels = c->namespace_labels,
		.namespace_ttl_ms = c->namespace_ttl,
		.error_log_interval_ms = c->error_log_interval,
		.max_queue = (size_t)c->max_pending,
		.cache_size = (size_t)c->cache_size,
		.json = { .annotations = c->annotations, .dedot = c->dedot },
		.policy = k->policy,
		.name = filter_name(f),
		.ready = on_ready,
		.ready_arg = f,
		.requests = filter_counter(f, "kube_requests"),
		.errors = filter_counter(f, "kube_errors"),
	};
	int rc = kube_client_start(&k->client, &kc);
	if (rc < 0) {
		LOG_ERROR(filter_name(f), "cannot start the API client: %s", strerror(-rc));
		kube_destroy(k);
		return rc;
	}
	LOG_INFO(filter_name(f), "API server %s (token %s)", k->url, c->token_file ? c->token_file : "none");
	*state = k;
	return 0;
}

/* Pod names are DNS subdomains, namespaces DNS labels (RFC 1123, lower
 * case): checked because they go into a URL path. */
static int dns_name(const char *s, size_t n, int dots)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || (dots && ch == '.')))
			return 0;
	}
	return 1;
}

static void count(_Atomic uint64_t *c)
{
	if (c)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static int kube_apply(void *state, struct event *ev)
{
	struct kf *k = state;
	char pod[254], ns[64], key[320], cid[72], cname[256];
	ssize_t pn = event_get_str(ev, "kubernetes.pod.name", pod, sizeof(pod));
	if (pn == -ENOENT)
		return FILTER_KEEP;        /* not a container's event */
	ssize_t nn = event_get_str(ev, "kubernetes.namespace", ns, sizeof(ns));
	if (pn <= 0 || nn <= 0 || !dns_name(pod, (size_t)pn, 1) || !dns_name(ns, (size_t)nn, 0)) {
		count(k->unenriched);      /* names no API server could know */
		return FILTER_KEEP;
	}
	ssize_t cn = event_get_str(ev, "container.id", cid, sizeof(cid));
	size_t klen = (size_t)snprintf(key, sizeof(key), "%s/%s", ns, pod);

	int64_t now = clock_mono_ms();
	struct kube_cache *cache = kube_client_lock(k->client);
	int fetch;
	struct kube_entry *e;
	enum kube_verdict v = kube_cache_decide(cache, key, klen, now, &k->policy, cn > 0 ? cid : NULL,
						cn > 0 ? (size_t)cn : 0, kube_client_down(k->client, now),
						&fetch, &e);
	if (fetch && kube_client_queue(k->client, key, klen, e && e->state == KUBE_PENDING ? e->wait_until_ms : 0) < 0)
		v = KUBE_USE;              /* queue full: the entry is FAILED now, go on */
	if (v == KUBE_WAIT) {
		kube_client_unlock(k->client);
		return -EAGAIN;
	}
	const struct kube_meta *m = e ? e->meta : NULL;
	int rc = 0;
	if (m) {
		/* One splice for every kubernetes.* field (see struct kube_meta);
		 * measured (callgrind) cheaper in this order than image first. */
		if (m->obj)
			rc = event_merge(ev, "kubernetes", m->obj, m->obj_len);
		ssize_t nlen = event_get_str(ev, "kubernetes.container.name", cname, sizeof(cname));
		const struct kube_container *kc = nlen > 0 ? kube_meta_container(m, cname, (size_t)nlen) : NULL;
		if (rc == 0 && kc)
			rc = event_set_json(ev, "container.image.name", kc->image_json, kc->image_len);
	}
	kube_client_unlock(k->client);
	if (rc < 0)
		return rc;
	count(m ? k->enriched : k->unenriched);
	return FILTER_KEEP;
}

const struct filter_module filter_kubernetes = {
	.type = "kubernetes",
	.flags = FILTER_MAY_WAIT,
	.doc = "Adds pod labels, annotations (opt-in), namespace labels, node, uid, IP, controller "
	       "(kubernetes.deployment.name ...) and container image from the Kubernetes API server to "
	       "events carrying kubernetes.namespace and kubernetes.pod.name (the tail input sets them "
	       "from /var/log/containers). Cached per pod; never blocks: events of a new pod wait at "
	       "most wait_timeout, then go on unenriched (counted).",
	.keys = kube_keys,
	.conf_size = sizeof(struct kube_conf),
	.check = kube_check,
	.init = kube_init,
	.apply = kube_apply,
	.destroy = kube_destroy,
};
