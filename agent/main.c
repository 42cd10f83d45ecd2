/* logship, the agent: command line, config loading, then the pipeline.
 *
 *   logship -c FILE [-d CONF_DIR] [--check] [--doc-config] [--version] [--help]
 *
 * A bad config is reported as "file:line:column: message" and the agent
 * refuses to start (exit 1). --check validates and prints the effective
 * config. --doc-config prints docs/configuration.md from the declarations. */
#include <getopt.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/pipeline.h"
#include "agent/privdrop.h"
#include "common/logging.h"
#include "common/notify.h"

#ifndef LOGSHIP_VERSION
#define LOGSHIP_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fputs("usage: logship [-c FILE] [-d CONF_DIR] [--check] [--doc-config] [--version] [--help]\n"
	      "\n"
	      "The logship agent: inputs -> on-disk ring (data_dir/ring) -> outputs.\n"
	      "\n"
	      "  -c, --config FILE     main config (default /etc/logship/logship.yaml)\n"
	      "  -d, --conf-dir DIR    also read DIR/*.yaml in name order (default: conf.d/ beside FILE)\n"
	      "      --check           validate, print the effective config, exit (0 = valid)\n"
	      "      --doc-config      print the configuration reference (docs/configuration.md)\n"
	      "      --version         print the version\n"
	      "  -h, --help            this text\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT stop (outputs drain for shutdown_timeout), SIGHUP reloads\n"
	      "the config (a bad one is reported and the running one kept).\n"
	      "Status: http.listen (127.0.0.1:2020 in the shipped config): /health /ready /metrics /status\n",
	      f);
}

/* glibc's malloc, tuned for a long-running agent with a few busy threads:
 *  - at most 2 arenas: by default every thread that allocates may get its
 *    own (up to 8 per core) and librdkafka alone starts 3 or more threads
 *    per producer; each arena keeps its own touched pages (idle RSS);
 *  - buffers of hundreds of KiB to a few MiB (ring reads, librdkafka's
 *    produce requests, batches) are allocated and freed at a high rate.
 *    Under glibc's defaults each is a fresh mmap, or a heap grown and
 *    trimmed again, so its pages are faulted in and zeroed every time
 *    (~140k page faults for 2.5M events to Kafka, 15% of the agent's CPU).
 *    Below 4 MiB they come from the heap, and up to 32 MiB of free memory
 *    stays there for reuse instead of being handed back at once.
 * Called first: arenas are made as threads start allocating, and config
 * checks may already start threads (librdkafka's). */
static void tune_malloc(void)
{
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "conf-dir", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'C' },
		{ "doc-config", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = "/etc/logship/logship.yaml", *dir = NULL;
	int check = 0, c;
	tune_malloc();
	while ((c = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'd': dir = optarg; break;
		case 'C': check = 1; break;
		case 'D': agent_config_doc(stdout); return 0;
		case 'V': printf("logship %s\n", LOGSHIP_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "logship: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	struct agent_config *cfg;
	struct cfg_error err;
	if (agent_config_load(file, dir, &cfg, &err) < 0) {
		if (check)
			fprintf(stderr, "%s\n", err.msg);
		else
			LOG_ERROR("config", "%s", err.msg);
		return 1;
	}
	/* A user that does not exist is a config error, found before anything
	 * starts (and by --check), at the key's position. */
	if (cfg->user && !getpwnam(cfg->user)) {
		cfg_fail(&err, cfg_at(cfg->root, "user"), "user: no user named '%s'", cfg->user);
		if (check)
			fprintf(stderr, "%s\n", err.msg);
		else
			LOG_ERROR("config", "%s", err.msg);
		agent_config_free(cfg);
		return 1;
	}
	if (check) {
		printf("# logship --check: %s is valid; the effective config:\n", file);
		agent_config_dump(stdout, cfg);
		agent_config_free(cfg);
		return 0;
	}

	/* Signals are read through a signalfd in the loop: block them here,
	 * before any thread starts, so that every thread inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	LOG_INFO("agent", "logship %s starting with %s", LOGSHIP_VERSION, file);
	struct pipeline *p;
	if (pipeline_new(cfg, file, dir, &p) < 0)
		return 1;
	/* After the ring and the listeners are open; see agent/privdrop.c. */
	if (privdrop(cfg->user, cfg->data_dir) < 0) {
		pipeline_free(p);
		return 1;
	}
	notify_ready();   /* the ring is open, inputs and outputs started */
	int rc = pipeline_run(p);
	pipeline_free(p);
	return rc;
}
