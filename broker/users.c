/* The SASL users file (format in scram.h and docs/security.md): loading it
 * with line-numbered errors, and writing entries for `--add-user`, so that
 * no operator ever computes a hash by hand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "broker/scram.h"

#define USERS_FILE_MAX (16u << 20)
#define USERS_MAX 100000

int users_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > USER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch <= ' ' || ch == 0x7f || ch == ':')
			return 0;
	}
	return 1;
}

/* The next ':'-separated field of [*p, end). */
static int field(const char **p, const char *end, const char **f, size_t *flen, int last)
{
	const char *c = *p;
	const char *colon = memchr(c, ':', (size_t)(end - c));
	if (last ? colon != NULL : colon == NULL)
		return -1;
	*f = c;
	*flen = (size_t)((colon ? colon : end) - c);
	*p = colon ? colon + 1 : end;
	return 0;
}

int users_parse_line(const char *line, size_t len, struct sasl_user *out, char *err, size_t errlen)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return 1;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	const char *p = line + i, *end = line + len;
	const char *f[6];
	size_t fl[6];
	for (int k = 0; k < 6; k++) {
		if (field(&p, end, &f[k], &fl[k], k == 5) < 0) {
			snprintf(err, errlen, "expected NAME:scram-sha-256:ITERATIONS:SALT:STORED_KEY:SERVER_KEY");
			return -EINVAL;
		}
	}
	memset(out, 0, sizeof(*out));
	if (!users_name_ok(f[0], fl[0])) {
		snprintf(err, errlen, "bad user name (1-%d bytes, no ':', blank or control character)", USER_NAME_MAX);
		return -EINVAL;
	}
	memcpy(out->name, f[0], fl[0]);
	if (!(fl[1] == 13 && !strncasecmp(f[1], "scram-sha-256", 13))) {
		snprintf(err, errlen, "user %s: mechanism '%.*s': only scram-sha-256 is known", out->name,
			 (int)(fl[1] > 32 ? 32 : fl[1]), f[1]);
		return -EINVAL;
	}
	char num[16];
	if (fl[2] == 0 || fl[2] >= sizeof(num) || strspn(f[2], "0123456789") < fl[2]) {
		snprintf(err, errlen, "user %s: iterations must be a number", out->name);
		return -EINVAL;
	}
	memcpy(num, f[2], fl[2]);
	num[fl[2]] = 0;
	unsigned long it = strtoul(num, NULL, 10);
	if (it < SCRAM_ITER_MIN || it > SCRAM_ITER_MAX) {
		snprintf(err, errlen, "user %s: iterations %lu outside %d..%d", out->name, it, SCRAM_ITER_MIN,
			 SCRAM_ITER_MAX);
		return -EINVAL;
	}
	out->cred.iterations = (uint32_t)it;
	long n = b64_decode(f[3], fl[3], out->cred.salt, sizeof(out->cred.salt));
	if (n <= 0) {
		snprintf(err, errlen, "user %s: salt is not base64 of 1-%d bytes", out->name, SCRAM_SALT_MAX);
		return -EINVAL;
	}
	out->cred.salt_len = (size_t)n;
	if (b64_decode(f[4], fl[4], out->cred.stored_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN ||
	    b64_decode(f[5], fl[5], out->cred.server_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN) {
		snprintf(err, errlen, "user %s: stored and server keys must be base64 of %d bytes", out->name,
			 SCRAM_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void users_free(struct users *u)
{
	if (u->v)
		memset(u->v, 0, u->n * sizeof(*u->v));
	free(u->v);
	u->v = NULL;
	u->n = 0;
}

const struct sasl_user *users_find(const struct users *u, const char *name, size_t len)
{
	if (!u)
		return NULL;
	for (size_t i = 0; i < u->n; i++)
		if (strlen(u->v[i].name) == len && !memcmp(u->v[i].name, name, len))
			return &u->v[i];
	return NULL;
}

/* Reads a whole (bounded) file into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len, int *rc)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		*rc = -errno;
		return NULL;
	}
	char *buf = malloc(USERS_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, USERS_FILE_MAX + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > USERS_FILE_MAX) {
		free(buf);
		*rc = !buf ? -ENOMEM : bad ? -EIO : -EFBIG;
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

int users_load(const char *path, struct users *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	size_t len;
	int rc = 0;
	char *buf = slurp(path, &len, &rc);
	if (!buf) {
		snprintf(err, errlen, "%s: %s", path, rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
		return rc;
	}
	size_t cap = 0;
	int line = 0;
	for (size_t pos = 0; pos < len;) {
		line++;
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		struct sasl_user one;
		char why[300];
		int r = users_parse_line(buf + pos, ll, &one, why, sizeof(why));
		pos += ll + 1;
		if (r == 1)
			continue;
		if (r == 0 && users_find(u, one.name, strlen(one.name))) {
			snprintf(why, sizeof(why), "user %s is listed twice", one.name);
			r = -EINVAL;
		}
		if (r == 0 && u->n >= USERS_MAX) {
			snprintf(why, sizeof(why), "more than %d users", USERS_MAX);
			r = -EINVAL;
		}
		if (r == 0 && u->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct sasl_user *v = realloc(u->v, nc * sizeof(*v));
			if (!v) {
				snprintf(why, sizeof(why), "out of memory");
				r = -ENOMEM;
			} else {
				u->v = v;
				cap = nc;
			}
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, line, why);
			memset(&one, 0, sizeof(one));
			users_free(u);
			memset(buf, 0, len);
			free(buf);
			return r;
		}
		u->v[u->n++] = one;
	}
	memset(buf, 0, len);
	free(buf);
	return 0;
}

int users_format(const struct sasl_user *u, char *out, size_t outlen)
{
	char salt[4 * SCRAM_SALT_MAX / 3 + 8], sk[64], vk[64];
	b64_encode(u->cred.salt, u->cred.salt_len, salt);
	b64_encode(u->cred.stored_key, SCRAM_KEY_LEN, sk);
	b64_encode(u->cred.server_key, SCRAM_KEY_LEN, vk);
	int n = snprintf(out, outlen, "%s:scram-sha-256:%u:%s:%s:%s\n", u->name, u->cred.iterations, salt, sk, vk);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

int users_set_password(const char *path, const char *name, const char *pw, size_t pwlen, uint32_t iterations,
		       char *err, size_t errlen)
{
	if (!users_name_ok(name, strlen(name))) {
		snprintf(err, errlen, "bad user name '%s' (1-%d bytes, no ':', blank or control character)", name,
			 USER_NAME_MAX);
		return -EINVAL;
	}
	if (iterations < SCRAM_ITER_MIN || iterations > SCRAM_ITER_MAX) {
		snprintf(err, errlen, "iterations must be %d..%d", SCRAM_ITER_MIN, SCRAM_ITER_MAX);
		return -EINVAL;
	}
	size_t len = 0;
	int rc = 0;
	char *old = slurp(path, &len, &rc);
	if (!old && rc != -ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	struct sasl_user u;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	uint8_t salt[24];
	char line[512];
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    scram_cred_make(pw, pwlen, salt, sizeof(salt), iterations, &u.cred) < 0 ||
	    users_format(&u, line, sizeof(line)) < 0) {
		snprintf(err, errlen, "cannot derive the SCRAM credential");
		free(old);
		return -EIO;
	}
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(old);
		return -EIO;
	}
	/* Every line but the user's own entry stays as it was (comments too). */
	int replaced = 0;
	for (size_t pos = 0; old && pos < len;) {
		const char *nl = memchr(old + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (old + pos)) : len - pos;
		struct sasl_user cur;
		char why[300];
		if (users_parse_line(old + pos, ll, &cur, why, sizeof(why)) == 0 && !strcmp(cur.name, name)) {
			if (!replaced)
				fputs(line, f);
			replaced = 1;
		} else {
			fwrite(old + pos, 1, ll, f);
			fputc('\n', f);
		}
		pos += ll + 1;
	}
	if (!replaced)
		fputs(line, f);
	free(old);
	rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}
