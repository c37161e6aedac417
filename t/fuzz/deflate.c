/* deflate - bk_deflate_block() (bk-gz's levels 4-9) on the input, read
 * back by zlib's inflate: the first two bytes choose the level and how
 * much of the rest is the dictionary, the data after it is compressed.
 * Aborts if the output passes bk_deflate_bound() or does not inflate to
 * the data. */
#include <zlib.h>

#include "deflate.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bk_deflate *ds[BK_DEFLATE_MAX + 1];
	struct bk_deflate *d;
	int level;
	size_t dictlen, len, n, bound;
	unsigned char *out, *back;
	z_stream z;
	int rc;

	if (size < 2)
		return 0;
	level = BK_DEFLATE_MIN + data[0] % (BK_DEFLATE_MAX - BK_DEFLATE_MIN +
	    1);
	if ((d = ds[level]) == NULL && (d = ds[level] =
	    bk_deflate_new(level)) == NULL)
		abort();
	dictlen = ((size_t)(data[0] >> 3) << 8 | data[1]) % 32769;
	data += 2;
	size -= 2;
	if (dictlen > size)
		dictlen = size;
	len = size - dictlen;
	bound = bk_deflate_bound(len);
	if ((out = malloc(bound + 2)) == NULL ||
	    (back = malloc(len + 1)) == NULL)
		abort();
	n = bk_deflate_block(d, data, dictlen, len, out);
	if (n > bound)
		abort();
	out[n] = 0x03;		/* an empty final block */
	out[n + 1] = 0x00;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK)
		abort();
	if (dictlen > 0 && inflateSetDictionary(&z, data, (uInt)dictlen) !=
	    Z_OK)
		abort();
	z.next_in = out;
	z.avail_in = (uInt)(n + 2);
	z.next_out = back;
	z.avail_out = (uInt)(len + 1);
	rc = inflate(&z, Z_FINISH);
	if (rc != Z_STREAM_END || z.total_out != len || z.avail_in != 0 ||
	    (len > 0 && memcmp(back, data + dictlen, len) != 0))
		abort();
	inflateEnd(&z);
	free(out);
	free(back);
	return 0;
}
