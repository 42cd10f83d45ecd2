/* SCRAM-SHA-256 key derivation (RFC 5802 section 3, RFC 7677) on OpenSSL's
 * PBKDF2, HMAC and SHA-256, and the base64 SCRAM messages carry. Passwords
 * are used as given (UTF-8 bytes): SASLprep's normalisation is not applied,
 * which only matters for passwords with non-ASCII compatibility characters
 * (documented in docs/security.md). */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "broker/scram.h"

void scram_hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int n = SCRAM_KEY_LEN;
	if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n))
		memset(out, 0, SCRAM_KEY_LEN);  /* never matches a real key */
}

void scram_sha256(const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	SHA256(msg, len, out);
}

int scram_salted_password(const char *pw, size_t pwlen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
			  uint8_t out[SCRAM_KEY_LEN])
{
	if (!PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)salt_len, (int)iterations, EVP_sha256(), SCRAM_KEY_LEN,
			       out))
		return -EIO;
	return 0;
}

int scram_cred_make(const char *pw, size_t pwlen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
		    struct scram_cred *out)
{
	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX || iterations < 1 || iterations > SCRAM_ITER_MAX)
		return -EINVAL;
	uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	if (scram_salted_password(pw, pwlen, salt, salt_len, iterations, salted) < 0)
		return -EIO;
	memset(out, 0, sizeof(*out));
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	scram_hmac(salted, sizeof(salted), "Client Key", 10, client_key);
	scram_sha256(client_key, sizeof(client_key), out->stored_key);
	scram_hmac(salted, sizeof(salted), "Server Key", 10, out->server_key);
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return 0;
}

int scram_password_ok(const struct scram_cred *c, const char *pw, size_t pwlen)
{
	struct scram_cred d;
	if (scram_cred_make(pw, pwlen, c->salt, c->salt_len, c->iterations, &d) < 0)
		return 0;
	int ok = CRYPTO_memcmp(d.stored_key, c->stored_key, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(&d, sizeof(d));
	return ok;
}

size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long b64_decode(const char *in, size_t n, uint8_t *out, size_t outmax)
{
	if (n % 4 || n > (1u << 20))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		int pad_ok = ch == '=' && (i == n - 1 || (i == n - 2 && in[n - 1] == '='));
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
		      ch == '/' || pad_ok))
			return -1;
	}
	size_t len = n / 4 * 3;
	if (n && in[n - 1] == '=')
		len -= in[n - 2] == '=' ? 2 : 1;
	if (len > outmax)
		return -1;
	uint8_t tmp[3];
	/* EVP_DecodeBlock writes whole groups of 3 (padding as zeros): decode
	 * the last group into tmp so that out needs only the real length. */
	size_t whole = n >= 4 ? n - 4 : 0;
	if (whole && EVP_DecodeBlock(out, (const unsigned char *)in, (int)whole) < 0)
		return -1;
	if (n) {
		if (EVP_DecodeBlock(tmp, (const unsigned char *)in + whole, 4) < 0)
			return -1;
		memcpy(out + whole / 4 * 3, tmp, len - whole / 4 * 3);
	}
	return (long)len;
}
