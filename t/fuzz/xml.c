/*
 * xml - S3's XML answers: bk_xml_parse() (every answer goes through it)
 * with a callback that reads each element's path and text whole; then the
 * same document as each kind of answer the tools parse: an error
 * (bk_s3_parse_error(), every failed request's body), a ListObjectsV2
 * page (twice, the chain of companion records carried over, as the pages
 * of one listing), a ListMultipartUploads page, a DeleteObjects result,
 * the answers to starting and completing a multipart upload.
 */
#include "fuzz.h"
#include "s3.h"
#include "s3put.h"
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

static int
obj(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	size_t *sum = arg;

	(void)err;
	*sum += strlen(o->key) + strlen(o->etag) + (size_t)o->size +
	    (size_t)o->mtime;
	return 0;
}

static int
upload(void *arg, const struct bk_s3_upload *u, struct bk_err *err)
{
	size_t *sum = arg;

	(void)err;
	*sum += strlen(u->key) + strlen(u->upload_id) + (size_t)u->initiated;
	return 0;
}

static void
refused(void *arg, const char *key, const char *code, const char *msg)
{
	size_t *sum = arg;

	*sum += strlen(key) + strlen(code) + strlen(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_s3_resp r;
	struct bk_s3_chain chain;
	struct bk_s3_page pg;
	struct bk_err err;
	size_t sum = 0;
	char *doc, id[1100];

	if ((doc = fuzz_str(data, size)) == NULL)
		return 0;
	memset(&err, 0, sizeof(err));
	(void)bk_xml_parse(doc, size, elem, &sum, &err);
	memset(&r, 0, sizeof(r));
	(void)bk_s3_parse_error(doc, size, &r);
	bk_s3_resp_free(&r);
	memset(&chain, 0, sizeof(chain));
	(void)bk_s3_list_page(doc, size, 0, &chain, obj, &sum, &pg, &err);
	(void)bk_s3_list_page(doc, size, BK_S3_LIST_RECORDS, &chain, obj, &sum,
	    &pg, &err);
	bk_s3_chain_free(&chain);
	(void)bk_s3_uploads_page(doc, size, upload, &sum, &pg, &err);
	(void)bk_s3_delete_result(doc, size, refused, &sum, &err);
	if (bk_s3put_upload_id(doc, size, id, sizeof(id)) == 0)
		sum += strlen(id);
	sum += (size_t)bk_s3put_completed(doc, size);
	free(doc);
	return 0;
}
