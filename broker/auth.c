/* Kafka's SASL framing (KIP-43, KIP-152) around sasl.c's mechanisms.
 *
 *   SaslHandshake v0/v1   request: mechanism (string)
 *                         response: error_code, enabled mechanisms [string]
 *   SaslAuthenticate v0/v1 request: auth_bytes (bytes)
 *                         response: error_code, error_message (nullable
 *                         string), auth_bytes, v1+: session_lifetime_ms (i64)
 * After a SaslHandshake v0 the client sends its tokens bare, each with only
 * a 4-byte size prefix, and gets bare tokens back (the framing before
 * KIP-152); a v1 handshake means SaslAuthenticate requests. A failed
 * exchange answers SASL_AUTHENTICATION_FAILED (58) with a message and the
 * connection closes once that is sent (v1); in the bare framing there is no
 * way to say why, so the connection just closes, as Kafka does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "common/logging.h"

void broker_session_free(struct broker_session *s)
{
	if (s->conv) {
		sasl_conv_free(s->conv);
		free(s->conv);
		s->conv = NULL;
	}
}

static void handshake_response(struct kwriter *w, int16_t err, unsigned mechs)
{
	kw_i16(w, err);
	int n = 0;
	for (int m = SASL_MECH_PLAIN; m <= SASL_MECH_SCRAM_SHA_256; m++)
		n += !!(mechs & (1u << m));
	kw_i32(w, n);
	for (int m = SASL_MECH_PLAIN; m <= SASL_MECH_SCRAM_SHA_256; m++)
		if (mechs & (1u << m))
			kw_cstring(w, sasl_mech_name((enum sasl_mech)m));
}

enum req_result auth_handshake(struct broker *b, struct broker_session *s, int16_t v, struct kreader *r,
			       struct kwriter *w)
{
	struct kstr mech = kr_string(r);
	if (r->err)
		return REQ_CLOSE;
	unsigned offered = s && s->lst ? s->lst->mechs : 0;
	if (!offered) {
		handshake_response(w, KERR_UNSUPPORTED_SASL_MECHANISM, 0);
		return REQ_RESPOND;
	}
	if (s->authenticated || s->mech != SASL_MECH_NONE) {
		/* Re-authentication (KIP-368) is not offered. */
		LOG_WARN("broker", "%s: SaslHandshake after a handshake: closing", s->peer);
		handshake_response(w, KERR_ILLEGAL_SASL_STATE, offered);
		s->close_after = 1;
		return REQ_RESPOND;
	}
	enum sasl_mech m = mech.len > 0 ? sasl_mech_parse(mech.p, (size_t)mech.len) : SASL_MECH_NONE;
	if (m == SASL_MECH_NONE || !(offered & (1u << m))) {
		LOG_WARN("broker", "%s: SASL mechanism '%.*s' is not offered on listener %s: closing", s->peer,
			 mech.len > 0 && mech.len < 64 ? mech.len : 0, mech.p ? mech.p : "", s->lst->name);
		b->ctr.auth_failed++;
		handshake_response(w, KERR_UNSUPPORTED_SASL_MECHANISM, offered);
		s->close_after = 1;
		return REQ_RESPOND;
	}
	s->mech = m;
	s->legacy = v == 0;
	s->conv = calloc(1, sizeof(*s->conv));
	if (!s->conv)
		return REQ_CLOSE;
	sasl_conv_init(s->conv, m);
	handshake_response(w, KERR_NONE, offered);
	return REQ_RESPOND;
}

/* Runs one token through the mechanism. Returns the status; on SASL_DONE
 * the session is authenticated. */
static enum sasl_status step(struct broker *b, struct broker_session *s, const uint8_t *tok, size_t len,
			     struct kwriter *token, char *why, size_t whylen)
{
	char log_why[300];
	enum sasl_status st = sasl_step(s->conv, &s->lst->users, tok, len, token, why, whylen, log_why,
					sizeof(log_why));
	if (st == SASL_FAIL) {
		b->ctr.auth_failed++;
		LOG_WARN("broker", "%s: SASL %s authentication failed on listener %s: %s", s->peer,
			 sasl_mech_name(s->mech), s->lst->name, log_why);
	} else if (st == SASL_DONE) {
		b->ctr.auth_ok++;
		s->authenticated = 1;
		snprintf(s->principal, sizeof(s->principal), "%s", s->conv->user);
		LOG_DEBUG("broker", "%s: authenticated as %s (SASL %s)", s->peer, s->principal,
			  sasl_mech_name(s->mech));
	}
	if (st != SASL_CONTINUE)
		broker_session_free(s);
	return st;
}

enum req_result auth_authenticate(struct broker *b, struct broker_session *s, int16_t v, struct kreader *r,
				  struct kwriter *w)
{
	struct kstr tok = kr_bytes(r);
	if (r->err)
		return REQ_CLOSE;
	if (!s || !s->lst || !s->conv || s->legacy || s->authenticated) {
		kw_i16(w, KERR_ILLEGAL_SASL_STATE);
		kw_cstring(w, "SaslAuthenticate is only valid after a SaslHandshake v1 on a SASL listener");
		kw_bytes(w, NULL, 0);
		if (v >= 1)
			kw_i64(w, 0);
		if (s)
			s->close_after = 1;
		return REQ_RESPOND;
	}
	struct kwriter token;
	kw_init(&token);
	char why[200];
	enum sasl_status st = step(b, s, (const uint8_t *)tok.p, tok.len > 0 ? (size_t)tok.len : 0, &token, why,
				   sizeof(why));
	kw_i16(w, st == SASL_FAIL ? KERR_SASL_AUTHENTICATION_FAILED : KERR_NONE);
	kw_cstring(w, st == SASL_FAIL ? why : NULL);
	kw_bytes(w, token.buf, (int32_t)token.len);
	if (v >= 1)
		kw_i64(w, 0);  /* session_lifetime_ms: no expiry (KIP-368 not used) */
	kw_free(&token);
	if (st == SASL_FAIL)
		s->close_after = 1;
	return REQ_RESPOND;
}

enum req_result auth_legacy_token(struct broker *b, struct broker_session *s, const uint8_t *tok, size_t len,
				  struct kwriter *out)
{
	struct kwriter token;
	kw_init(&token);
	char why[200];
	enum sasl_status st = step(b, s, tok, len, &token, why, sizeof(why));
	if (st == SASL_FAIL) {
		kw_free(&token);
		return REQ_CLOSE;
	}
	s->legacy = st == SASL_CONTINUE;
	kw_reset(out);
	kw_i32(out, (int32_t)token.len);
	uint8_t *dst = token.len ? kw_reserve(out, token.len) : NULL;
	if (dst)
		memcpy(dst, token.buf, token.len);
	kw_free(&token);
	/* A mechanism whose last step sends nothing (PLAIN) still answers with
	 * an empty token in this framing: librdkafka waits for it. */
	return REQ_RESPOND;
}
