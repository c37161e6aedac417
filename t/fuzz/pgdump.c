/*
 * pgdump - the pg_dump custom-format reader of bk-verify: header, TOC and
 * data blocks, fed in two pieces split where the first byte says (the
 * reader is a push parser; a split anywhere must give the same result).
 */
#include "fuzz.h"
#include "pgdump.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_pgdump c;
	struct bk_err err;
	size_t cut;

	memset(&err, 0, sizeof(err));
	if (bk_pgdump_init(&c, &err) < 0)
		return 0;
	cut = size > 0 ? data[0] % (size + 1) : 0;
	if (bk_pgdump_feed(&c, data, cut, &err) == 0 &&
	    bk_pgdump_feed(&c, data + cut, size - cut, &err) == 0)
		(void)bk_pgdump_end(&c, &err);
	bk_pgdump_free(&c);
	return 0;
}
