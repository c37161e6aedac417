/* deflate - bk_deflate_block() (bk-gz's levels 4-9) on the input, read
 * back by zlib's inflate: the first two bytes choose the level and how
 * much of the rest is the dictionary, the data after it is compressed.
 * Aborts if the output passes bk_deflate_bound() or does not inflate to
 * the data. */
#include "deflate.h"
#include "fuzz.h"
#include "../readback.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bk_deflate *ds[BK_DEFLATE_MAX + 1];
	struct bk_deflate *d;
	int level;
	size_t dictlen, len, n, bound;
	unsigned char *out;
	char why[200];

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
	if ((out = malloc(bound + 2)) == NULL)
		abort();
	n = bk_deflate_block(d, data, dictlen, len, out);
	if (n > bound)
		abort();
	if (deflate_reads_back(out, n, data, dictlen, data + dictlen, len,
	    why, sizeof(why)) < 0)
		abort();
	free(out);
	return 0;
}
