/* Access control lists: who may do what to which topic or group.
 *
 * The file, one rule a line ('#' comments, blank lines skipped):
 *     allow|deny  PRINCIPAL  OPERATION  RESOURCE
 *   PRINCIPAL  a user name (SASL), a client certificate's CN (TLS client
 *              auth without SASL), or ANONYMOUS; '*' wildcards match any
 *              run of characters, but never ANONYMOUS, which is matched only
 *              by the literal name.
 *   OPERATION  produce | consume | describe | admin
 *   RESOURCE   topic:PATTERN | group:PATTERN | cluster | PATTERN (= topic:PATTERN)
 * Decision: a matching deny rule for the operation wins; else a matching
 * allow rule for it allows; else the request is denied. produce, consume and
 * admin each imply describe (as Kafka's Write/Read/Alter imply Describe).
 * Without an ACL file every principal may do everything. */
#ifndef LOGSHIP_BROKER_ACL_H
#define LOGSHIP_BROKER_ACL_H
#include <stddef.h>

enum acl_op { ACL_PRODUCE, ACL_CONSUME, ACL_DESCRIBE, ACL_ADMIN };
enum acl_res { ACL_TOPIC, ACL_GROUP, ACL_CLUSTER };

#define ACL_ANONYMOUS "ANONYMOUS"

struct acl_rule {
	int allow;
	enum acl_op op;
	enum acl_res res;
	char *principal;   /* pattern */
	char *pattern;     /* resource name pattern (unused for the cluster) */
	int line;
};
struct acl { struct acl_rule *v; size_t n; };

/* Loads an ACL file: 0, or -errno with err = "path:line: what is wrong". */
int acl_load(const char *path, struct acl **out, char *err, size_t errlen);
/* Parses rules from text (name for messages). */
int acl_parse(const char *name, const char *text, size_t len, struct acl **out, char *err, size_t errlen);
void acl_free(struct acl *a);
/* Whether principal may do op on the resource (name, len; ignored for the
 * cluster). a == NULL allows everything. */
int acl_allowed(const struct acl *a, const char *principal, enum acl_op op, enum acl_res res, const char *name,
		size_t len);
/* '*'-glob match of pattern against s[0..len). */
int acl_glob(const char *pattern, const char *s, size_t len);
const char *acl_op_name(enum acl_op op);

#endif
