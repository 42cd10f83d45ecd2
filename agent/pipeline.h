/* The agent's pipeline: the ring log, the batcher between inputs and the
 * ring, input checkpoints, output threads, and the event loop that drives
 * them, with signals (SIGTERM/SIGINT: drain and exit; SIGHUP: reload).
 * main.c loads the config and hands it over; status.c reads from it. */
#ifndef LOGSHIP_AGENT_PIPELINE_H
#define LOGSHIP_AGENT_PIPELINE_H
#include "agent/config.h"
#include "common/sbuf.h"

struct pipeline;

/* Takes cfg (freed by the pipeline from then on, also on failure). Opens the
 * ring, creates and starts every module and the status endpoint. main_file and
 * conf_dir are what SIGHUP reloads. SIGTERM, SIGINT and SIGHUP must already be
 * blocked in the calling thread (so in every thread). 0 or -errno (logged). */
int pipeline_new(struct agent_config *cfg, const char *main_file, const char *conf_dir,
		 struct pipeline **out);
/* Runs the event loop until SIGTERM/SIGINT (or every input is done and one
 * asked to exit), then shuts down in order: inputs stop, what is in memory
 * goes to the ring, outputs drain for at most shutdown_timeout and commit.
 * Returns the process exit code. */
int pipeline_run(struct pipeline *p);
void pipeline_free(struct pipeline *p);

/* For the status endpoint (any thread). */
int pipeline_ready(struct pipeline *p, char *why, size_t whylen);
void pipeline_write_metrics(struct pipeline *p, struct sbuf *b);
void pipeline_write_status(struct pipeline *p, struct sbuf *b);

#endif
