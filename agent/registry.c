/* The module registry: the one table of compiled-in inputs, filters and outputs.
 * Adding a module means adding its files and one line here. */
#include <string.h>

#include "agent/module.h"

extern const struct input_module generate_input, stdin_input;
extern const struct input_module syslog_input;
extern const struct input_module journald_input;
extern const struct input_module tail_input;
extern const struct output_module file_output, stdout_output;
extern const struct output_module elasticsearch_output;
extern const struct output_module http_output;
extern const struct output_module tcp_output;
extern const struct output_module kafka_output;
extern const struct filter_module filter_parse, filter_grep, filter_modify, filter_throttle;
extern const struct filter_module filter_kubernetes;
extern const struct filter_module filter_kubernetes;

const struct input_module *const registry_inputs[] = {
	&generate_input,
	&stdin_input,
	&syslog_input,
	&journald_input,
	&tail_input,
	NULL,
};

const struct output_module *const registry_outputs[] = {
	&file_output,
	&stdout_output,
	&elasticsearch_output,
	&http_output,
	&tcp_output,
	&kafka_output,
	NULL,
};

/* The order is only the docs' order: a config applies filters in its own. */
const struct filter_module *const registry_filters[] = {
	&filter_parse,
	&filter_grep,
	&filter_modify,
	&filter_throttle,
	&filter_kubernetes,
	NULL,
};

const struct filter_module *registry_filter(const char *type)
{
	for (size_t i = 0; registry_filters[i]; i++)
		if (strcmp(registry_filters[i]->type, type) == 0)
			return registry_filters[i];
	return NULL;
}

const struct input_module *registry_input(const char *type)
{
	for (size_t i = 0; registry_inputs[i]; i++)
		if (strcmp(registry_inputs[i]->type, type) == 0)
			return registry_inputs[i];
	return NULL;
}

const struct output_module *registry_output(const char *type)
{
	for (size_t i = 0; registry_outputs[i]; i++)
		if (strcmp(registry_outputs[i]->type, type) == 0)
			return registry_outputs[i];
	return NULL;
}
