/* crc (crc_): the CRC-32 of zip (IEEE 802.3, reflected, as zlib's crc32) at the speed of
 * the CPU's carry-less multiply where it has one. Every archive byte qextfs downloads or
 * serves is checked against this CRC, so on a 64 MiB archive zlib's table code alone was
 * about 30 ms of the download. Pure functions, no state. */
#ifndef QEXTFS_CRC_H
#define QEXTFS_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes of buf: crc_update(0, ...) starts one, and the result equals
 * zlib's crc32_z(crc, buf, n) for every input. */
uint32_t crc_update(uint32_t crc, const void *buf, size_t n);

/* Whether crc_update uses the carry-less multiply (PCLMULQDQ); for logs and tests. */
int crc_accelerated(void);

#endif
