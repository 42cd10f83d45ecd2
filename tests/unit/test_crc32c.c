/* CRC-32C: the published check value and the RFC 3720 (iSCSI) vectors, both
 * implementations, incremental feeding, and hardware against software on
 * random data of random lengths and alignments (crossing the three-stream
 * block boundaries of the hardware path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buffer/crc32c.h"

static void check_all(const void *p, size_t n, uint32_t want)
{
	assert_int_equal(crc32c_sw(0, p, n), want);
	assert_int_equal(crc32c(0, p, n), want);
	if (crc32c_hw_available())
		assert_int_equal(crc32c_hw(0, p, n), want);
}

static void test_vectors(void **state)
{
	(void)state;
	uint8_t b[32];
	check_all("123456789", 9, 0xE3069283);
	check_all("", 0, 0);
	memset(b, 0, sizeof(b));
	check_all(b, 32, 0x8A9136AA);
	memset(b, 0xff, sizeof(b));
	check_all(b, 32, 0x62A8AB43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	check_all(b, 32, 0x46DD794E);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	check_all(b, 32, 0x113FDB5C);
}

static void test_incremental(void **state)
{
	(void)state;
	const char *s = "123456789";
	for (size_t cut = 0; cut <= 9; cut++) {
		uint32_t c = crc32c(0, s, cut);
		assert_int_equal(crc32c(c, s + cut, 9 - cut), 0xE3069283);
		c = crc32c_sw(0, s, cut);
		assert_int_equal(crc32c_sw(c, s + cut, 9 - cut), 0xE3069283);
	}
}

static void test_hw_equals_sw(void **state)
{
	(void)state;
	if (!crc32c_hw_available()) {
		print_message("no SSE4.2 on this CPU: only the software path is tested\n");
		return;
	}
	size_t n = 100000;
	uint8_t *b = malloc(n + 16);
	srand(3);
	for (size_t i = 0; i < n + 16; i++)
		b[i] = (uint8_t)rand();
	for (int round = 0; round < 400; round++) {
		size_t off = (size_t)(rand() % 16), len = (size_t)rand() % n;
		if (round < 40)
			len = 3 * 4096 * (size_t)(round % 4 + 1) + (size_t)(round % 9) - 4;  /* block edges */
		uint32_t seed = (uint32_t)rand();
		assert_int_equal(crc32c_hw(seed, b + off, len), crc32c_sw(seed, b + off, len));
	}
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_hw_equals_sw),
	};
	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
