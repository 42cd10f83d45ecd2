/* See es_bulk.h. */
#include "outputs/elasticsearch/es_bulk.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/json.h"
#include "common/json_path.h"

void es_bulk_init(struct es_bulk *b, const struct es_bulk_conf *c)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->has_time = strchr(c->index, '%') != NULL;
	b->has_fields = json_path_is_template(c->index);
	b->cached_sec = INT64_MIN;
}

void es_bulk_free(struct es_bulk *b)
{
	sbuf_free(&b->tmp);
}

static const char *dated(struct es_bulk *b, int64_t ts_ms)
{
	int64_t sec = ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000;
	if (sec == b->cached_sec)
		return b->cached;
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(b->cached, sizeof(b->cached), b->c->index, &tm) == 0)
		snprintf(b->cached, sizeof(b->cached), "%s", b->c->index);  /* too long: as written */
	b->cached_sec = sec;
	return b->cached;
}

void es_bulk_index(struct es_bulk *b, const struct out_record *r, struct sbuf *out)
{
	const char *name = b->has_time ? dated(b, r->timestamp) : b->c->index;
	if (!b->has_fields) {
		sbuf_puts(out, name);
		return;
	}
	json_path_expand(name, r->value, r->value_len > 0 ? (size_t)r->value_len : 0,
			 b->c->missing ? b->c->missing : "unknown", out);
}

static void put_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	unsigned char x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (56 - 8 * i));
	EVP_DigestUpdate(ctx, x, sizeof(x));
}

void es_bulk_dedupe_id(const struct out_record *r, char id[ES_ID_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t klen = r->key_len > 0 ? (size_t)r->key_len : 0;
	size_t vlen = r->value_len > 0 ? (size_t)r->value_len : 0;
	struct sbuf probe = { 0 };
	int has_log_offset = vlen && json_path_get(r->value, vlen, "log.offset", &probe);
	sbuf_free(&probe);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	memset(md, 0, sizeof(md));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		/* lengths first, so that no two (key, value) pairs hash alike */
		put_u64(ctx, klen);
		EVP_DigestUpdate(ctx, r->key, klen);
		put_u64(ctx, has_log_offset ? UINT64_MAX : (uint64_t)r->offset);
		put_u64(ctx, vlen);
		EVP_DigestUpdate(ctx, r->value, vlen);
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	EVP_MD_CTX_free(ctx);
	/* 15 bytes = 120 bits = 20 base64 characters */
	for (int i = 0, o = 0; i < 15; i += 3) {
		uint32_t v = (uint32_t)md[i] << 16 | (uint32_t)md[i + 1] << 8 | md[i + 2];
		id[o++] = b64[v >> 18 & 63];
		id[o++] = b64[v >> 12 & 63];
		id[o++] = b64[v >> 6 & 63];
		id[o++] = b64[v & 63];
	}
	id[ES_ID_LEN] = '\0';
}

int es_bulk_add(struct es_bulk *b, const struct out_record *r, struct sbuf *body)
{
	const struct es_bulk_conf *c = b->c;
	size_t vlen = r->value_len > 0 ? (size_t)r->value_len : 0;
	int with_id = 0;
	sbuf_puts(body, c->op_create ? "{\"create\":{\"_index\":" : "{\"index\":{\"_index\":");
	sbuf_reset(&b->tmp);
	es_bulk_index(b, r, &b->tmp);
	json_put_string(body, b->tmp.p ? b->tmp.p : "", b->tmp.len);
	if (c->id_field) {
		sbuf_reset(&b->tmp);
		if (vlen && json_path_get(r->value, vlen, c->id_field, &b->tmp) && b->tmp.len) {
			sbuf_puts(body, ",\"_id\":");
			json_put_string(body, b->tmp.p, b->tmp.len);
			with_id = 1;
		}
	} else if (c->dedupe) {
		char id[ES_ID_LEN + 1];
		es_bulk_dedupe_id(r, id);
		sbuf_puts(body, ",\"_id\":\"");
		sbuf_put(body, id, ES_ID_LEN);
		sbuf_putc(body, '"');
		with_id = 1;
	}
	sbuf_puts(body, "}}\n");
	if (vlen)
		sbuf_put(body, r->value, vlen);
	else
		sbuf_puts(body, "{}");
	sbuf_putc(body, '\n');
	return with_id;
}

size_t es_bulk_estimate(const struct out_record *r)
{
	return (r->value_len > 0 ? (size_t)r->value_len : 2) + 96;
}
