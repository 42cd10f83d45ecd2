/* The server side of the SASL mechanisms the broker offers, PLAIN (RFC 4616)
 * and SCRAM-SHA-256 (RFC 5802, RFC 7677), as conversations of tokens,
 * independent of how Kafka frames them (auth.c does that).
 *
 * Every token is untrusted: lengths are bounded (SASL_TOKEN_MAX), every field
 * is checked before use, and a bad token ends the conversation with a
 * failure, never a crash. A failed login says "invalid credentials" whether
 * the user is unknown or the password wrong; for SCRAM an unknown user even
 * gets a plausible salt (derived from a per-process secret), so neither
 * answers nor timing tell which names exist. */
#ifndef LOGSHIP_BROKER_SASL_H
#define LOGSHIP_BROKER_SASL_H
#include <stddef.h>
#include <stdint.h>

#include "common/kafka_codec.h"
#include "broker/scram.h"

#define SASL_TOKEN_MAX 8192

enum sasl_mech { SASL_MECH_NONE = 0, SASL_MECH_PLAIN = 1, SASL_MECH_SCRAM_SHA_256 = 2 };
/* "PLAIN" / "SCRAM-SHA-256" -> enum, or SASL_MECH_NONE. */
enum sasl_mech sasl_mech_parse(const char *name, size_t len);
const char *sasl_mech_name(enum sasl_mech m);

enum sasl_status { SASL_CONTINUE, SASL_DONE, SASL_FAIL };

struct sasl_conv {
	enum sasl_mech mech;
	int step;                          /* tokens received */
	char user[USER_NAME_MAX + 1];      /* once known */
	/* SCRAM between its two client messages: */
	char gs2[USER_NAME_MAX + 16];      /* "n,," or "n,a=NAME," */
	char *client_first_bare;
	char *server_first;
	char nonce[64 + 32 + 1];           /* client nonce (<= 64) + server nonce (32) */
	struct scram_cred cred;
	int known;                         /* the user exists */
};

void sasl_conv_init(struct sasl_conv *c, enum sasl_mech mech);
void sasl_conv_free(struct sasl_conv *c);
/* Feeds the client's next token. SASL_CONTINUE: *out (reset first) holds
 * the challenge to send; SASL_DONE: authenticated as c->user, *out holds the
 * last server token (may be empty); SASL_FAIL: why holds a message for the
 * client (never which part was wrong) and log_why one for the log. */
enum sasl_status sasl_step(struct sasl_conv *c, const struct users *users, const uint8_t *in, size_t len,
			   struct kwriter *out, char *why, size_t whylen, char *log_why, size_t logwhylen);

/* The SCRAM server's nonce part comes from here: fn writes up to n (32)
 * printable characters other than ',' and returns how many. The default
 * draws them from RAND_bytes; unit tests set a fixed one to replay RFC
 * 7677's exchange. NULL restores the default. */
void sasl_set_nonce_source(size_t (*fn)(char *out, size_t n));

#endif
