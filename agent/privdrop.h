/* Switching from root to the configured user at start (see privdrop.c). */
#ifndef LOGSHIP_AGENT_PRIVDROP_H
#define LOGSHIP_AGENT_PRIVDROP_H

/* Hands data_dir to `user` and becomes it, for good, with its groups.
 * A no-op when user is NULL or the process is not root. 0 or -errno (the
 * agent then refuses to run: it was asked not to run as root). */
int privdrop(const char *user, const char *data_dir);

#endif
