/*
 * cli - what users type: sizes, durations and numbers (bk_parse_*), key
 * templates (bk_template_expand), s3:// locations (bk_s3_loc_parse) and
 * the times S3 answers with (bk_s3_parse_time, bk_s3_parse_http_date).
 */
#include <time.h>

#include "cli.h"
#include "fuzz.h"
#include "s3.h"
#include "template.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_s3_loc l;
	struct bk_err err;
	uint64_t v;
	time_t t;
	char out[1100], small[8], *s;

	if ((s = fuzz_str(data, size)) == NULL)
		return 0;
	memset(&err, 0, sizeof(err));
	(void)bk_parse_uint("n", s, 0, UINT64_MAX, &v, &err);
	(void)bk_parse_uint("n", s, 5, 100, &v, &err);
	(void)bk_parse_size("size", s, 0, UINT64_MAX, &v, &err);
	(void)bk_parse_size("size", s, 1, (uint64_t)1 << 40, &v, &err);
	(void)bk_parse_duration("age", s, 0, UINT64_MAX, &v, &err);
	(void)bk_parse_duration("age", s, 1, 3153600000ULL, &v, &err);
	(void)bk_template_expand(s, 1795226413, out, sizeof(out), &err);
	(void)bk_template_expand(s, 0, small, sizeof(small), &err);
	memset(&l, 0, sizeof(l));
	if (bk_s3_loc_parse(&l, s, &err) == 0)
		bk_s3_loc_free(&l);
	(void)bk_s3_parse_time(s, &t);
	(void)bk_s3_parse_http_date(s, &t);
	free(s);
	return 0;
}
