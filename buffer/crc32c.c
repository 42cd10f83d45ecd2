/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78); see crc32c.h.
 *
 * Hardware path: the SSE4.2 crc32 instruction, 8 bytes at a time, on three
 * independent streams so that the instruction's 3-cycle latency is hidden
 * (one per cycle throughput), the streams then merged with a carry-less
 * "shift" done by table: crc(A||B) = shift(crc(A), len(B)) ^ crc(B). Blocks
 * below a threshold take the simple single-stream loop.
 * Software path: slicing-by-8, eight table lookups per 8 bytes. */
#include "buffer/crc32c.h"

#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int table_ready;

static void make_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static void ensure_tables(void)
{
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		make_tables();  /* idempotent: racing threads compute the same values */
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ensure_tables();
	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;  /* little-endian: the CRC folds into the low 4 bytes */
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* Multiplication in GF(2) modulo the (reflected) polynomial. */
static uint32_t gf2_mul(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;
	for (int i = 0; i < 32; i++) {
		if (b & 0x80000000u)
			prod ^= a;
		b <<= 1;
		a = a & 1 ? (a >> 1) ^ POLY : a >> 1;
	}
	return prod;
}

/* x^(8n) mod P, reflected: the factor that shifts a CRC over n zero bytes. */
static uint32_t x_pow_8n(size_t n)
{
	uint32_t result = 0x80000000u, base = 0x00800000u;  /* x^0, x^8 */
	while (n) {
		if (n & 1)
			result = gf2_mul(result, base);
		base = gf2_mul(base, base);
		n >>= 1;
	}
	return result;
}

/* Shift tables for one fixed block length: shift(crc) = crc * x^(8*BLOCK). */
#define BLOCK 4096   /* bytes per stream per round */
static uint32_t shift_tab[4][256];
static int shift_ready;

static void make_shift(void)
{
	uint32_t k = x_pow_8n(BLOCK);
	for (uint32_t i = 0; i < 256; i++)
		for (int b = 0; b < 4; b++)
			shift_tab[b][i] = gf2_mul(i << (8 * b), k);
	__atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t shift_block(uint32_t crc)
{
	return shift_tab[0][crc & 0xff] ^ shift_tab[1][(crc >> 8) & 0xff] ^
	       shift_tab[2][(crc >> 16) & 0xff] ^ shift_tab[3][crc >> 24];
}

__attribute__((target("sse4.2")))
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c0 = ~crc;
	if (!__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE))
		make_shift();
	while (len && ((uintptr_t)p & 7)) {
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
		len--;
	}
	/* Three streams of BLOCK bytes each per round. */
	while (len >= 3 * BLOCK) {
		uint64_t c1 = 0, c2 = 0;
		const uint8_t *p1 = p + BLOCK, *p2 = p + 2 * BLOCK;
		for (size_t i = 0; i < BLOCK; i += 8) {
			uint64_t w0, w1, w2;
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p1 + i, 8);
			memcpy(&w2, p2 + i, 8);
			c0 = _mm_crc32_u64(c0, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		/* Streams 1 and 2 started from 0 (not ~0): combining by shift and
		 * xor is exact because CRC is linear over GF(2). */
		c0 = shift_block((uint32_t)c0) ^ (uint32_t)c1;
		c0 = shift_block((uint32_t)c0) ^ (uint32_t)c2;
		p += 3 * BLOCK;
		len -= 3 * BLOCK;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c0 = _mm_crc32_u64(c0, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	return ~(uint32_t)c0;
}

int crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len) { return crc32c_sw(crc, buf, len); }
int crc32c_hw_available(void) { return 0; }
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	static int hw = -1;
	int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
	if (h < 0) {
		h = crc32c_hw_available();
		__atomic_store_n(&hw, h, __ATOMIC_RELAXED);
	}
	return h ? crc32c_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
}
