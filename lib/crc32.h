/*
 * crc32.h - CRC-32 as gzip uses it (the polynomial of ISO 3309 and
 * zlib's crc32()), folded with carry-less multiplication where the CPU
 * has it: zlib's table-driven code is an eighth of compression's time on
 * data that compresses well, and more of decompression's.
 */
#ifndef BK_CRC32_H
#define BK_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue crc (0 to start) over len bytes; the same value as zlib's
 * crc32(crc, buf, len) ("123456789" gives 0xcbf43926), so calls chain
 * and mix with crc32_combine().
 */
uint32_t	bk_crc32(uint32_t crc, const void *buf, size_t len);

/* Whether bk_crc32() uses the CPU's carry-less multiply (for tests). */
int		bk_crc32_folds(void);

#endif
