/* A small libcurl client shared by the HTTP-speaking outputs (elasticsearch,
 * http): one keep-alive connection per destination (one CURL easy handle,
 * reused, so libcurl keeps the TCP/TLS connection open between requests),
 * the `tls:` block applied to it, bounded capture of the response body,
 * Retry-After, gzip request bodies, secrets read from files, and an abort
 * that makes a blocking request return within about a second (for the
 * agent's shutdown). Everything here runs in the output's own thread except
 * httpc_abort, which may be called from any thread. */
#ifndef LOGSHIP_OUTPUTS_HTTPC_H
#define LOGSHIP_OUTPUTS_HTTPC_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/sbuf.h"
#include "outputs/out_tls.h"

/* Shutdown signalling for one output instance: set once, never cleared. */
struct httpc_abort {
	atomic_int flag;
	pthread_mutex_t mu;
	pthread_cond_t cond;
};
void httpc_abort_init(struct httpc_abort *a);
void httpc_abort_destroy(struct httpc_abort *a);
void httpc_abort(struct httpc_abort *a);
static inline int httpc_aborted(struct httpc_abort *a) { return atomic_load(&a->flag); }
/* Sleeps ms unless aborted: 0, or -ECANCELED. */
int httpc_wait_ms(struct httpc_abort *a, int64_t ms);

struct httpc_opts {
	const struct out_tls *tls;       /* applied to https:// URLs */
	const char *user, *password;     /* basic auth when user is set */
	int64_t timeout_ms;              /* whole request; connect within min(this, 10s) */
	struct httpc_abort *abort;
};

/* One destination: a base URL and its keep-alive handle. */
struct httpc_conn {
	CURL *curl;
	char *url;                       /* base URL as configured (normalized) */
	char *connect_to;                /* tls.server_name: "name:port:host:port" */
	char *target;                    /* url with the host replaced by server_name */
	struct curl_slist *connect_list;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc_resp {
	long status;                     /* 0: no HTTP response at all */
	struct sbuf body;                /* at most max_body bytes of it */
	size_t max_body;
	int truncated;                   /* the body was longer than max_body */
	int stop_at_max;                 /* abort the transfer when truncated */
	int64_t retry_after_ms;          /* -1: no Retry-After header */
	char error[CURL_ERROR_SIZE + 64];/* transport error text when status == 0 */
};

/* "host:9200" -> "http://host:9200"; strips trailing '/'. malloc'd or NULL. */
char *httpc_normalize_url(const char *url);
/* Sets up conn for base URL url (no I/O). 0 or -errno. */
int httpc_conn_init(struct httpc_conn *c, const char *url, const struct httpc_opts *o);
void httpc_conn_free(struct httpc_conn *c);

/* One request: method ("POST", "PUT"), url_suffix appended to the base URL
 * (may be ""), headers (may be NULL), body. Fills resp (which the caller
 * zeroes once and frees with httpc_resp_free; it is reset here). Returns 0
 * when an HTTP status came back (whatever it is), -ECANCELED when aborted,
 * else a negative errno-like value with resp->error set. */
int httpc_perform(struct httpc_conn *c, const struct httpc_opts *o, const char *method,
		  const char *url_suffix, struct curl_slist *headers, const void *body, size_t len,
		  struct httpc_resp *resp);
void httpc_resp_free(struct httpc_resp *r);

/* Parses a Retry-After value: delta-seconds or an HTTP-date. Milliseconds
 * from now (>= 0), or -1 when it cannot be read. */
int64_t httpc_parse_retry_after(const char *v, int64_t now_s);

/* gzip (RFC 1952) of src[0..n) into out (appended). 0 or -ENOMEM/-EIO. */
int httpc_gzip(const void *src, size_t n, struct sbuf *out);

/* Reads a secret from a file: the contents up to the first newline (so that
 * `echo secret > file` works). malloc'd into *out; 0 or -errno. Bounded to
 * 64 KiB. */
int httpc_read_secret(const char *path, char **out);

/* libcurl's process-wide init, once (safe to call from every module init). */
void httpc_global_init(void);

#endif
