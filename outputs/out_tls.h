/* The `tls:` block shared by the network outputs (elasticsearch, http, tcp):
 *   tls: { ca_file, cert_file, key_file, verify: true, server_name }
 * One struct and one macro that expands to the block's config keys, so each
 * module declares the same keys (with the same docs) inside its own config
 * struct: cfg_bind binds a section into the enclosing struct, so the offsets
 * must be the module's own. `enabled` is set by the module (tls given, or an
 * https:// URL); the keys themselves carry no "enabled" flag. */
#ifndef LOGSHIP_OUTPUTS_OUT_TLS_H
#define LOGSHIP_OUTPUTS_OUT_TLS_H
#include <stddef.h>

#include "common/config.h"

struct out_tls {
	char *ca_file;           /* PEM bundle; NULL = the system's trust store */
	char *cert_file;         /* client certificate (PEM), for mutual TLS */
	char *key_file;          /* its private key (PEM); NULL = inside cert_file */
	int verify;              /* verify the server's certificate and name */
	char *server_name;       /* SNI and the name verified; NULL = the host */
};

/* The section's keys; T is the module's config struct, F its struct out_tls
 * member. Use as the body of a table: { OUT_TLS_KEYS(struct x, tls), <terminator> }. */
#define OUT_TLS_KEYS(T, F) \
	{ "ca_file", CFG_T_STRING, offsetof(T, F.ca_file), NULL, 0, NULL, 0, 0, NULL, \
	  "CA certificates (PEM) to verify the server with; default: the system's trust store" }, \
	{ "cert_file", CFG_T_STRING, offsetof(T, F.cert_file), NULL, 0, NULL, 0, 0, NULL, \
	  "client certificate (PEM) for mutual TLS" }, \
	{ "key_file", CFG_T_STRING, offsetof(T, F.key_file), NULL, 0, NULL, 0, 0, NULL, \
	  "the client certificate's private key (PEM); default: inside cert_file" }, \
	{ "verify", CFG_T_BOOL, offsetof(T, F.verify), "true", 0, NULL, 0, 0, NULL, \
	  "verify the server's certificate chain and name (false: encryption only, no authentication)" }, \
	{ "server_name", CFG_T_STRING, offsetof(T, F.server_name), NULL, 0, NULL, 0, 0, NULL, \
	  "name sent as SNI and verified in the certificate; default: the host connected to" }

/* Whether the config map has a non-null `tls:` key (TLS is then on). */
static inline int out_tls_given(const struct cfg_node *map)
{
	return !cfg_is_null(cfg_get(map, "tls"));
}

#endif
