/*
 * readback.h - how the deflate unit tests and fuzz target check an
 * output of bk_deflate_block(): zlib's inflate must read it back to the
 * input, byte for byte.
 */
#ifndef BK_T_READBACK_H
#define BK_T_READBACK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/*
 * out holds n bytes of raw deflate data and has room for 2 more: an
 * empty final block goes there, so that the stream ends.  Inflated with
 * the dictlen bytes at dict as its dictionary, it must give exactly the
 * len bytes at want and leave nothing over.  Returns 0, or -1 with what
 * went wrong in why.
 */
static inline int
deflate_reads_back(unsigned char *out, size_t n, const unsigned char *dict,
    size_t dictlen, const unsigned char *want, size_t len, char *why,
    size_t whysize)
{
	unsigned char *back = malloc(len + 1);
	z_stream z;
	int rc, r = -1;

	out[n] = 0x03;		/* final fixed block, end of block */
	out[n + 1] = 0x00;
	memset(&z, 0, sizeof(z));
	if (back == NULL || inflateInit2(&z, -15) != Z_OK) {
		snprintf(why, whysize, "out of memory");
		free(back);
		return -1;
	}
	if (dictlen > 0 && inflateSetDictionary(&z, dict, (uInt)dictlen) !=
	    Z_OK) {
		snprintf(why, whysize, "dictionary refused");
		goto out;
	}
	z.next_in = out;
	z.avail_in = (uInt)(n + 2);
	z.next_out = back;
	z.avail_out = (uInt)(len + 1);
	rc = inflate(&z, Z_FINISH);
	if (rc != Z_STREAM_END || z.total_out != len || z.avail_in != 0 ||
	    (len > 0 && memcmp(back, want, len) != 0))
		snprintf(why, whysize, "inflate %d (%s), %lu bytes back of "
		    "%zu, %u left over", rc, z.msg ? z.msg : "-",
		    z.total_out, len, z.avail_in);
	else
		r = 0;
out:
	inflateEnd(&z);
	free(back);
	return r;
}

#endif
