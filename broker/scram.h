/* SCRAM-SHA-256 credentials and the users file (RFC 5802, RFC 7677).
 *
 * A user's credential is what Kafka stores for SCRAM: the salt, the
 * iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
 * ServerKey = HMAC(SaltedPassword, "Server Key"). Neither lets anyone log in
 * (a client proof needs ClientKey, which only the password gives), so a
 * stolen users file is not a list of passwords. SASL/PLAIN checks a password
 * against the same credential by deriving StoredKey from it.
 *
 * The users file: one user per line,
 *     NAME:scram-sha-256:ITERATIONS:SALT:STORED_KEY:SERVER_KEY
 * with SALT, STORED_KEY and SERVER_KEY in base64; '#' starts a comment line;
 * blank lines are skipped. NAME is 1..255 bytes with no ':', blank or control
 * character. ITERATIONS is 4096..1000000. `logship-broker --add-user NAME -u
 * FILE` writes entries (password on stdin). */
#ifndef LOGSHIP_BROKER_SCRAM_H
#define LOGSHIP_BROKER_SCRAM_H
#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN 32          /* SHA-256 */
#define SCRAM_SALT_MAX 64
#define SCRAM_ITER_MIN 4096       /* RFC 7677's minimum, Kafka's too */
#define SCRAM_ITER_MAX 1000000
#define SCRAM_ITER_DEFAULT 8192
#define USER_NAME_MAX 255

struct scram_cred {
	uint8_t salt[SCRAM_SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

/* SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations). 0 or -EIO. */
int scram_salted_password(const char *pw, size_t pwlen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
			  uint8_t out[SCRAM_KEY_LEN]);
/* Derives a whole credential from a password. 0, -EINVAL (bad salt or
 * iteration count), -EIO. */
int scram_cred_make(const char *pw, size_t pwlen, const uint8_t *salt, size_t salt_len, uint32_t iterations,
		    struct scram_cred *out);
/* 1 when pw is the password c was made from, 0 if not (constant time in
 * the key comparison). */
int scram_password_ok(const struct scram_cred *c, const char *pw, size_t pwlen);
void scram_hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[SCRAM_KEY_LEN]);
void scram_sha256(const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN]);

/* Base64 (RFC 4648, padded). encode returns the length written (out needs
 * 4 * ceil(n / 3) + 1 bytes, NUL-terminated); decode returns the bytes
 * written, or -1 for bad input or one that does not fit outmax. */
size_t b64_encode(const uint8_t *in, size_t n, char *out);
long b64_decode(const char *in, size_t n, uint8_t *out, size_t outmax);

struct sasl_user {
	char name[USER_NAME_MAX + 1];
	struct scram_cred cred;
};
struct users { struct sasl_user *v; size_t n; };

/* Whether name is acceptable as a user name (see above). */
int users_name_ok(const char *name, size_t len);
/* Loads a users file. 0, or -errno with err = "path:line: what is wrong". */
int users_load(const char *path, struct users *u, char *err, size_t errlen);
/* Parses one line of the file (no newline). 0, 1 for a blank or comment
 * line, -EINVAL with err = what is wrong. */
int users_parse_line(const char *line, size_t len, struct sasl_user *out, char *err, size_t errlen);
void users_free(struct users *u);
const struct sasl_user *users_find(const struct users *u, const char *name, size_t len);
/* Formats a user's line (with newline) into out; 0 or -ENOSPC. */
int users_format(const struct sasl_user *u, char *out, size_t outlen);
/* Adds or replaces NAME in the users file at path (created 0600 if absent),
 * with a new random salt: the file is rewritten through a temporary file and
 * renamed, so a reader never sees half of it. 0 or -errno with err. */
int users_set_password(const char *path, const char *name, const char *pw, size_t pwlen, uint32_t iterations,
		       char *err, size_t errlen);

#endif
