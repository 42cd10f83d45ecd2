/* logship-broker: a Kafka-protocol log server on buffer/.
 *
 *   logship-broker [-c FILE] [--listen HOST:PORT] [--data-dir DIR] [--check]
 *
 * Flags override the file; no file means the built-in defaults. Exit codes:
 * 0 clean stop, 1 runtime failure, 2 bad command line or configuration. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
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
		"      --doc-config      print the configuration keys as a Markdown table\n"
		"  -V, --version         print the version\n"
		"  -h, --help            this text\n");
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
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *listen = NULL, *data_dir = NULL;
	int check = 0, opt;
	while ((opt = getopt_long(argc, argv, "c:l:d:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'l': listen = optarg; break;
		case 'd': data_dir = optarg; break;
		case 'k': check = 1; break;
		case 'D': cfg_doc(stdout, broker_config_keys); return 0;
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
		return 2;
	}
	if ((listen && override(&b.cfg.listen, listen) < 0) || (data_dir && override(&b.cfg.data_dir, data_dir) < 0))
		return 1;
	if (listen && !strrchr(listen, ':')) {
		fprintf(stderr, "logship-broker: --listen %s: expected HOST:PORT\n", listen);
		return 2;
	}
	if (check) {
		cfg_dump(stdout, broker_config_keys, &b.cfg, 0);
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
