/* See metrics.h. */
#include "common/metrics.h"

#include <math.h>
#include <stdio.h>

void metrics_family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_label_value(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_putc(b, '\\');
		if (*v == '\n') {
			sbuf_puts(b, "\\n");
			continue;
		}
		sbuf_putc(b, *v);
	}
}

void metrics_sample(struct sbuf *b, const char *name, const char *const *labels, double value)
{
	sbuf_puts(b, name);
	if (labels && labels[0]) {
		sbuf_putc(b, '{');
		for (int i = 0; labels[i] && labels[i + 1]; i += 2) {
			if (i)
				sbuf_putc(b, ',');
			sbuf_printf(b, "%s=\"", labels[i]);
			put_label_value(b, labels[i + 1]);
			sbuf_putc(b, '"');
		}
		sbuf_putc(b, '}');
	}
	if (isfinite(value) && value == floor(value) && fabs(value) < 9e15)
		sbuf_printf(b, " %.0f\n", value);
	else
		sbuf_printf(b, " %g\n", value);
}
