/* s3.c - unit tests for lib/s3 and lib/s3put: locations, error documents,
 * listing, uploads and delete answers, backoff, times, the part size
 * schedule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3put.h"
#include "tap.h"

static void
loc(const char *url, int want, const char *bucket, const char *key)
{
	struct bk_s3_loc l;
	struct bk_err e;
	int rc = bk_s3_loc_parse(&l, url, &e);

	if (want == 0)
		ok(rc == 0 && strcmp(l.bucket, bucket) == 0 &&
		    strcmp(l.key, key) == 0, "%s -> %s + \"%s\"", url, bucket,
		    key);
	else
		ok(rc < 0 && e.code == BK_EXIT_USAGE, "%s refused: %s", url,
		    rc < 0 ? e.msg : "accepted");
	if (rc == 0)
		bk_s3_loc_free(&l);
}

/* What a listing callback saw: "key size mtime;" for each object. */
struct seen {
	char	buf[512];
	int	stop_at;	/* return -1 at this object (1-based), or 0 */
	int	n;
};

static int
on_obj(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	struct seen *s = arg;
	size_t k = strlen(s->buf);

	snprintf(s->buf + k, sizeof(s->buf) - k, "%s %llu %lld;", o->key,
	    (unsigned long long)o->size, (long long)o->mtime);
	if (++s->n == s->stop_at)
		return bk_err_set(err, BK_EXIT_RUNTIME, "stop");
	return 0;
}

static int
on_upload(void *arg, const struct bk_s3_upload *u, struct bk_err *err)
{
	struct seen *s = arg;
	size_t k = strlen(s->buf);

	(void)err;
	snprintf(s->buf + k, sizeof(s->buf) - k, "%s %s %lld;", u->key,
	    u->upload_id, (long long)u->initiated);
	return 0;
}

static void
on_refused(void *arg, const char *key, const char *code, const char *msg)
{
	struct seen *s = arg;
	size_t k = strlen(s->buf);

	snprintf(s->buf + k, sizeof(s->buf) - k, "%s %s %s;", key, code, msg);
}

#define DOC(s)	s, strlen(s)
#define ENTRY(k, size) "<Contents><Key>" k "</Key><LastModified>" \
	"2026-11-21T02:00:13.000Z</LastModified><ETag>&quot;x&quot;</ETag>" \
	"<Size>" size "</Size></Contents>"

/* Parse page (a ListBucketResult body) alone; 0 or -1, what fn saw. */
static int
list1(const char *body, int flags, struct seen *s, struct bk_s3_page *pg,
    struct bk_err *e)
{
	struct bk_s3_chain c;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(s, 0, sizeof(*s));
	rc = bk_s3_list_page(body, strlen(body), flags, &c, on_obj, s, pg, e);
	bk_s3_chain_free(&c);
	return rc;
}

static void
answers(void)
{
	static char longkey[1200];
	char body[1600];
	struct bk_s3_chain c;
	struct bk_s3_page pg;
	struct seen s;
	struct bk_err e;
	const char *p1 = "<?xml version=\"1.0\"?><ListBucketResult><Name>b"
	    "</Name><Prefix>db/</Prefix>" ENTRY("db/a.dump", "10")
	    ENTRY("db/b.dump", "20") "<IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>tok/1=</NextContinuationToken>"
	    "</ListBucketResult>";
	const char *p2 = "<ListBucketResult>" ENTRY("db/b.dump.sha256", "99")
	    ENTRY("db/c.dump", "30") "<IsTruncated>false</IsTruncated>"
	    "</ListBucketResult>";

	/* Two pages; the record of b, on the second, is left out. */
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	ok(bk_s3_list_page(p1, strlen(p1), 0, &c, on_obj, &s, &pg, &e) == 0 &&
	    pg.truncated && strcmp(pg.next, "tok/1=") == 0 &&
	    strcmp(s.buf, "db/a.dump 10 1795226413;db/b.dump 20 "
	    "1795226413;") == 0, "a list page: objects, truncated, token "
	    "(%s)", s.buf);
	ok(bk_s3_list_page(p2, strlen(p2), 0, &c, on_obj, &s, &pg, &e) == 0 &&
	    !pg.truncated && pg.next[0] == '\0' &&
	    strstr(s.buf, "sha256") == NULL &&
	    strstr(s.buf, "db/c.dump 30") != NULL,
	    "the next page: a companion record of the page before left out");
	bk_s3_chain_free(&c);
	ok(list1(p2, BK_S3_LIST_RECORDS, &s, &pg, &e) == 0 && s.n == 2,
	    "records listed on request");

	ok(list1("<ListBucketResult>" ENTRY("db/a", "-1") "</ListBucketResult>",
	    0, &s, &pg, &e) < 0 && s.n == 0 && strstr(e.msg, "malformed"),
	    "a negative size is a malformed entry: %s", e.msg);
	ok(list1("<ListBucketResult>" ENTRY("db/a", "1x") "</ListBucketResult>",
	    0, &s, &pg, &e) < 0 && s.n == 0, "a size that is not a number");
	ok(list1("<ListBucketResult><Contents><Size>1</Size><LastModified>"
	    "2026-11-21T02:00:13Z</LastModified></Contents></ListBucketResult>",
	    0, &s, &pg, &e) < 0 && s.n == 0, "an entry without a key");
	ok(list1("<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
	    "<LastModified>yesterday</LastModified></Contents>"
	    "</ListBucketResult>", 0, &s, &pg, &e) < 0 && s.n == 0,
	    "an entry with a bad time");
	memset(longkey, 'k', sizeof(longkey) - 1);
	snprintf(body, sizeof(body), "<ListBucketResult><Contents><Key>%s"
	    "</Key></Contents></ListBucketResult>", longkey);
	ok(list1(body, 0, &s, &pg, &e) < 0 && strstr(e.msg, "too long"),
	    "a key longer than S3 allows: %s", e.msg);
	ok(list1("<ListBucketResult>" ENTRY("x", "1") "<Contents>",
	    0, &s, &pg, &e) < 0, "a page cut short is an error");
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	ok(bk_s3_list_page(p1, strlen(p1), 0, &c, on_obj, &s, &pg, &e) < 0 &&
	    s.n == 1 && strcmp(e.msg, "stop") == 0, "the callback stops it");
	bk_s3_chain_free(&c);

	memset(&s, 0, sizeof(s));
	ok(bk_s3_uploads_page(DOC("<ListMultipartUploadsResult><Bucket>b</Bucket>"
	    "<NextKeyMarker>db/b</NextKeyMarker><NextUploadIdMarker>u2"
	    "</NextUploadIdMarker><IsTruncated>true</IsTruncated><Upload><Key>"
	    "db/a</Key><UploadId>u1</UploadId><Initiated>2026-11-21T02:00:13"
	    ".000Z</Initiated></Upload><Upload><Key>db/b</Key><UploadId>u2"
	    "</UploadId></Upload></ListMultipartUploadsResult>"), on_upload,
	    &s, &pg, &e) == 0 && pg.truncated &&
	    strcmp(pg.next, "db/b") == 0 && strcmp(pg.next_id, "u2") == 0 &&
	    strcmp(s.buf, "db/a u1 1795226413;db/b u2 0;") == 0,
	    "an uploads page: uploads and markers (%s)", s.buf);

	memset(&s, 0, sizeof(s));
	ok(bk_s3_delete_result(DOC("<DeleteResult><Deleted><Key>a</Key></Deleted>"
	    "<Error><Key>b</Key><Code>NoSuchKey</Code><Message>gone</Message>"
	    "</Error><Error><Key>c&amp;d</Key><Code>AccessDenied</Code>"
	    "<Message>no</Message></Error></DeleteResult>"), on_refused,
	    &s, &e) == 1 && strcmp(s.buf, "c&d AccessDenied no;") == 0,
	    "a delete answer: refusals counted, NoSuchKey is deleted (%s)",
	    s.buf);
	ok(bk_s3_delete_result(DOC("<DeleteResult><Error>"), NULL, NULL, &e) < 0,
	    "a delete answer cut short is an error");
}

/* The answers bk_s3put() reads: the UploadId, and whether a 200 to
 * CompleteMultipartUpload is a result. */
static void
put_answers(void)
{
	const char *init = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/"
	    "doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>"
	    "VXBsb2FkIElE.Zm9y-_~</UploadId></InitiateMultipartUploadResult>";
	const char *done = "<?xml version=\"1.0\"?><CompleteMultipartUpload"
	    "Result><Location>http://b/k</Location><ETag>\"3858f62230ac3c915f"
	    "300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
	char id[64];

	ok(bk_s3put_upload_id(init, strlen(init), id, sizeof(id)) == 0 &&
	    strcmp(id, "VXBsb2FkIElE.Zm9y-_~") == 0,
	    "the UploadId of an initiate answer (%s)", id);
	ok(bk_s3put_upload_id(init, strlen(init), id, 20) < 0 &&
	    bk_s3put_upload_id(init, strlen(init), id, 21) == 0,
	    "an UploadId that does not fit is refused");
	ok(bk_s3put_upload_id(DOC("<InitiateMultipartUploadResult><Bucket>b"
	    "</Bucket><UploadId></UploadId></InitiateMultipartUploadResult>"),
	    id, sizeof(id)) < 0, "an empty UploadId is refused");
	ok(bk_s3put_upload_id(DOC("<InitiateMultipartUploadResult><Bucket>b"
	    "</Bucket></InitiateMultipartUploadResult>"), id, sizeof(id)) < 0 &&
	    bk_s3put_upload_id(DOC("<Other><UploadId>x</UploadId></Other>"),
	    id, sizeof(id)) < 0 &&
	    bk_s3put_upload_id(NULL, 0, id, sizeof(id)) < 0,
	    "no UploadId where S3 puts it, or no answer: refused");
	ok(bk_s3put_upload_id(init, strlen(init) - 10, id, sizeof(id)) < 0,
	    "an initiate answer cut off after its UploadId is refused");

	ok(bk_s3put_completed(done, strlen(done)) == 1 &&
	    bk_s3put_completed(DOC("<CompleteMultipartUploadResponse><ETag>x"
	    "</ETag></CompleteMultipartUploadResponse>")) == 1,
	    "a complete answer is a result, whatever its root's name");
	ok(bk_s3put_completed(DOC("<?xml version=\"1.0\"?>\n<Error><Code>"
	    "InternalError</Code><Message>We encountered an internal error."
	    "</Message></Error>")) == 0,
	    "an <Error> sent after the 200 is not a result");
	ok(bk_s3put_completed(done, strlen(done) - 1) == 0 &&
	    bk_s3put_completed(done, 60) == 0 &&
	    bk_s3put_completed(DOC("<html>502 Bad Gateway")) == 0 &&
	    bk_s3put_completed(DOC("")) == 0 &&
	    bk_s3put_completed(DOC("   ")) == 0 &&
	    bk_s3put_completed(NULL, 0) == 0,
	    "a cut-off answer, an HTML page, blank or no body: not a result");
}

int
main(void)
{
	struct bk_s3_resp r;
	struct bk_s3put_opts o;
	unsigned seed = 42, i;
	double d, max = 0;
	time_t t;
	uint64_t total;
	const char *doc = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
	    "<Message>Please reduce your request rate.</Message><Resource>/b"
	    "</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>";

	plan(49);
	answers();
	put_answers();
	loc("s3://bucket/a/b.dump", 0, "bucket", "a/b.dump");
	loc("s3://bucket", 0, "bucket", "");
	loc("s3://bucket/", 0, "bucket", "");
	loc("s3://my.bucket-1/a b+c%20/caf\xc3\xa9//x", 0, "my.bucket-1",
	    "a b+c%20/caf\xc3\xa9//x");
	loc("s3://ab/k", -1, NULL, NULL);
	loc("s3://Bucket/k", -1, NULL, NULL);
	loc("s3://bu/cket/k", -1, NULL, NULL);
	loc("http://bucket/k", -1, NULL, NULL);
	loc("s3://bucket/a\nb", -1, NULL, NULL);

	memset(&r, 0, sizeof(r));
	ok(bk_s3_parse_error(doc, strlen(doc), &r) == 1 &&
	    strcmp(r.code, "SlowDown") == 0 &&
	    strcmp(r.message, "Please reduce your request rate.") == 0 &&
	    strcmp(r.request_id, "4442587FB7D0A2F9") == 0,
	    "an S3 error document: code, message, request id");
	memset(&r, 0, sizeof(r));
	ok(bk_s3_parse_error("<CompleteMultipartUploadResult/>", 32, &r) == 0,
	    "a result document is not an error");
	ok(bk_s3_parse_error("<html>502 Bad Gateway", 21, &r) == 0 &&
	    r.code[0] == '\0', "an HTML proxy page is not an error document");
	ok(bk_s3_parse_error(NULL, 0, &r) == 0, "no body");

	for (i = 0; i < 2000; i++) {
		d = bk_s3_backoff(i % 12, &seed);
		if (d < 0 || d > 20.0)
			break;
		if (d > max)
			max = d;
	}
	ok(i == 2000 && max > 10, "backoff stays in [0, 20] s with full "
	    "jitter (max seen %.2f)", max);
	seed = 7;
	for (i = 0, d = 0; i < 1000; i++)
		d += bk_s3_backoff(0, &seed);
	ok(d / 1000 > 0.05 && d / 1000 < 0.15, "first backoff averages half "
	    "of 200 ms (%.3f)", d / 1000);

	ok(bk_s3_parse_time("2026-11-21T02:00:13.000Z", &t) == 0 &&
	    t == 1795226413, "S3 time with milliseconds (%lld)",
	    (long long)t);
	ok(bk_s3_parse_time("2026-11-21T02:00:13Z", &t) == 0 &&
	    t == 1795226413, "S3 time without");
	ok(bk_s3_parse_time("2026-11-21T02:00:13", &t) < 0,
	    "no zone is refused");
	ok(bk_s3_parse_time("2026-11-21 02:00:13Z", &t) < 0,
	    "a space is refused");
	ok(bk_s3_parse_http_date("Sat, 21 Nov 2026 02:00:13 GMT", &t) == 0 &&
	    t == 1795226413, "an HTTP date");
	ok(bk_s3_parse_http_date("Sat, 21 Nov 2026 02:00:13 PST", &t) < 0,
	    "a non-GMT HTTP date is refused");

	/* part sizes */
	memset(&o, 0, sizeof(o));
	ok(bk_s3put_part_size(&o, 1) == BK_S3PUT_PART0 &&
	    bk_s3put_part_size(&o, 1000) == BK_S3PUT_PART0 &&
	    bk_s3put_part_size(&o, 1001) == 2 * BK_S3PUT_PART0,
	    "growing parts: 6 MiB for the first 1000, then doubling");
	for (i = 1, total = 0; i <= BK_S3_PARTS_MAX; i++)
		total += bk_s3put_part_size(&o, i);
	ok(total >= (5ULL << 40), "10,000 growing parts hold %.2f TiB "
	    "(at least 5)", (double)total / (1ULL << 40));
	ok(bk_s3put_part_size(&o, BK_S3_PARTS_MAX) <= BK_S3_PART_MAX &&
	    bk_s3put_part_size(&o, BK_S3_PARTS_MAX + 1) == 0 &&
	    bk_s3put_part_size(&o, 0) == 0,
	    "no part above 5 GiB; none past 10,000");
	o.part_size = 16 << 20;
	ok(bk_s3put_part_size(&o, 1) == (16 << 20) &&
	    bk_s3put_part_size(&o, 9999) == (16 << 20), "--part-size: fixed");
	o.part_size = 0;
	o.expected_size = 100ULL << 30;
	ok(bk_s3put_part_size(&o, 1) == bk_s3put_part_size(&o, 5000) &&
	    bk_s3put_part_size(&o, 1) * 9000 >= (100ULL << 30) &&
	    bk_s3put_part_size(&o, 1) % (1 << 20) == 0,
	    "--expected-size 100G: one size, whole MiB, fits in 9000 parts "
	    "(%llu)", (unsigned long long)bk_s3put_part_size(&o, 1));
	o.expected_size = 1000;
	ok(bk_s3put_part_size(&o, 1) == BK_S3PUT_PART0,
	    "a small --expected-size keeps the first size");
	o.expected_size = 60ULL << 40;
	ok(bk_s3put_part_size(&o, 1) == BK_S3_PART_MAX,
	    "a huge --expected-size is capped at 5 GiB");
	return done_testing();
}
