/* Per-address connection counts (see connlimit.h): chained hash table with
 * a per-process random seed in the hash, so a client choosing addresses
 * (IPv6 gives it plenty) cannot pile them into one bucket on purpose. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "broker/connlimit.h"

#define NBUCKETS 4096

struct entry {
	struct entry *next;
	struct connlimit_key k;
	int64_t n;
};

struct connlimit {
	struct entry *b[NBUCKETS];
	uint64_t seed;
};

struct connlimit *connlimit_new(void)
{
	struct connlimit *t = calloc(1, sizeof(*t));
	if (t && RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
		t->seed = (uint64_t)(uintptr_t)t;
	return t;
}

void connlimit_free(struct connlimit *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (t->b[i]) {
			struct entry *e = t->b[i];
			t->b[i] = e->next;
			free(e);
		}
	free(t);
}

struct connlimit_key connlimit_key_of(const struct sockaddr *sa)
{
	struct connlimit_key k;
	memset(&k, 0, sizeof(k));
	if (sa->sa_family == AF_INET) {
		k.a[10] = k.a[11] = 0xff;  /* stored as v4-mapped v6 */
		memcpy(k.a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(k.a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	return k;
}

static size_t bucket(const struct connlimit *t, const struct connlimit_key *k)
{
	uint64_t h = t->seed ^ 0xcbf29ce484222325ull;  /* FNV-1a, seeded */
	for (int i = 0; i < 16; i++) {
		h ^= k->a[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	return (size_t)(h % NBUCKETS);
}

static struct entry **find(struct connlimit *t, const struct connlimit_key *k)
{
	struct entry **pp = &t->b[bucket(t, k)];
	while (*pp && memcmp((*pp)->k.a, k->a, 16))
		pp = &(*pp)->next;
	return pp;
}

int connlimit_take(struct connlimit *t, const struct connlimit_key *k, int64_t max)
{
	struct entry **pp = find(t, k);
	if (*pp) {
		if (max > 0 && (*pp)->n >= max)
			return 0;
		(*pp)->n++;
		return 1;
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->k = *k;
	e->n = 1;
	*pp = e;
	return 1;
}

void connlimit_put(struct connlimit *t, const struct connlimit_key *k)
{
	struct entry **pp = find(t, k);
	struct entry *e = *pp;
	if (!e)
		return;
	if (--e->n <= 0) {
		*pp = e->next;
		free(e);
	}
}

int64_t connlimit_count(const struct connlimit *t, const struct connlimit_key *k)
{
	struct entry *const *pp = find((struct connlimit *)t, k);
	return *pp ? (*pp)->n : 0;
}
