/*
 * listing - the listings bk-prune and bk-age read on standard input
 * ("TIME SIZE URL" lines, or bk-s3ls --json): bk_listing_read() on the
 * whole input, bk_listing_parse_line() and bk_listing_parse_time() on it.
 */
#include <stdio.h>
#include <time.h>

#include "fuzz.h"
#include "listing.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_listing l;
	struct bk_listing_obj o;
	struct bk_err err;
	time_t t;
	FILE *fp;
	char *s;

	if ((s = fuzz_str(data, size)) == NULL)
		return 0;
	memset(&err, 0, sizeof(err));
	memset(&o, 0, sizeof(o));
	if (bk_listing_parse_line(s, size, 1, &o, &err) == 0)
		free(o.url);		/* the caller's, on success */
	(void)bk_listing_parse_time(s, size, &t, &err);
	bk_listing_init(&l);
	if ((fp = fmemopen(s, size, "r")) != NULL) {
		(void)bk_listing_read_file(fp, "stdin", &l, &err);
		fclose(fp);
	}
	bk_listing_free(&l);
	free(s);
	return 0;
}
