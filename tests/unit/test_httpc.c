/* The HTTP client helpers shared by the elasticsearch and http outputs
 * (outputs/httpc.c): Retry-After in both forms, gzip bodies that zlib reads
 * back, URL normalization, secrets read from files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "outputs/httpc.h"

static void test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(httpc_parse_retry_after(" 7\r\n", 0), 7000);
	assert_int_equal(httpc_parse_retry_after("0", 0), 0);
	assert_int_equal(httpc_parse_retry_after("-1", 0), -1);
	assert_int_equal(httpc_parse_retry_after("soon", 0), -1);
	assert_int_equal(httpc_parse_retry_after("", 0), -1);
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	assert_int_equal(httpc_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000);
	assert_int_equal(httpc_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
	assert_int_equal(httpc_parse_retry_after("99999999999", 0), 86400LL * 365 * 1000);
}

static void test_gzip_roundtrip(void **state)
{
	(void)state;
	struct sbuf src = { 0 }, gz = { 0 };
	for (int i = 0; i < 5000; i++)
		sbuf_printf(&src, "{\"event\":{\"sequence\":%d}}\n", i);
	assert_int_equal(httpc_gzip(src.p, src.len, &gz), 0);
	assert_true(gz.len < src.len / 4);
	assert_int_equal((unsigned char)gz.p[0], 0x1f);
	assert_int_equal((unsigned char)gz.p[1], 0x8b);
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	char *back = malloc(src.len + 16);
	z.next_in = (Bytef *)gz.p;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)back;
	z.avail_out = (uInt)(src.len + 16);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, src.len);
	assert_memory_equal(back, src.p, src.len);
	inflateEnd(&z);
	free(back);
	/* empty input is still a valid gzip member */
	sbuf_reset(&gz);
	assert_int_equal(httpc_gzip("", 0, &gz), 0);
	assert_true(gz.len >= 18);
	sbuf_free(&src);
	sbuf_free(&gz);
}

static void test_normalize_url(void **state)
{
	(void)state;
	char *u = httpc_normalize_url("es1:9200");
	assert_string_equal(u, "http://es1:9200");
	free(u);
	u = httpc_normalize_url("https://es1:9200//");
	assert_string_equal(u, "https://es1:9200");
	free(u);
	u = httpc_normalize_url("http://h/prefix/");
	assert_string_equal(u, "http://h/prefix");
	free(u);
}

static void test_read_secret(void **state)
{
	(void)state;
	char path[] = "/tmp/logship-secret-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cr3t\nsecond line\n", 19), 19);
	close(fd);
	char *s = NULL;
	assert_int_equal(httpc_read_secret(path, &s), 0);
	assert_string_equal(s, "s3cr3t");
	free(s);
	unlink(path);
	assert_int_equal(httpc_read_secret(path, &s), -ENOENT);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_normalize_url),
		cmocka_unit_test(test_read_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
