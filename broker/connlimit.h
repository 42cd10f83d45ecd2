/* Connections per client address, for max_connections_per_ip: a hash table
 * of the addresses that have connections open now (an entry goes when its
 * count drops to zero, so the table is bounded by the open connections, not
 * by how many addresses ever came). IPv4-mapped IPv6 addresses count as the
 * IPv4 address they carry. */
#ifndef LOGSHIP_BROKER_CONNLIMIT_H
#define LOGSHIP_BROKER_CONNLIMIT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct connlimit_key { uint8_t a[16]; };
struct connlimit;

struct connlimit *connlimit_new(void);
void connlimit_free(struct connlimit *t);
/* The key of a peer address (v4, v6, v4-mapped v6). */
struct connlimit_key connlimit_key_of(const struct sockaddr *sa);
/* Counts one more connection from k unless it already has `max` (max 0: no
 * limit). 1 counted, 0 refused, -ENOMEM. */
int connlimit_take(struct connlimit *t, const struct connlimit_key *k, int64_t max);
void connlimit_put(struct connlimit *t, const struct connlimit_key *k);
/* Open connections from k now. */
int64_t connlimit_count(const struct connlimit *t, const struct connlimit_key *k);

#endif
