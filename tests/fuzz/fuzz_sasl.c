/* libFuzzer target: the broker's SASL parsers, everything a client sends
 * before it has authenticated: PLAIN tokens, SCRAM-SHA-256 client-first and
 * client-final messages (sasl.c), and the Kafka framing around them
 * (auth.c: ApiVersions, SaslHandshake v0/v1, SaslAuthenticate v0/v1, and
 * the bare tokens after a v0 handshake) as broker_handle_as() sees them on
 * a SASL listener.
 *
 * Input: the first byte picks the mode (0: one PLAIN token, 1: a SCRAM
 * exchange whose two client messages are split at the first '\n', 2+: a
 * sequence of size-prefixed frames on one connection). The users are
 * "user"/"pencil" (RFC 7677) with 1 PBKDF2 iteration so that runs are fast;
 * a fixed server nonce lets the corpus carry a complete exchange.
 *
 * Invariants: no crash, no out-of-bounds access or leak (ASan, UBSan); a
 * failed step leaves no token to send; a response frame's size prefix is
 * its length; once a connection is marked close_after nothing more is
 * handled (as the server loop does); authentication succeeds only with the
 * password. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/logging.h"

#define MAX_FRAMES 8

static struct broker b;
static struct broker_listener lst;

static size_t fixed_nonce(char *out, size_t n)
{
	(void)n;
	memcpy(out, "fuzzservernonce", 15);
	return 15;
}

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	logging_set_level(LOG_LEVEL_ERROR);
	sasl_set_nonce_source(fixed_nonce);
	lst.users.n = 1;
	lst.users.v = calloc(1, sizeof(*lst.users.v));
	snprintf(lst.users.v[0].name, sizeof(lst.users.v[0].name), "user");
	if (scram_cred_make("pencil", 6, (const uint8_t *)"salt", 4, 1, &lst.users.v[0].cred) < 0)
		abort();
	lst.mechs = 1u << SASL_MECH_PLAIN | 1u << SASL_MECH_SCRAM_SHA_256;
	snprintf(lst.name, sizeof(lst.name), "fuzz");
	snprintf(b.adv_host, sizeof(b.adv_host), "localhost");
	b.wake_fd = -1;
	b.cfg.auto_create_topics = 0;
}

static void one_step(enum sasl_mech m, const uint8_t *a, size_t al, const uint8_t *c, size_t cl)
{
	struct sasl_conv conv;
	sasl_conv_init(&conv, m);
	struct kwriter w;
	kw_init(&w);
	char why[200], log[300];
	enum sasl_status st = sasl_step(&conv, &lst.users, a, al, &w, why, sizeof(why), log, sizeof(log));
	if (st == SASL_FAIL && w.len)
		abort();
	if (st == SASL_DONE && strcmp(conv.user, "user"))
		abort();
	if (st == SASL_CONTINUE && c) {
		st = sasl_step(&conv, &lst.users, c, cl, &w, why, sizeof(why), log, sizeof(log));
		if (st == SASL_FAIL && w.len)
			abort();
		if (st == SASL_DONE && (strcmp(conv.user, "user") || w.len < 3 || memcmp(w.buf, "v=", 2)))
			abort();
	}
	kw_free(&w);
	sasl_conv_free(&conv);
}

static void frames(const uint8_t *data, size_t size)
{
	struct broker_session ses = { .peer = "fuzz", .lst = &lst };
	snprintf(ses.principal, sizeof(ses.principal), "%s", ACL_ANONYMOUS);
	struct kwriter out;
	kw_init(&out);
	size_t pos = 0;
	for (int f = 0; f < MAX_FRAMES && pos + 4 <= size; f++) {
		uint32_t n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 | (uint32_t)data[pos + 2] << 8 |
			     data[pos + 3];
		pos += 4;
		if (n > size - pos)
			n = (uint32_t)(size - pos);
		uint8_t *req = malloc(n ? n : 1);
		memcpy(req, data + pos, n);
		pos += n;
		struct req_wait wait;
		enum req_result r = broker_handle_as(&b, &ses, req, n, 0, 1000, &out, &wait);
		req_wait_free(&wait);
		free(req);
		if (r == REQ_RESPOND) {
			if (out.len < 4)
				abort();
			uint32_t fs = (uint32_t)out.buf[0] << 24 | (uint32_t)out.buf[1] << 16 |
				      (uint32_t)out.buf[2] << 8 | out.buf[3];
			if (fs != out.len - 4)
				abort();
		}
		/* Past authentication the handlers need topics and groups, which
		 * fuzz_kafka_request covers: stop here, as at a closed line. */
		if (r == REQ_CLOSE || ses.close_after || ses.authenticated)
			break;
	}
	if (ses.authenticated && strcmp(ses.principal, "user"))
		abort();
	broker_session_free(&ses);
	kw_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	if (mode == 0) {
		one_step(SASL_MECH_PLAIN, data, size, NULL, 0);
	} else if (mode == 1) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t al = nl ? (size_t)(nl - data) : size;
		one_step(SASL_MECH_SCRAM_SHA_256, data, al, nl ? nl + 1 : NULL, nl ? size - al - 1 : 0);
	} else {
		frames(data, size);
	}
	return 0;
}
