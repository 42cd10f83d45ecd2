/* Zigzag varints: hand-checked bytes, the type limits, truncated input,
 * over-long and overflowing encodings, and random round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/varint.h"

struct vec { int64_t v; uint8_t bytes[10]; int n; };

static const struct vec vecs[] = {
	{ 0, { 0x00 }, 1 },
	{ -1, { 0x01 }, 1 },
	{ 1, { 0x02 }, 1 },
	{ -2, { 0x03 }, 1 },
	{ 63, { 0x7e }, 1 },
	{ -64, { 0x7f }, 1 },
	{ 64, { 0x80, 0x01 }, 2 },
	{ -65, { 0x81, 0x01 }, 2 },
	{ 300, { 0xd8, 0x04 }, 2 },
	{ INT32_MAX, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
	{ INT32_MIN, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
	{ INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
	{ INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		uint8_t out[10];
		int n = varlong_encode(vecs[i].v, out);
		assert_int_equal(n, vecs[i].n);
		assert_memory_equal(out, vecs[i].bytes, (size_t)n);
		assert_int_equal(varint_size(vecs[i].v), n);
		int64_t back;
		assert_int_equal(varlong_decode(vecs[i].bytes, (size_t)n, &back), n);
		assert_int_equal(back, vecs[i].v);
		if (vecs[i].v >= INT32_MIN && vecs[i].v <= INT32_MAX) {
			int32_t b32;
			assert_int_equal(varint_encode((int32_t)vecs[i].v, out), n);
			assert_int_equal(varint_decode(vecs[i].bytes, (size_t)n, &b32), n);
			assert_int_equal(b32, vecs[i].v);
		}
	}
}

static void test_bad(void **state)
{
	(void)state;
	int64_t v;
	int32_t v32;
	const uint8_t cont[12] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 };
	/* Truncated: the buffer ends inside. */
	assert_int_equal(varlong_decode(cont, 3, &v), -ENODATA);
	assert_int_equal(varlong_decode(cont, 0, &v), -ENODATA);
	/* Never ends: stops at the type's length. */
	assert_int_equal(varlong_decode(cont, sizeof(cont), &v), -EPROTO);
	assert_int_equal(varint_decode(cont, sizeof(cont), &v32), -EPROTO);
	/* Overflow in the last byte. */
	const uint8_t big32[5] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	assert_int_equal(varint_decode(big32, 5, &v32), -EPROTO);
	const uint8_t big64[10] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03 };
	assert_int_equal(varlong_decode(big64, 10, &v), -EPROTO);
}

static void test_random(void **state)
{
	(void)state;
	srand(11);
	for (int i = 0; i < 100000; i++) {
		uint64_t u = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
		u >>= rand() % 60;
		int64_t x = (int64_t)u;
		if (rand() % 2)
			x = -x;
		uint8_t b[10];
		int n = varlong_encode(x, b);
		int64_t y;
		assert_int_equal(varlong_decode(b, (size_t)n, &y), n);
		assert_int_equal(x, y);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests_name("varint", tests, NULL, NULL);
}
