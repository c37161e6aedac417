/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum PostgreSQL's backup
 * manifests use by default; with the SSE 4.2 instruction where the CPU
 * has it.
 */
#ifndef BK_CRC32C_H
#define BK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue crc (0 to start) over len bytes.  The value is the finished
 * CRC-32C ("123456789" gives 0xe3069283), so calls chain.
 */
uint32_t	bk_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
