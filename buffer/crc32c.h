/* CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
 *
 * crc32c() picks the SSE4.2 instruction when the CPU has it (checked once) and a
 * slicing-by-8 table otherwise. Both are exported so tests can hold them against
 * each other. `crc` is the running value: start with 0, feed chunks in order.
 * CRC-32C("123456789") == 0xE3069283. */
#ifndef LOGSHIP_BUFFER_CRC32C_H
#define LOGSHIP_BUFFER_CRC32C_H
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only call when crc32c_hw_available() is true. */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
int crc32c_hw_available(void);

#endif
