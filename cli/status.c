/* logshipctl status: an agent's /status JSON, fetched from its status endpoint
 * (http: listen in the agent's config, 127.0.0.1:2020 in the shipped one). */
#include "cli/ctl.h"

#include <curl/curl.h>
#include <string.h>

int ctl_status(struct ctl *c, int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: logshipctl [--agent HOST:PORT] status\n"
		     "Prints the agent's /status: every input's position, every output's cursor and lag.");
		return 0;
	}
	if (argc > 1) {
		ctl_err("status: unexpected argument '%s'", argv[1]);
		return CTL_EXIT_USAGE;
	}
	char url[512];
	snprintf(url, sizeof(url), "http://%s/status", c->agent);
	CURL *h = curl_easy_init();
	if (!h)
		return CTL_EXIT_FAIL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, stdout);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		ctl_err("status from %s: %s", url, curl_easy_strerror(rc));
		return CTL_EXIT_FAIL;
	}
	fputc('\n', stdout);
	return 0;
}
