/*
 * tar - the tar reader of bk-dump --all/--physical and bk-verify: headers,
 * sizes in octal and base-256, padding, the end blocks; fed in two pieces,
 * and bk_tar_number() on the first field.
 */
#include "fuzz.h"
#include "tar.h"

static int
out(void *arg, const void *buf, size_t n, struct bk_err *err)
{
	size_t *sum = arg;

	(void)err;
	if (n > 0)
		*sum += ((const unsigned char *)buf)[0] +
		    ((const unsigned char *)buf)[n - 1];
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_tar_walk w;
	struct bk_err err;
	uint64_t v;
	size_t cut, sum = 0;

	memset(&err, 0, sizeof(err));
	(void)bk_tar_number(data, size < 12 ? size : 12, &v);
	bk_tar_walk_init(&w);
	cut = size > 0 ? (size_t)data[0] * 7 % (size + 1) : 0;
	if (bk_tar_walk_feed(&w, data, cut, out, &sum, &err) == 0 &&
	    bk_tar_walk_feed(&w, data + cut, size - cut, out, &sum, &err) == 0)
		(void)bk_tar_walk_end(&w, &err);
	return 0;
}
