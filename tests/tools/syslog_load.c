/* syslog_load: a syslog load generator for the benchmark and the tests.
 *
 *   syslog_load (--tcp | --udp | --unix PATH) [HOST:PORT] [--count N] [--size BYTES]
 *               [--lf] [--rfc3164] [--conns K] [--start SEQ] [--rate N]
 *
 * Sends N RFC 5424 (or 3164) messages, each carrying "seq=NNNNNNNNNN" so the
 * far end can count every one; all messages have the same length (--size,
 * the whole syslog message without framing). TCP uses octet counting unless
 * --lf, over K connections (messages split evenly). It prepares a large
 * buffer of frames once and only rewrites the sequence digits, so that it
 * costs as little CPU as possible and the receiver is what gets measured.
 * Prints "sent N messages in S s: R msgs/s". */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SEQ_DIGITS 10
#define CHUNK_MSGS 2048

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: syslog_load (--tcp|--udp) HOST:PORT | --unix PATH [--count N] [--size B] "
			"[--lf] [--rfc3164] [--conns K] [--start SEQ] [--rate N]\n");
	exit(2);
}

/* The message template; *seq_at is where the digits go. */
static size_t make_msg(char *out, size_t size, int bsd, size_t *seq_at)
{
	char head[256];
	int n = bsd ? snprintf(head, sizeof(head), "<134>Nov 25 11:00:00 host01.example.com loadgen[4242]: seq=")
		    : snprintf(head, sizeof(head),
			       "<134>1 2026-11-25T11:00:00.123456Z host01.example.com loadgen 4242 ID47 - seq=");
	size_t min = (size_t)n + SEQ_DIGITS + 1;
	if (size < min)
		size = min;
	memcpy(out, head, (size_t)n);
	*seq_at = (size_t)n;
	memset(out + n, '0', SEQ_DIGITS);
	static const char fill[] = " lorem ipsum dolor sit amet, consectetur adipiscing elit";
	for (size_t i = (size_t)n + SEQ_DIGITS, k = 0; i < size; i++, k++)
		out[i] = fill[k % (sizeof(fill) - 1)];
	return size;
}

static void put_seq(char *p, uint64_t v)
{
	for (int i = SEQ_DIGITS - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static int connect_to(const char *hp, int type, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256];
	const char *colon = strrchr(hp, ':');
	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		usage();
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	struct addrinfo hints = { .ai_socktype = type }, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		fprintf(stderr, "cannot resolve %s\n", hp);
		exit(1);
	}
	int fd = socket(res->ai_family, type, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		perror("connect");
		exit(1);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Paces to rate msgs/s (0: as fast as possible). */
static void pace(double t0, uint64_t sent, uint64_t rate)
{
	if (!rate)
		return;
	double due = t0 + (double)sent / (double)rate;
	double now = now_s();
	if (due > now)
		usleep((useconds_t)((due - now) * 1e6));
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *target = NULL;
	uint64_t count = 1000000, start = 1, rate = 0;
	size_t size = 200;
	int lf = 0, bsd = 0, conns = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--tcp") || !strcmp(a, "--udp") || !strcmp(a, "--unix")) {
			mode = a + 2;
			if (++i >= argc)
				usage();
			target = argv[i];
		} else if (!strcmp(a, "--count") && i + 1 < argc) {
			count = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--size") && i + 1 < argc) {
			size = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--start") && i + 1 < argc) {
			start = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--rate") && i + 1 < argc) {
			rate = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--conns") && i + 1 < argc) {
			conns = atoi(argv[++i]);
		} else if (!strcmp(a, "--lf")) {
			lf = 1;
		} else if (!strcmp(a, "--rfc3164")) {
			bsd = 1;
		} else {
			usage();
		}
	}
	if (!mode || conns < 1 || size > 60000)
		usage();
	char msg[65536];
	size_t seq_at;
	size_t mlen = make_msg(msg, size, bsd, &seq_at);
	int stream = !strcmp(mode, "tcp");
	/* One frame: "LEN SP MSG" or "MSG LF". */
	char prefix[16] = "";
	int plen = stream && !lf ? snprintf(prefix, sizeof(prefix), "%zu ", mlen) : 0;
	size_t flen = (size_t)plen + mlen + (stream && lf ? 1 : 0);
	char *chunk = malloc(flen * CHUNK_MSGS);
	if (!chunk)
		return 1;
	for (int i = 0; i < CHUNK_MSGS; i++) {
		char *f = chunk + (size_t)i * flen;
		memcpy(f, prefix, (size_t)plen);
		memcpy(f + plen, msg, mlen);
		if (stream && lf)
			f[plen + mlen] = '\n';
	}
	int *fds = calloc((size_t)conns, sizeof(int));
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	if (!strcmp(mode, "unix")) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", target);
		fds[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (connect(fds[0], (struct sockaddr *)&un, sizeof(un)) < 0) {
			perror("connect");
			return 1;
		}
		conns = 1;
	} else {
		for (int i = 0; i < conns; i++)
			fds[i] = connect_to(target, stream ? SOCK_STREAM : SOCK_DGRAM, &ss, &sl);
	}
	double t0 = now_s();
	uint64_t seq = start, end = start + count, sent = 0, errors = 0;
	int c = 0;
	while (seq < end) {
		int n = end - seq < CHUNK_MSGS ? (int)(end - seq) : CHUNK_MSGS;
		for (int i = 0; i < n; i++)
			put_seq(chunk + (size_t)i * flen + plen + seq_at, seq + (uint64_t)i);
		if (stream) {
			if (write_all(fds[c], chunk, (size_t)n * flen) < 0) {
				perror("write");
				return 1;
			}
			c = (c + 1) % conns;
		} else {
			struct mmsghdr mm[64];
			struct iovec iov[64];
			for (int i = 0; i < n;) {
				int k = n - i < 64 ? n - i : 64;
				for (int j = 0; j < k; j++) {
					iov[j] = (struct iovec){ chunk + (size_t)(i + j) * flen, flen };
					mm[j] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[j], .msg_iovlen = 1 } };
				}
				int r = sendmmsg(fds[0], mm, (unsigned)k, 0);
				if (r < 0) {
					if ((errno == EINTR || errno == ECONNREFUSED || errno == ENOBUFS ||
					     errno == EAGAIN) && ++errors < 100000)
						continue;
					perror("sendmmsg");
					return 1;
				}
				i += r;
				pace(t0, sent + (uint64_t)i, rate);
			}
		}
		seq += (uint64_t)n;
		sent += (uint64_t)n;
		pace(t0, sent, rate);
	}
	for (int i = 0; i < conns; i++)
		close(fds[i]);
	double dt = now_s() - t0;
	printf("sent %llu messages in %.3f s: %.0f msgs/s (%zu bytes each)\n", (unsigned long long)sent, dt,
	       dt > 0 ? (double)sent / dt : 0.0, mlen);
	free(chunk);
	free(fds);
	return 0;
}
