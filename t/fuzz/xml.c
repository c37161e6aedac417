/*
 * xml - S3's XML answers: bk_xml_parse() (every answer goes through it)
 * with a callback that reads each element's path and text whole, and
 * bk_s3_parse_error() on the same document, as every failed request's
 * body is parsed.
 */
#include "fuzz.h"
#include "s3.h"
#include "xml.h"

static int
elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	size_t *sum = arg;

	(void)err;
	*sum += strlen(path) + len;
	if (len > 0)
		*sum += (unsigned char)text[0] + (unsigned char)text[len - 1];
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_s3_resp r;
	struct bk_err err;
	size_t sum = 0;
	char *doc;

	if ((doc = fuzz_str(data, size)) == NULL)
		return 0;
	memset(&err, 0, sizeof(err));
	(void)bk_xml_parse(doc, size, elem, &sum, &err);
	memset(&r, 0, sizeof(r));
	(void)bk_s3_parse_error(doc, size, &r);
	bk_s3_resp_free(&r);
	free(doc);
	return 0;
}
