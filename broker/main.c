/* logship-broker: a Kafka-protocol log server on buffer/.
 *
 *   logship-broker [-c FILE] [--listen HOST:PORT] [--data-dir DIR] [--check]
 *   logship-broker --add-user NAME --users-file FILE [--iterations N]  (password on stdin)
 *
 * Flags override the file; no file means the built-in defaults. Exit codes:
 * 0 clean stop, 1 runtime failure, 2 bad command line or configuration. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/scram.h"
#include "common/config.h"
#include "common/logging.h"

#ifndef LOGSHIP_VERSION
#define LOGSHIP_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: logship-broker [-c FILE] [--listen HOST:PORT] [--data-dir DIR] [--check]\n"
		"\n"
		"A Kafka-protocol log broker: topics of partitions kept as replayable logs.\n"
		"  -c, --config FILE     YAML configuration (default: built-in defaults)\n"
		"  -l, --listen H:P      listen address (overrides the file's `listen`)\n"
		"  -d, --data-dir DIR    data directory (overrides the file's `data_dir`)\n"
		"      --check           validate the configuration, print it, exit\n"
		"      --add-user NAME   add NAME (or change its password) in --users-file, the\n"
		"                        password read from stdin (one line); SCRAM-SHA-256 salted\n"
		"  -u, --users-file FILE the SASL users file --add-user writes\n"
		"      --iterations N    SCRAM iterations for --add-user (default 8192, 4096..1000000)\n"
		"      --doc-config      print the configuration keys as a Markdown table\n"
		"  -V, --version         print the version\n"
		"  -h, --help            this text\n");
}

/* --add-user: one password line from stdin (a terminal, a pipe or a file),
 * the newline dropped; never from the command line, where ps shows it. */
static int add_user(const char *name, const char *file, const char *iter)
{
	if (!file) {
		fprintf(stderr, "logship-broker: --add-user needs --users-file FILE\n");
		return 2;
	}
	char *end;
	unsigned long it = iter ? strtoul(iter, &end, 10) : SCRAM_ITER_DEFAULT;
	if (iter && (*end || it < SCRAM_ITER_MIN || it > SCRAM_ITER_MAX)) {
		fprintf(stderr, "logship-broker: --iterations %s: expected %d..%d\n", iter, SCRAM_ITER_MIN, SCRAM_ITER_MAX);
		return 2;
	}
	char pw[1024];
	if (!fgets(pw, sizeof(pw), stdin)) {
		fprintf(stderr, "logship-broker: --add-user %s: no password on stdin\n", name);
		return 2;
	}
	size_t n = strcspn(pw, "\r\n");
	if (n == strlen(pw) && n == sizeof(pw) - 1) {
		fprintf(stderr, "logship-broker: --add-user %s: password longer than %zu bytes\n", name, sizeof(pw) - 2);
		return 2;
	}
	pw[n] = 0;
	if (n == 0) {
		fprintf(stderr, "logship-broker: --add-user %s: empty password\n", name);
		return 2;
	}
	char err[600];
	int rc = users_set_password(file, name, pw, n, (uint32_t)it, err, sizeof(err));
	memset(pw, 0, sizeof(pw));
	if (rc < 0) {
		fprintf(stderr, "logship-broker: --add-user: %s\n", err);
		return rc == -EINVAL ? 2 : 1;
	}
	fprintf(stderr, "logship-broker: user %s written to %s (send the broker SIGHUP to load it)\n", name, file);
	return 0;
}

/* Replaces a config string with a command-line value. */
static int override(char **field, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*field);
	*field = d;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'k' },
		{ "doc-config", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "add-user", required_argument, NULL, 'A' },
		{ "users-file", required_argument, NULL, 'u' },
		{ "iterations", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *listen = NULL, *data_dir = NULL;
	const char *add = NULL, *users_file = NULL, *iterations = NULL;
	int check = 0, opt;
	while ((opt = getopt_long(argc, argv, "c:l:d:u:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'l': listen = optarg; break;
		case 'd': data_dir = optarg; break;
		case 'k': check = 1; break;
		case 'D': broker_config_doc(stdout); return 0;
		case 'A': add = optarg; break;
		case 'u': users_file = optarg; break;
		case 'I': iterations = optarg; break;
		case 'V': printf("logship-broker %s\n", LOGSHIP_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "logship-broker: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (add)
		return add_user(add, users_file, iterations);

	struct cfg_error err = { "" };
	struct cfg_node *root = NULL;
	if (file && !(root = cfg_parse_file(file, &err))) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	struct broker b;
	memset(&b, 0, sizeof(b));
	b.wake_fd = -1;
	int rc = broker_config_bind(&b.cfg, root, &err);
	cfg_free(root);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		broker_config_free(&b.cfg);
		return 2;
	}
	if ((listen && override(&b.cfg.listen, listen) < 0) || (data_dir && override(&b.cfg.data_dir, data_dir) < 0))
		return 1;
	char lhost[256];
	uint16_t lport;
	if (listen && cfg_parse_hostport(listen, lhost, sizeof(lhost), &lport) < 0) {
		fprintf(stderr, "logship-broker: --listen %s: expected HOST:PORT\n", listen);
		broker_config_free(&b.cfg);
		return 2;
	}
	if (listen && b.cfg.nlisteners) {
		/* With `listeners`, --listen moves the first one. */
		if (override(&b.cfg.listeners[0].address, lhost[0] ? lhost : "0.0.0.0") < 0)
			return 1;
		b.cfg.listeners[0].port = lport;
	}
	if (check) {
		/* The top-level keys but `listeners`, which is printed bound
		 * below (and `listen`, which it replaces), so that the output
		 * is itself a valid configuration. */
		struct cfg_key keys[64];
		size_t nk = 0;
		for (const struct cfg_key *k = broker_config_keys; k->name && nk < 63; k++)
			if (strcmp(k->name, "listeners") && (strcmp(k->name, "listen") || !b.cfg.nlisteners))
				keys[nk++] = *k;
		keys[nk] = (struct cfg_key){ 0 };
		cfg_dump(stdout, keys, &b.cfg, 0);
		if (b.cfg.nlisteners)
			fputs("listeners:\n", stdout);
		for (size_t i = 0; i < b.cfg.nlisteners; i++) {
			const struct listener_config *l = &b.cfg.listeners[i];
			printf("  - # %s\n", l->has_tls && l->has_sasl ? "SASL_SSL" : l->has_tls ? "SSL"
					     : l->has_sasl ? "SASL_PLAINTEXT" : "PLAINTEXT");
			cfg_dump(stdout, broker_listener_keys, l, 4);
		}
		broker_config_free(&b.cfg);
		return 0;
	}
	logging_set_level((enum log_level)b.cfg.log_level);
	LOG_INFO("broker", "logship-broker %s starting%s%s", LOGSHIP_VERSION, file ? " with " : "", file ? file : "");
	rc = broker_run(&b);
	log_buf_free(&b.fetch_buf);
	broker_config_free(&b.cfg);
	return rc < 0 ? 1 : 0;
}
