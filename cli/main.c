/* logshipctl entry point: global options, then one subcommand. */
#include "cli/ctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef LOGSHIP_VERSION
#define LOGSHIP_VERSION "0.1.0"
#endif

static const char usage[] =
	"usage: logshipctl [--bootstrap HOST:PORT] [--json] [-X key=value]... COMMAND ...\n"
	"\n"
	"Talks the Kafka protocol to logship-broker (or any Kafka cluster).\n"
	"\n"
	"commands:\n"
	"  topics list|describe|create|delete ...   topics and their partitions\n"
	"  groups list|describe|reset-offsets ...   consumer groups, offsets and lag\n"
	"  consume TOPIC [--from-beginning] [--group G] ...   print one event per line\n"
	"  produce TOPIC [--key K]                  send stdin, one event per line\n"
	"  status [--agent HOST:PORT]               an agent's /status\n"
	"\n"
	"global options:\n"
	"  -b, --bootstrap HOST:PORT  broker to ask (default $LOGSHIP_BOOTSTRAP or 127.0.0.1:9092)\n"
	"      --json                 JSON output for scripts\n"
	"  -X, --property KEY=VALUE   any librdkafka property (security.protocol, sasl.*, ssl.*)\n"
	"  -t, --timeout MS           per-request timeout (default 10000)\n"
	"  -h, --help                 this help; COMMAND --help for a command's\n"
	"  -V, --version\n"
	"\n"
	"exit status: 0 ok, 1 the operation failed, 2 usage error\n";

void ctl_err(const char *fmt, ...)
{
	va_list ap;
	fputs("logshipctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ctl_json_str(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
		} else if (ch < 0x20 || ch >= 0x80) {
			/* Valid multi-byte UTF-8 passes through; anything else is escaped. */
			size_t n = 0;
			if (ch >= 0xc2 && ch <= 0xdf) n = 1;
			else if (ch >= 0xe0 && ch <= 0xef) n = 2;
			else if (ch >= 0xf0 && ch <= 0xf4) n = 3;
			size_t k = 0;
			while (k < n && i + 1 + k < len && (p[i + 1 + k] & 0xc0) == 0x80)
				k++;
			if (n && k == n) {
				fwrite(p + i, 1, n + 1, f);
				i += n;
			} else {
				fprintf(f, "\\u%04x", ch);
			}
		} else {
			fputc(ch, f);
		}
	}
	fputc('"', f);
}

rd_kafka_conf_t *ctl_conf(const struct ctl *c)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		goto bad;
	rd_kafka_conf_set(conf, "client.id", "logshipctl", NULL, 0);
	/* logshipctl reports failures itself, once, naming what failed; the
	 * library's own retry chatter stays off (-X log_level=7 -X debug=... to see it). */
	rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
	/* Looking at a topic must not create it (a producer's Metadata would ask
	 * the broker to, on logship-broker and on Kafka alike). */
	rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL, 0);
	for (int i = 0; i < c->nprops; i++) {
		char key[256];
		const char *eq = strchr(c->props[i], '=');
		if (!eq || eq == c->props[i] || (size_t)(eq - c->props[i]) >= sizeof(key)) {
			snprintf(err, sizeof(err), "-X %s: expected KEY=VALUE", c->props[i]);
			goto bad;
		}
		memcpy(key, c->props[i], (size_t)(eq - c->props[i]));
		key[eq - c->props[i]] = 0;
		if (rd_kafka_conf_set(conf, key, eq + 1, err, sizeof(err)) != RD_KAFKA_CONF_OK)
			goto bad;
	}
	return conf;
bad:
	ctl_err("%s", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *ctl_client(const struct ctl *c, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char err[512];
	if (!conf)
		return NULL;
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk) {
		ctl_err("cannot create client: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

rd_kafka_event_t *ctl_admin_wait(const struct ctl *c, rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, c->timeout_ms + 2000);
	if (!ev) {
		ctl_err("no answer from %s within %d ms", c->bootstrap, c->timeout_ms);
		return NULL;
	}
	if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
		ctl_err("%s (broker %s)", rd_kafka_event_error_string(ev) ? rd_kafka_event_error_string(ev)
									  : "unexpected answer", c->bootstrap);
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

const struct rd_kafka_metadata *ctl_topic_metadata(const struct ctl *c, rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, c->timeout_ms) : rd_kafka_last_error();
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (e) {
		ctl_err("cannot get metadata of topic '%s' from %s: %s", topic, c->bootstrap, rd_kafka_err2str(e));
		return NULL;
	}
	if (md->topic_cnt != 1 || md->topics[0].err) {
		ctl_err("topic '%s': %s", topic,
			rd_kafka_err2str(md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
		rd_kafka_metadata_destroy(md);
		return NULL;
	}
	return md;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "property", required_argument, NULL, 'X' },
		{ "timeout", required_argument, NULL, 't' },
		{ "agent", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { .timeout_ms = 10000, .agent = "127.0.0.1:2020" };
	c.bootstrap = getenv("LOGSHIP_BOOTSTRAP");
	if (!c.bootstrap || !*c.bootstrap)
		c.bootstrap = "127.0.0.1:9092";
	int o;
	/* '+': stop at the first non-option, the command; its options are its own. */
	while ((o = getopt_long(argc, argv, "+b:jX:t:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'b': c.bootstrap = optarg; break;
		case 'j': c.json = 1; break;
		case 'a': c.agent = optarg; break;
		case 'X':
			if (c.nprops == CTL_MAX_PROPS) {
				ctl_err("too many -X properties (at most %d)", CTL_MAX_PROPS);
				return CTL_EXIT_USAGE;
			}
			c.props[c.nprops++] = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			c.timeout_ms = end != optarg && !*end && v > 0 && v <= 3600000 ? (int)v : 0;
			if (c.timeout_ms <= 0) {
				ctl_err("--timeout %s: expected milliseconds > 0", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		}
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("logshipctl %s (librdkafka %s)\n", LOGSHIP_VERSION, rd_kafka_version_str()); return 0;
		default: fputs(usage, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return CTL_EXIT_USAGE;
	}
	rd_kafka_conf_t *probe = ctl_conf(&c);  /* a bad -X is a usage error, before any work */
	if (!probe)
		return CTL_EXIT_USAGE;
	rd_kafka_conf_destroy(probe);
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	optind = 0;  /* the command parses its own options from its argv; 0 (not 1)
			 * makes glibc forget the "+" (stop at the first word) of the
			 * line above, so "create T --partitions 4" works too */
	if (strcmp(cmd, "topics") == 0) return ctl_topics(&c, cargc, cargv);
	if (strcmp(cmd, "groups") == 0) return ctl_groups(&c, cargc, cargv);
	if (strcmp(cmd, "consume") == 0) return ctl_consume(&c, cargc, cargv);
	if (strcmp(cmd, "produce") == 0) return ctl_produce(&c, cargc, cargv);
	if (strcmp(cmd, "status") == 0) return ctl_status(&c, cargc, cargv);
	ctl_err("unknown command '%s' (expected topics, groups, consume, produce, status)", cmd);
	return CTL_EXIT_USAGE;
}
