/* gz - bk_gz_decompress() (bk-gz -d, -t) on the input as a gzip stream. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "gz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	struct bk_gz_opts o;
	struct bk_gz_stats st;
	struct bk_err err;

	if (devnull < 0 && (devnull = open("/dev/null", O_RDONLY)) < 0)
		abort();
	bk_gz_opts_init(&o);
	o.in = devnull;		/* at end of file: all of it is in pre */
	o.out = -1;		/* test only */
	o.pre = data;
	o.prelen = size;
	memset(&st, 0, sizeof(st));
	memset(&err, 0, sizeof(err));
	(void)bk_gz_decompress(&o, &st, &err);
	return 0;
}
