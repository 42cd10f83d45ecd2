/* The status endpoint's HTTP server (common/httpd.c) over real loopback
 * sockets: answers, HEAD without a body, 405 for other methods, 400 for a
 * bad request line, 431 for an oversized head, a head split over many
 * writes, the slow-client timeout, and the connection limit (the extra
 * connection is refused while a well-behaved client is still served once a
 * slot frees). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/httpd.h"

static unsigned handler(void *arg, const char *method, const char *path, struct sbuf *body,
			const char **ctype)
{
	int *calls = arg;
	(*calls)++;
	if (strcmp(path, "/hello") == 0) {
		*ctype = "application/json";
		sbuf_printf(body, "{\"method\":\"%s\"}\n", method);
		return 200;
	}
	sbuf_puts(body, "nope\n");
	return 404;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads until the server closes; the reply in buf (NUL-terminated). */
static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

static void request(int port, const char *req, char *buf, size_t cap)
{
	int fd = dial(port);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	read_all(fd, buf, cap);
	close(fd);
}

static struct httpd *start(int *calls, unsigned max_conns, unsigned timeout_ms)
{
	char err[256];
	struct httpd_options opt = { .max_conns = max_conns, .timeout_ms = timeout_ms };
	struct httpd *h = httpd_start("127.0.0.1:0", &opt, handler, calls, err, sizeof(err));
	assert_non_null(h);
	assert_true(httpd_port(h) > 0);
	return h;
}

static void test_answers(void **state)
{
	(void)state;
	int calls = 0;
	struct httpd *h = start(&calls, 0, 0);
	char buf[16384];
	request(httpd_port(h), "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 17\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\n{\"method\":\"GET\"}\n"));

	request(httpd_port(h), "HEAD /hello HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 18\r\n"));
	assert_true(strstr(buf, "\r\n\r\n")[4] == '\0');  /* no body */

	request(httpd_port(h), "GET /other HTTP/1.1\n\n", buf, sizeof(buf));  /* bare LFs */
	assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));

	request(httpd_port(h), "POST /hello HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));

	const char *bad[] = { "GET\r\n\r\n", "GET /x\r\n\r\n", "GET x HTTP/1.1\r\n\r\n",
			      "GET /x HTTP/2\r\n\r\n", "G(T /x HTTP/1.1\r\n\r\n", "\r\n\r\n",
			      "GET  /x HTTP/1.1\r\n\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request(httpd_port(h), bad[i], buf, sizeof(buf));
		assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	}
	assert_int_equal(calls, 3);  /* the handler saw only the good requests */
	httpd_stop(h);
}

static void test_big_and_split_heads(void **state)
{
	(void)state;
	int calls = 0;
	struct httpd *h = start(&calls, 0, 0);
	char buf[16384];
	/* A head one byte at a time: the end is found across reads. */
	int fd = dial(httpd_port(h));
	const char *req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	for (const char *c = req; *c; c++)
		assert_int_equal(send(fd, c, 1, 0), 1);
	read_all(fd, buf, sizeof(buf));
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));

	/* A head over the bound: 431, the handler never called. */
	char *huge = malloc(HTTPD_MAX_HEAD + 100);
	memset(huge, 'a', HTTPD_MAX_HEAD + 99);
	memcpy(huge, "GET /hello HTTP/1.1\r\nX: ", 24);
	huge[HTTPD_MAX_HEAD + 99] = '\0';
	fd = dial(httpd_port(h));
	send(fd, huge, strlen(huge), MSG_NOSIGNAL);
	read_all(fd, buf, sizeof(buf));
	close(fd);
	free(huge);
	assert_non_null(strstr(buf, "HTTP/1.1 431 "));
	assert_int_equal(calls, 1);
	httpd_stop(h);
}

static void test_slow_clients_and_limit(void **state)
{
	(void)state;
	int calls = 0;
	struct httpd *h = start(&calls, 2, 300);
	char buf[16384];
	/* Two slow clients hold both slots with half a head each. */
	int s1 = dial(httpd_port(h)), s2 = dial(httpd_port(h));
	assert_int_equal(send(s1, "GET /hel", 8, 0), 8);
	assert_int_equal(send(s2, "GET /hel", 8, 0), 8);
	usleep(50 * 1000);
	/* A third is over the limit: closed without an answer. */
	int s3 = dial(httpd_port(h));
	assert_int_equal(read_all(s3, buf, sizeof(buf)), 0);
	close(s3);
	/* The slow ones are cut off after the timeout (recv sees EOF, no reply). */
	assert_int_equal(read_all(s1, buf, sizeof(buf)), 0);
	assert_int_equal(read_all(s2, buf, sizeof(buf)), 0);
	close(s1);
	close(s2);
	/* ... and the slots serve a well-behaved client again. */
	request(httpd_port(h), "GET /hello HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(calls, 1);
	httpd_stop(h);
}

static void test_bad_listen(void **state)
{
	(void)state;
	char err[256];
	assert_null(httpd_start("nonsense", NULL, handler, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "want host:port"));
	int calls = 0;
	struct httpd *h = start(&calls, 0, 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(h));
	assert_null(httpd_start(addr, NULL, handler, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot listen on"));
	httpd_stop(h);
	httpd_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_big_and_split_heads),
		cmocka_unit_test(test_slow_clients_and_limit),
		cmocka_unit_test(test_bad_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
