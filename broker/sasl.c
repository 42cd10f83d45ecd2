/* SASL PLAIN and SCRAM-SHA-256, server side (see sasl.h). The SCRAM grammar
 * followed is RFC 5802 section 7:
 *   client-first  = gs2-header client-first-bare
 *   gs2-header    = ("n" / "y") "," ["a=" saslname] ","     (no "p=": no channel binding)
 *   client-first-bare = "n=" saslname ",r=" c-nonce ["," extensions]
 *   server-first  = "r=" c-nonce s-nonce ",s=" salt ",i=" iterations
 *   client-final  = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(proof)
 *   server-final  = "v=" base64(ServerSignature)
 * saslname escapes ',' as "=2C" and '=' as "=3D". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "broker/sasl.h"

#define NONCE_MAX 64   /* client nonce bytes accepted (librdkafka: 32) */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FAKE_ITER SCRAM_ITER_DEFAULT   /* what --add-user writes by default */
#else
#define FAKE_ITER 1                    /* fuzzing: PBKDF2 would be all it measures */
#endif

static size_t rand_nonce(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];
	if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
		abort();  /* no randomness: nothing safe to do */
	for (size_t i = 0; i < n; i++)
		out[i] = set[r[i] & 63];
	return n;
}

static size_t (*nonce_source)(char *out, size_t n) = rand_nonce;

void sasl_set_nonce_source(size_t (*fn)(char *out, size_t n))
{
	nonce_source = fn ? fn : rand_nonce;
}

enum sasl_mech sasl_mech_parse(const char *name, size_t len)
{
	if (len == 5 && !memcmp(name, "PLAIN", 5))
		return SASL_MECH_PLAIN;
	if (len == 13 && !memcmp(name, "SCRAM-SHA-256", 13))
		return SASL_MECH_SCRAM_SHA_256;
	return SASL_MECH_NONE;
}

const char *sasl_mech_name(enum sasl_mech m)
{
	return m == SASL_MECH_PLAIN ? "PLAIN" : m == SASL_MECH_SCRAM_SHA_256 ? "SCRAM-SHA-256" : "NONE";
}

void sasl_conv_init(struct sasl_conv *c, enum sasl_mech mech)
{
	memset(c, 0, sizeof(*c));
	c->mech = mech;
}

void sasl_conv_free(struct sasl_conv *c)
{
	free(c->client_first_bare);
	free(c->server_first);
	OPENSSL_cleanse(c, sizeof(*c));
}

#define FAIL(...) do { snprintf(log_why, logwhylen, __VA_ARGS__); goto fail; } while (0)

/* A stand-in credential for a user that does not exist, stable per name for
 * the life of the process (so probing twice gives the same salt). */
static void fake_cred(const char *name, struct scram_cred *c)
{
	static uint8_t secret[32];
	static int have;
	if (!have) {
		if (RAND_bytes(secret, sizeof(secret)) != 1)
			abort();
		have = 1;
	}
	uint8_t h[SCRAM_KEY_LEN];
	scram_hmac(secret, sizeof(secret), name, strlen(name), h);
	memset(c, 0, sizeof(*c));
	memcpy(c->salt, h, 24);
	c->salt_len = 24;
	c->iterations = FAKE_ITER;
	scram_hmac(h, sizeof(h), "stored", 6, c->stored_key);
}

/* Decodes a saslname ("=2C" ',' and "=3D" '=') of len bytes into out. */
static int saslname(const char *s, size_t len, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == ',')
			return -1;
		if (ch == '=') {
			if (len - i < 3)
				return -1;
			if (s[i + 1] == '2' && s[i + 2] == 'C')
				ch = ',';
			else if (s[i + 1] == '3' && s[i + 2] == 'D')
				ch = '=';
			else
				return -1;
			i += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = ch;
	}
	out[o] = 0;
	return users_name_ok(out, o) ? 0 : -1;
}

static enum sasl_status plain(struct sasl_conv *c, const struct users *users, const uint8_t *in, size_t len,
			      char *log_why, size_t logwhylen)
{
	const char *p = (const char *)in, *end = p + len;
	const char *z1 = memchr(p, 0, len);
	const char *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
	if (!z2)
		FAIL("PLAIN token is not authzid NUL authcid NUL password");
	size_t azl = (size_t)(z1 - p), ul = (size_t)(z2 - z1 - 1), pwl = (size_t)(end - z2 - 1);
	if (!users_name_ok(z1 + 1, ul))
		FAIL("PLAIN: bad user name");
	memcpy(c->user, z1 + 1, ul);
	c->user[ul] = 0;
	if (azl && (azl != ul || memcmp(p, z1 + 1, ul)))
		FAIL("PLAIN: user %s asked to act as another identity", c->user);
	const struct sasl_user *u = users_find(users, z1 + 1, ul);
	if (!u) {
		struct scram_cred dummy;  /* the same work as a real check */
		fake_cred(c->user, &dummy);
		scram_password_ok(&dummy, z2 + 1, pwl);
		FAIL("PLAIN: unknown user %s", c->user);
	}
	if (!scram_password_ok(&u->cred, z2 + 1, pwl))
		FAIL("PLAIN: wrong password for user %s", c->user);
	return SASL_DONE;
fail:
	return SASL_FAIL;
}

static enum sasl_status scram_first(struct sasl_conv *c, const struct users *users, const uint8_t *in, size_t len,
				    struct kwriter *out, char *log_why, size_t logwhylen)
{
	const char *p = (const char *)in, *end = p + len;
	if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
		if (len && p[0] == 'p')
			FAIL("SCRAM: channel binding asked for (not supported)");
		FAIL("SCRAM: client-first-message does not start with a gs2 header");
	}
	const char *q = p + 2;
	const char *comma = memchr(q, ',', (size_t)(end - q));
	if (!comma)
		FAIL("SCRAM: gs2 header not terminated");
	char authzid[USER_NAME_MAX + 1] = "";
	if (comma > q) {
		if (comma - q < 3 || q[0] != 'a' || q[1] != '=' ||
		    saslname(q + 2, (size_t)(comma - q - 2), authzid, sizeof(authzid)) < 0)
			FAIL("SCRAM: bad authzid in gs2 header");
	}
	size_t gl = (size_t)(comma + 1 - p);
	if (gl >= sizeof(c->gs2))
		FAIL("SCRAM: gs2 header too long");
	memcpy(c->gs2, p, gl);
	c->gs2[gl] = 0;
	const char *bare = comma + 1;
	if (end - bare >= 2 && bare[0] == 'm' && bare[1] == '=')
		FAIL("SCRAM: mandatory extension not supported");
	if (end - bare < 2 || bare[0] != 'n' || bare[1] != '=')
		FAIL("SCRAM: client-first-message lacks n=");
	const char *un = bare + 2;
	const char *uc = memchr(un, ',', (size_t)(end - un));
	if (!uc || saslname(un, (size_t)(uc - un), c->user, sizeof(c->user)) < 0)
		FAIL("SCRAM: bad user name");
	if (authzid[0] && strcmp(authzid, c->user))
		FAIL("SCRAM: user %s asked to act as another identity", c->user);
	const char *r = uc + 1;
	if (end - r < 3 || r[0] != 'r' || r[1] != '=')
		FAIL("SCRAM: client-first-message lacks r=");
	r += 2;
	const char *rend = memchr(r, ',', (size_t)(end - r));
	if (!rend)
		rend = end;  /* anything after is an extension: ignored */
	size_t nl = (size_t)(rend - r);
	if (nl == 0 || nl > NONCE_MAX)
		FAIL("SCRAM: client nonce of %zu bytes (1..%d)", nl, NONCE_MAX);
	for (size_t i = 0; i < nl; i++)
		if (r[i] < 0x21 || r[i] > 0x7e)
			FAIL("SCRAM: client nonce has a non-printable byte");
	const struct sasl_user *u = users_find(users, c->user, strlen(c->user));
	c->known = u != NULL;
	if (u)
		c->cred = u->cred;
	else
		fake_cred(c->user, &c->cred);
	memcpy(c->nonce, r, nl);
	size_t sn = nonce_source(c->nonce + nl, 32);
	c->nonce[nl + (sn > 32 ? 32 : sn)] = 0;
	char salt[4 * SCRAM_SALT_MAX / 3 + 8];
	b64_encode(c->cred.salt, c->cred.salt_len, salt);
	char sf[256];
	int n = snprintf(sf, sizeof(sf), "r=%s,s=%s,i=%u", c->nonce, salt, c->cred.iterations);
	c->client_first_bare = strndup(bare, (size_t)(end - bare));
	c->server_first = strdup(sf);
	if (!c->client_first_bare || !c->server_first)
		FAIL("out of memory");
	kw_reset(out);
	uint8_t *dst = kw_reserve(out, (size_t)n);
	if (!dst)
		FAIL("out of memory");
	memcpy(dst, sf, (size_t)n);
	return SASL_CONTINUE;
fail:
	return SASL_FAIL;
}

static enum sasl_status scram_final(struct sasl_conv *c, const uint8_t *in, size_t len, struct kwriter *out,
				    char *log_why, size_t logwhylen)
{
	const char *p = (const char *)in, *end = p + len;
	/* The proof is the last attribute: everything before ",p=" is signed. */
	const char *pp = NULL;
	for (const char *s = end - 1; s - p >= 3; s--)
		if (s[-3] == ',' && s[-2] == 'p' && s[-1] == '=') {
			pp = s - 3;
			break;
		}
	if (!pp)
		FAIL("SCRAM user %s: client-final-message lacks p=", c->user);
	if (len < 2 || p[0] != 'c' || p[1] != '=')
		FAIL("SCRAM user %s: client-final-message lacks c=", c->user);
	const char *cb = p + 2, *cbe = memchr(cb, ',', (size_t)(pp - cb));
	if (!cbe)
		cbe = pp;
	uint8_t gs2[sizeof(c->gs2)];
	long gn = b64_decode(cb, (size_t)(cbe - cb), gs2, sizeof(gs2));
	if (gn < 0 || (size_t)gn != strlen(c->gs2) || memcmp(gs2, c->gs2, (size_t)gn))
		FAIL("SCRAM user %s: channel binding c= does not match the gs2 header", c->user);
	/* The nonce must end with the one server-first sent: Kafka checks
	 * just that (ScramSaslServer: endsWith), and librdkafka up to 2.x
	 * sends its own nonce in front of the whole combined one. The
	 * server's random part is what makes a replay fail, and it is there. */
	const char *r = cbe + 1;
	size_t nl = strlen(c->nonce);
	if (r >= pp || pp - r < 2 || r[0] != 'r' || r[1] != '=')
		FAIL("SCRAM user %s: client-final-message lacks r=", c->user);
	const char *rv = r + 2, *rve = memchr(rv, ',', (size_t)(pp - rv));
	if (!rve)
		rve = pp;
	if ((size_t)(rve - rv) < nl || memcmp(rve - nl, c->nonce, nl))
		FAIL("SCRAM user %s: nonce does not match", c->user);
	uint8_t proof[SCRAM_KEY_LEN];
	if (b64_decode(pp + 3, (size_t)(end - pp - 3), proof, sizeof(proof)) != SCRAM_KEY_LEN)
		FAIL("SCRAM user %s: proof is not base64 of %d bytes", c->user, SCRAM_KEY_LEN);
	size_t l1 = strlen(c->client_first_bare), l2 = strlen(c->server_first), l3 = (size_t)(pp - p);
	char *am = malloc(l1 + l2 + l3 + 3);
	if (!am)
		FAIL("out of memory");
	memcpy(am, c->client_first_bare, l1);
	am[l1] = ',';
	memcpy(am + l1 + 1, c->server_first, l2);
	am[l1 + 1 + l2] = ',';
	memcpy(am + l1 + l2 + 2, p, l3);
	size_t aml = l1 + l2 + l3 + 2;
	uint8_t sig[SCRAM_KEY_LEN], key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN], ssig[SCRAM_KEY_LEN];
	scram_hmac(c->cred.stored_key, SCRAM_KEY_LEN, am, aml, sig);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	scram_sha256(key, sizeof(key), stored);
	int good = CRYPTO_memcmp(stored, c->cred.stored_key, SCRAM_KEY_LEN) == 0 && c->known;
	scram_hmac(c->cred.server_key, SCRAM_KEY_LEN, am, aml, ssig);
	free(am);
	OPENSSL_cleanse(key, sizeof(key));
	if (!good)
		FAIL(c->known ? "SCRAM: wrong password for user %s" : "SCRAM: unknown user %s", c->user);
	char v[64] = "v=";
	size_t vl = 2 + b64_encode(ssig, sizeof(ssig), v + 2);
	kw_reset(out);
	uint8_t *dst = kw_reserve(out, vl);
	if (!dst)
		FAIL("out of memory");
	memcpy(dst, v, vl);
	return SASL_DONE;
fail:
	return SASL_FAIL;
}

enum sasl_status sasl_step(struct sasl_conv *c, const struct users *users, const uint8_t *in, size_t len,
			   struct kwriter *out, char *why, size_t whylen, char *log_why, size_t logwhylen)
{
	enum sasl_status st;
	if (!in)
		in = (const uint8_t *)"";  /* a null token (Kafka bytes -1) is an empty one */
	kw_reset(out);
	snprintf(why, whylen, "Authentication failed: invalid credentials with SASL mechanism %s",
		 sasl_mech_name(c->mech));
	log_why[0] = 0;
	if (len > SASL_TOKEN_MAX) {
		snprintf(log_why, logwhylen, "SASL token of %zu bytes (at most %d)", len, SASL_TOKEN_MAX);
		return SASL_FAIL;
	}
	c->step++;
	if (c->mech == SASL_MECH_PLAIN && c->step == 1)
		st = plain(c, users, in, len, log_why, logwhylen);
	else if (c->mech == SASL_MECH_SCRAM_SHA_256 && c->step == 1)
		st = scram_first(c, users, in, len, out, log_why, logwhylen);
	else if (c->mech == SASL_MECH_SCRAM_SHA_256 && c->step == 2)
		st = scram_final(c, in, len, out, log_why, logwhylen);
	else {
		snprintf(log_why, logwhylen, "unexpected SASL token (step %d of %s)", c->step, sasl_mech_name(c->mech));
		st = SASL_FAIL;
	}
	if (st == SASL_FAIL)
		kw_reset(out);
	return st;
}
