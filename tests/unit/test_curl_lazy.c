/* libcurl loaded on first use (common/curl_lazy.c): the process has no
 * libcurl mapped until the first curl_* call; after it, every kind of
 * setopt argument (long, pointer, function pointer, curl_off_t), getinfo,
 * slists, URL handles and a real transfer (a file:// URL) work through the
 * forwarding functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sbuf.h"
#include "testutil.h"

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	sbuf_put(arg, p, size * n);
	return size * n;
}

static void test_lazy_transfer(void **state)
{
	(void)state;
	assert_false(tu_mapped("/libcurl"));  /* not linked: nothing mapped before the first call */
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	assert_true(tu_mapped("/libcurl"));

	char *dir = tu_tmpdir(), path[4200], url[4300];
	snprintf(path, sizeof(path), "%s/body.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("hello through the lazy libcurl\n", f);
	fclose(f);
	snprintf(url, sizeof(url), "file://%s", path);

	CURL *h = curl_easy_init();
	assert_non_null(h);
	struct sbuf got = { 0 };
	assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);                       /* pointer */
	assert_int_equal(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L), CURLE_OK);               /* long */
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data), CURLE_OK);          /* function */
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &got), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 20), CURLE_OK); /* off_t */
	struct curl_slist *hdrs = curl_slist_append(NULL, "X-Test: 1");
	assert_non_null(hdrs);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs), CURLE_OK);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(sbuf_cstr(&got), "hello through the lazy libcurl\n");
	curl_off_t size = 0;
	assert_int_equal(curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &size), CURLE_OK);
	assert_int_equal(size, 31);

	/* An off_t option read right: resume from byte 6. */
	assert_int_equal(curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)6), CURLE_OK);
	sbuf_reset(&got);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(sbuf_cstr(&got), "through the lazy libcurl\n");
	assert_non_null(strstr(curl_easy_strerror(CURLE_FILESIZE_EXCEEDED), "size"));

	char *esc = curl_easy_escape(h, "a b/c", 0);
	assert_string_equal(esc, "a%20b%2Fc");
	curl_free(esc);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	sbuf_free(&got);

	CURLU *u = curl_url();
	assert_non_null(u);
	assert_int_equal(curl_url_set(u, CURLUPART_URL, "https://es.example:9200/x?y=1", 0), CURLUE_OK);
	char *host = NULL;
	assert_int_equal(curl_url_get(u, CURLUPART_HOST, &host, 0), CURLUE_OK);
	assert_string_equal(host, "es.example");
	curl_free(host);
	curl_url_cleanup(u);

	CURLM *m = curl_multi_init();
	assert_non_null(m);
	assert_int_equal(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 4L), CURLM_OK);
	assert_int_equal(curl_multi_cleanup(m), CURLM_OK);
	unlink(path);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_transfer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
