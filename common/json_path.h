/* Reading one field out of an event's JSON without parsing it into a tree:
 * outputs route and key by event fields (a topic template such as
 * "logs-${kubernetes.namespace}", an Elasticsearch id_field). A path "a.b.c"
 * matches nested objects ({"a":{"b":{"c":..}}}), a flat ECS key ("a.b.c")
 * or any mix of the two, as Elasticsearch reads them.
 *
 * The scanner is bounded: it never reads past len, gives up on nesting
 * deeper than 64, and treats malformed JSON as "field absent". */
#ifndef LOGSHIP_COMMON_JSON_PATH_H
#define LOGSHIP_COMMON_JSON_PATH_H
#include <stddef.h>

#include "common/sbuf.h"

/* Finds path in the JSON object json[0..len). A string value is appended to
 * out unescaped (\uXXXX decoded to UTF-8); a number, true, false is appended
 * as written; null, an object or an array is "absent". Returns 1 if found,
 * 0 if absent. */
int json_path_get(const char *json, size_t len, const char *path, struct sbuf *out);

/* Expands "${field}" references in tmpl from the event (absent fields expand
 * to `missing`, e.g. "unknown"); "$${" writes a literal "${". Appends to out. */
void json_path_expand(const char *tmpl, const char *json, size_t len, const char *missing, struct sbuf *out);

/* Whether tmpl holds any "${field}" reference. */
int json_path_is_template(const char *tmpl);

#endif
