/* The kubernetes filter's parts, shared by its files:
 *   kube_json.c    the API server's Pod and Namespace JSON -> struct kube_meta
 *                  (the event fields, rendered once per pod as JSON text)
 *   kube_cache.c   the per-pod cache: TTL, LRU bound, negative (404) and
 *                  failed entries, and the decision "use / wait / fetch"
 *   kube_client.c  the API client: one background thread with libcurl's
 *                  multi interface, a bounded de-duplicated request queue,
 *                  the service-account token (re-read when it rotates)
 *   kubernetes.c   the filter module: config, and `apply` on the main loop
 *
 * Threads. `apply` runs on the agent's event loop and never blocks: it only
 * looks at the cache (a mutex held for a hash lookup and a few copies) and
 * queues requests. The client thread does every network wait; it takes the
 * same mutex only to store a finished result. Parsing happens outside it.
 *
 * None of these parts depends on the filter framework (agent/event.h): the
 * client reports "an event may go on now" through a callback, so the JSON
 * reader and the cache are unit-tested alone (tests/unit/test_kube_*.c). */
#ifndef LOGSHIP_FILTERS_KUBERNETES_KUBE_H
#define LOGSHIP_FILTERS_KUBERNETES_KUBE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

/* --- metadata (kube_json.c) ------------------------------------------------- */

/* One event field: its dotted path and its value as JSON text. */
struct kube_field {
	char *path;
	char *json;
	size_t len;
};

/* A container of the pod: name -> image (for container.image.name). */
struct kube_container {
	char *name;
	char *image_json;              /* the image as a JSON string, quotes included */
	size_t image_len;
};

#define KUBE_MAX_FIELDS 16

/* What one pod contributes to its events, ready to copy: no parsing on the
 * hot path. Immutable once in the cache (replaced whole on refresh).
 * f[] lists the fields one by one (dotted paths under "kubernetes."); `obj`
 * is the same as one JSON object to merge into the event's "kubernetes"
 * object in a single splice (event_merge), 4-5x cheaper than a write per
 * field. It holds "pod" whole (name included: a merge replaces members). */
struct kube_meta {
	struct kube_field f[KUBE_MAX_FIELDS];
	size_t n;
	char *obj;                     /* kube_meta_render() */
	size_t obj_len;
	struct kube_container *c;
	size_t nc;
	char **ids;                    /* container IDs from status (without "containerd://") */
	size_t nids;
};

struct kube_json_opts {
	int annotations;               /* copy metadata.annotations */
	int dedot;                     /* '.' in label/annotation keys -> '_' */
};

/* Reads a Pod object (GET /api/v1/namespaces/{ns}/pods/{pod}). Returns a new
 * kube_meta, or NULL with a one-line reason in err (not JSON, not a Pod). */
struct kube_meta *kube_json_pod(const char *body, size_t len, const struct kube_json_opts *o,
				char *err, size_t errsz);
/* Reads a Namespace object: its labels as one JSON object text (malloc'd,
 * "{}" when it has none), or NULL with a reason in err. */
char *kube_json_namespace_labels(const char *body, size_t len, int dedot, char *err, size_t errsz);
/* Adds a field to m (copies path and json); 0, -ENOSPC, -ENOMEM. Then
 * kube_meta_render() again. */
int kube_meta_add(struct kube_meta *m, const char *path, const char *json, size_t len);
/* (Re)builds m->obj from the "kubernetes.*" fields. 0, -EINVAL, -ENOMEM. */
int kube_meta_render(struct kube_meta *m);
/* The field at path, or NULL. */
const struct kube_field *kube_meta_get(const struct kube_meta *m, const char *path);
/* The image (JSON string) of the named container, or NULL. */
const struct kube_container *kube_meta_container(const struct kube_meta *m, const char *name, size_t len);
/* Whether the container ID is one of the pod's (known from its status). */
int kube_meta_has_id(const struct kube_meta *m, const char *id, size_t len);
void kube_meta_free(struct kube_meta *m);

/* The owner heuristics, exposed for the tests: a ReplicaSet's Deployment is
 * its name without the "-<pod-template-hash>" suffix; a Job's CronJob is its
 * name without a "-<scheduled minutes>" suffix (digits only, >= 8 of them).
 * Copy the owner's name into out (cap bytes); 0 if there is no such owner. */
int kube_deployment_of(const char *rs, const char *template_hash, char *out, size_t cap);
int kube_cronjob_of(const char *job, char *out, size_t cap);

/* --- cache (kube_cache.c) ----------------------------------------------------- */

enum kube_state {
	KUBE_PENDING,                  /* first fetch queued or in flight, nothing known */
	KUBE_READY,                    /* meta valid until expires_ms, then refreshed */
	KUBE_GONE,                     /* the API said 404: no pod; until expires_ms */
	KUBE_FAILED,                   /* the last fetch failed; retried after expires_ms */
};

struct kube_entry {
	char *key;                     /* "namespace/pod" */
	uint64_t hash;
	enum kube_state state;
	struct kube_meta *meta;        /* READY; FAILED/PENDING may keep the stale one */
	int64_t expires_ms;
	int64_t wait_until_ms;         /* PENDING: events wait until then */
	int64_t fetched_ms;            /* when meta was fetched (0: never) */
	int queued;                    /* a request for it is queued or in flight */
	struct kube_entry *hnext;      /* hash chain */
	struct kube_entry *prev, *next;/* LRU list, most recent first */
};

struct kube_policy {
	int64_t ttl_ms;                /* READY entries are refreshed after this */
	int64_t negative_ttl_ms;       /* GONE entries are asked again after this */
	int64_t retry_ms;              /* FAILED entries are asked again after this */
	int64_t wait_ms;               /* how long events of an unknown pod wait */
	int64_t min_refresh_ms;        /* an unknown container ID refreshes at most this often */
};

struct kube_cache {
	struct kube_entry **buckets;
	size_t nbuckets;
	size_t n, cap;
	struct kube_entry *head, *tail;
	uint64_t evictions;
};

enum kube_verdict {
	KUBE_USE,                      /* go on: with entry->meta if set, else unenriched */
	KUBE_WAIT,                     /* the event waits (-EAGAIN) */
};

int kube_cache_init(struct kube_cache *c, size_t cap);
void kube_cache_free(struct kube_cache *c);
/* The entry for key (moved to the front of the LRU list), or NULL. */
struct kube_entry *kube_cache_find(struct kube_cache *c, const char *key, size_t len);
/* Decides for an event of pod `key` at time now. Creates the entry on a miss
 * (evicting the least recently used one at the bound). *fetch is set when
 * the caller must queue a request for key (then entry->queued is set); `cid`
 * is the event's container ID (may be NULL): one the cached pod does not list
 * means the pod was recreated under the same name (a StatefulSet member), so
 * it is refreshed in the background. `no_wait` (the API server is failing)
 * lets a miss go on at once. *out receives the entry (NULL only on ENOMEM). */
enum kube_verdict kube_cache_decide(struct kube_cache *c, const char *key, size_t len, int64_t now,
				    const struct kube_policy *p, const char *cid, size_t cid_len,
				    int no_wait, int *fetch, struct kube_entry **out);
/* Stores a fetch's outcome: status 200 with meta (taken), 404, or anything
 * else (0 = transport error) as a failure that keeps stale meta. The entry is
 * created if it was evicted meanwhile. Returns 1 if events were waiting for it
 * (the caller wakes the pipeline), 0 otherwise. */
int kube_cache_complete(struct kube_cache *c, const char *key, size_t len, int64_t now,
			const struct kube_policy *p, long status, struct kube_meta *meta);
/* Forgets that key is queued (its request could not be queued after all) and
 * marks it FAILED so that it is asked again after retry_ms. */
void kube_cache_unqueue(struct kube_cache *c, const char *key, size_t len, int64_t now,
			const struct kube_policy *p);

/* --- client (kube_client.c) ---------------------------------------------------- */

struct kube_client_conf {
	const char *url;               /* "https://host:port", no trailing slash */
	const char *token_file;        /* may be absent: then no Authorization */
	const char *ca_file;           /* NULL: the system's CAs */
	int tls_verify;
	int64_t request_timeout_ms;
	int namespace_labels;          /* also GET the namespace */
	int64_t namespace_ttl_ms;
	int64_t error_log_interval_ms; /* 401/403 and other failures: one log line per */
	size_t max_queue;              /* pending pods; beyond it misses go on at once */
	size_t cache_size;             /* pods remembered (LRU beyond) */
	struct kube_json_opts json;
	struct kube_policy policy;
	const char *name;              /* the filter's name, for log lines */
	void (*ready)(void *arg);      /* thread-safe "offer waiting events again" */
	void *ready_arg;
	_Atomic uint64_t *requests;    /* counters (may be NULL) */
	_Atomic uint64_t *errors;
};

struct kube_client;

/* Starts the worker thread. 0 or -errno. */
int kube_client_start(struct kube_client **out, const struct kube_client_conf *conf);
/* Stops the thread (in-flight requests are abandoned) and frees everything. */
void kube_client_stop(struct kube_client *k);
/* The cache and its lock: the filter decides under the lock with
 * kube_cache_decide, then calls kube_client_queue (lock still held) when it
 * says fetch. Returns 0, or -ENOSPC when the queue is full (the entry was
 * marked FAILED: the event goes on unenriched). */
struct kube_cache *kube_client_lock(struct kube_client *k);
void kube_client_unlock(struct kube_client *k);
int kube_client_queue(struct kube_client *k, const char *key, size_t len, int64_t wait_until_ms);
/* 1 while the API server is failing (transport errors, 5xx, 401, 403):
 * events of unknown pods then go on without waiting. Lock held. */
int kube_client_down(struct kube_client *k, int64_t now);

#endif
