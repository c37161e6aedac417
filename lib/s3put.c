/*
 * s3put.c - a stream of unknown length into one S3 object (see s3put.h).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "cli.h"
#include "io.h"
#include "s3put.h"
#include "xml.h"

#define ETAG_MAX	130

uint64_t
bk_s3put_part_size(const struct bk_s3put_opts *o, unsigned n)
{
	uint64_t sz;

	if (n < 1 || n > BK_S3_PARTS_MAX)
		return 0;
	if (o->part_size != 0)
		return o->part_size;
	if (o->expected_size != 0) {
		/* A tenth to spare: the hint may be low. */
		sz = (o->expected_size + 8999) / 9000;
		sz = (sz + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
		if (sz < BK_S3PUT_PART0)
			sz = BK_S3PUT_PART0;
		return sz > BK_S3_PART_MAX ? BK_S3_PART_MAX : sz;
	}
	sz = BK_S3PUT_PART0 << ((n - 1) / BK_S3PUT_DOUBLE);
	return sz > BK_S3_PART_MAX ? BK_S3_PART_MAX : sz;
}

/* --- the upload ----------------------------------------------------------- */

struct part {
	unsigned	 num;		/* 1-based; 0: free */
	char		*buf;
	size_t		 len;
	size_t		 cap;
};

struct up {
	struct bk_aws			*aws;
	const char			*bucket;
	const char			*key;
	const struct bk_s3put_opts	*o;
	char				 upload_id[1100];

	pthread_mutex_t			 mu;
	pthread_cond_t			 cv;
	struct part			*parts;		/* jobs + 1 buffers */
	unsigned			 nbuf;
	struct part			**todo;		/* FIFO of filled parts */
	unsigned			 ntodo;
	unsigned			 busy;		/* parts being sent */
	int				 done;		/* no more parts */
	int				 failed;
	struct bk_err			 err;
	char				(*etags)[ETAG_MAX];
	unsigned			 nparts;	/* sent so far */
};

/* Record the first failure; wake everyone. */
static void
up_fail(struct up *u, const struct bk_err *err)
{
	pthread_mutex_lock(&u->mu);
	if (!u->failed) {
		u->failed = 1;
		u->err = *err;
	}
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

/* The Content-MD5 header value of data. */
static void
md5_b64(char out[32], const void *data, size_t len)
{
	unsigned char d[16];
	unsigned int dl = 0;

	EVP_Digest(data, len, d, &dl, EVP_md5(), NULL);
	bk_b64_encode(out, d, 16, 1);
}

/* Send one part (retried inside bk_s3_request). */
static int
send_part(struct bk_s3 *s, struct up *u, struct part *p, struct bk_err *err)
{
	struct bk_sigv4_param qp[2];
	struct bk_sigv4_header h[1];
	struct bk_s3_req q;
	struct bk_s3_resp r;
	char num[16], md5[32];
	int rc;

	snprintf(num, sizeof(num), "%u", p->num);
	qp[0].key = "partNumber", qp[0].value = num;
	qp[1].key = "uploadId", qp[1].value = u->upload_id;
	memset(&q, 0, sizeof(q));
	q.method = "PUT";
	q.bucket = u->bucket;
	q.key = u->key;
	q.query = qp;
	q.nquery = 2;
	q.body = p->buf;
	q.len = p->len;
	if (u->o->content_md5) {
		md5_b64(md5, p->buf, p->len);
		h[0].name = "content-md5", h[0].value = md5;
		q.headers = h;
		q.nheaders = 1;
	}
	if ((rc = bk_s3_request(s, &q, &r, err)) == 0) {
		if (r.etag[0] == '\0') {
			rc = bk_err_set(err, BK_EXIT_RUNTIME, "PUT s3://%s/%s "
			    "part %u: no ETag in the answer", u->bucket,
			    u->key, p->num);
		} else {
			pthread_mutex_lock(&u->mu);
			snprintf(u->etags[p->num - 1], ETAG_MAX, "%s", r.etag);
			pthread_mutex_unlock(&u->mu);
		}
	}
	bk_s3_resp_free(&r);
	return rc;
}

static void *
worker(void *arg)
{
	struct up *u = arg;
	struct bk_s3 s;
	struct bk_err err;
	struct part *p;
	unsigned i;

	if (bk_s3_open(&s, u->aws, &err) < 0) {
		up_fail(u, &err);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&u->mu);
		while (u->ntodo == 0 && !u->done && !u->failed)
			pthread_cond_wait(&u->cv, &u->mu);
		if (u->failed || u->ntodo == 0) {
			pthread_mutex_unlock(&u->mu);
			break;
		}
		p = u->todo[0];
		for (i = 1; i < u->ntodo; i++)
			u->todo[i - 1] = u->todo[i];
		u->ntodo--;
		u->busy++;
		pthread_mutex_unlock(&u->mu);

		if (send_part(&s, u, p, &err) < 0)
			up_fail(u, &err);

		pthread_mutex_lock(&u->mu);
		p->num = 0;	/* the buffer is free again */
		u->busy--;
		pthread_cond_broadcast(&u->cv);
		pthread_mutex_unlock(&u->mu);
	}
	bk_s3_close(&s);
	return NULL;
}

/* A free buffer of at least size bytes, waiting for one; NULL if the
 * upload failed meanwhile. */
static struct part *
get_buf(struct up *u, size_t size, struct bk_err *err)
{
	struct part *p = NULL;
	unsigned i;

	pthread_mutex_lock(&u->mu);
	for (;;) {
		if (u->failed)
			break;
		for (i = 0; i < u->nbuf; i++)
			if (u->parts[i].num == 0) {
				p = &u->parts[i];
				break;
			}
		if (p != NULL)
			break;
		pthread_cond_wait(&u->cv, &u->mu);
	}
	pthread_mutex_unlock(&u->mu);
	if (p == NULL)
		return NULL;
	if (p->cap < size) {
		/* Parts grow: drop the old buffer before taking a new one,
		 * so that memory stays within (jobs + 1) x part size. */
		free(p->buf);
		if ((p->buf = malloc(size)) == NULL) {
			p->cap = 0;
			bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "part buffer "
			    "of %zu bytes", size);
			return NULL;
		}
		p->cap = size;
	}
	p->len = 0;
	return p;
}

/* Queue a filled part for the workers. */
static void
queue_part(struct up *u, struct part *p)
{
	pthread_mutex_lock(&u->mu);
	u->todo[u->ntodo++] = p;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

/* --- single requests ------------------------------------------------------ */


/* Does bucket/key exist?  1 yes, 0 no, -1 error. */
static int
exists(struct bk_s3 *s, const char *bucket, const char *key,
    struct bk_err *err)
{
	struct bk_s3_resp r;
	int rc;

	if (bk_s3_head(s, bucket, key, &r, err) < 0) {
		bk_s3_resp_free(&r);
		return -1;
	}
	rc = r.status != 404;
	bk_s3_resp_free(&r);
	return rc;
}

static int
exists_err(const char *bucket, const char *key, struct bk_err *err)
{
	return bk_err_set(err, BK_EXIT_CHECK, "s3://%s/%s: exists "
	    "(--no-clobber)", bucket, key);
}

/*
 * Under no-clobber, before anything is read: 0 if bucket/key is free; 2
 * if it holds the same content by o->same_meta; else -1 with err (exit 1
 * when it is taken).
 */
static int
taken(struct bk_s3 *s, const char *bucket, const char *key,
    const struct bk_s3put_opts *o, struct bk_err *err)
{
	struct bk_s3_resp r;
	const char *v;
	int rc;

	if (bk_s3_head(s, bucket, key, &r, err) < 0) {
		bk_s3_resp_free(&r);
		return -1;
	}
	if (r.status == 404)
		rc = 0;
	else if (o->same_meta == NULL)
		rc = exists_err(bucket, key, err);
	else if ((v = bk_s3_meta_get(&r, o->same_meta)) != NULL &&
	    strcmp(v, o->same_value) == 0)
		rc = 2;
	else
		rc = bk_err_set(err, BK_EXIT_CHECK, "s3://%s/%s: exists, "
		    "%s (--no-clobber)", bucket, key, v == NULL ?
		    "without the metadata to compare" : "with other content");
	bk_s3_resp_free(&r);
	return rc;
}

int
bk_s3put_skip(int fd, const char *where, bk_s3put_eof_fn eof, void *eofarg,
    bk_s3put_progress_fn progress, void *parg, struct bk_s3put_result *res,
    struct bk_err *err)
{
	static unsigned char buf[64 * 1024];
	ssize_t n;

	while ((n = bk_io_read_stop(fd, buf, sizeof(buf), &bk_s3_cancel, NULL,
	    NULL, "reading stdin", err)) > 0) {
		res->size += (uint64_t)n;
		if (progress != NULL)
			progress(parg, (uint64_t)n);
	}
	if (n < 0)
		return -1;
	res->seal = BK_SEAL_NONE;
	if (eof != NULL && eof(eofarg, &res->seal, err) < 0)
		return -1;
	if (res->seal == BK_SEAL_FAILED)
		return bk_err_set(err, BK_EXIT_UPSTREAM, "upstream failed: "
		    "nothing stored at %s", where);
	res->skipped = 1;
	return 0;
}

static void
abort_upload(struct bk_s3 *s, struct up *u)
{
	struct bk_sigv4_param qp[1] = { { "uploadId", u->upload_id } };
	struct bk_s3_resp r;
	struct bk_err e;
	sig_atomic_t was = bk_s3_cancel;

	/* An abort must go out even when cancelled. */
	bk_s3_cancel = 0;
	if (bk_s3_call(s, "DELETE", u->bucket, u->key, qp, 1, NULL, 0, NULL, 0,
	    BK_S3_OK404, &r, &e) < 0)
		bk_warn("abort of the upload to s3://%s/%s failed: %s; "
		    "remove it with bk-prune --abort-incomplete", u->bucket,
		    u->key, e.msg);
	bk_s3_resp_free(&r);
	bk_s3_cancel = was;
}

/* How a seal state is recorded. */
static const char *
seal_name(enum bk_seal_state st)
{
	return st == BK_SEAL_OK ? "ok" : st == BK_SEAL_NONE ? "none" :
	    "unsealed";
}

/* The headers of the object: the caller's, plus the bk-* metadata. */
static size_t
obj_headers(const struct bk_s3put_opts *o, struct bk_sigv4_header *h,
    size_t max, const struct bk_s3put_result *res, char *size, char *seal)
{
	size_t n = 0, i;

	for (i = 0; i < o->nheaders && n < max; i++)
		h[n++] = o->headers[i];
	if (res != NULL && n + 3 <= max) {
		snprintf(size, 24, "%llu", (unsigned long long)res->size);
		snprintf(seal, 16, "%s", seal_name(res->seal));
		h[n].name = "x-amz-meta-bk-size", h[n++].value = size;
		h[n].name = "x-amz-meta-bk-sha256", h[n++].value = res->sha256;
		h[n].name = "x-amz-meta-bk-seal", h[n++].value = seal;
	}
	return n;
}

/* A whole stream that fit in one part: one PUT. */
static int
put_single(struct bk_s3 *s, const char *bucket, const char *key,
    const struct bk_s3put_opts *o, const struct part *p,
    const struct bk_s3put_result *res, struct bk_err *err)
{
	struct bk_sigv4_header h[48];
	struct bk_s3_resp r;
	char size[24], seal[16], md5[32];
	size_t n;
	int rc, cond = o->clobber != BK_S3PUT_CLOBBER;

	n = obj_headers(o, h, 44, res, size, seal);
	if (o->content_md5) {
		md5_b64(md5, p->buf, p->len);
		h[n].name = "content-md5", h[n++].value = md5;
	}
	if (cond) {
		h[n].name = "if-none-match", h[n++].value = "*";
	}
	rc = bk_s3_call(s, "PUT", bucket, key, NULL, 0, h, n, p->buf, p->len, 0,
	    &r, err);
	if (rc < 0 && cond && r.status == 412) {
		rc = exists_err(bucket, key, err);
	} else if (rc < 0 && cond && (r.status == 501 ||
	    strcmp(r.code, "NotImplemented") == 0)) {
		if (o->clobber != BK_S3PUT_NOCLOBBER_CHECK) {
			rc = bk_err_set(err, BK_EXIT_RUNTIME, "s3://%s/%s: the "
			    "server does not support conditional writes "
			    "(If-None-Match); --no-clobber=check checks "
			    "before writing instead", bucket, key);
		} else {
			bk_s3_resp_free(&r);
			if ((rc = exists(s, bucket, key, err)) > 0)
				rc = exists_err(bucket, key, err);
			else if (rc == 0)
				rc = bk_s3_call(s, "PUT", bucket, key, NULL, 0, h,
				    n - 1, p->buf, p->len, 0, &r, err);
		}
	}
	bk_s3_resp_free(&r);
	return rc < 0 ? -1 : 0;
}

/* The CompleteMultipartUpload body. */
static char *
complete_body(struct up *u, size_t *len)
{
	size_t cap = 128 + (size_t)u->nparts * (64 + ETAG_MAX), n;
	char *b = malloc(cap);
	unsigned i;

	if (b == NULL)
		return NULL;
	n = (size_t)snprintf(b, cap, "<CompleteMultipartUpload>");
	for (i = 0; i < u->nparts; i++)
		n += (size_t)snprintf(b + n, cap - n, "<Part><PartNumber>%u"
		    "</PartNumber><ETag>%s</ETag></Part>", i + 1,
		    u->etags[i]);
	n += (size_t)snprintf(b + n, cap - n, "</CompleteMultipartUpload>");
	*len = n;
	return b;
}

struct complete_doc {
	int	root;		/* saw a root element */
	int	error;		/* and it was <Error> */
};

static int
complete_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct complete_doc *d = arg;

	(void)text, (void)len, (void)err;
	if (strchr(path, '/') == NULL) {
		d->root = 1;
		d->error = strcmp(path, "Error") == 0;
	}
	return 0;
}

/* The root's name is not checked: stores differ (moto answers
 * <CompleteMultipartUploadResponse>), and so does botocore's check. */
int
bk_s3put_completed(const char *doc, size_t len)
{
	struct complete_doc d = { 0, 0 };
	struct bk_err e;

	return doc != NULL && bk_xml_parse(doc, len, complete_elem, &d,
	    &e) == 0 && d.root && !d.error;
}

static int
check_result(const char *what, const char *bucket, const char *key,
    struct bk_s3_resp *r, struct bk_err *err)
{
	if (!bk_s3put_completed(r->body, r->len))
		return bk_err_set(err, BK_EXIT_RUNTIME, "%s s3://%s/%s: the "
		    "server's answer is not a result document", what, bucket,
		    key);
	return 0;
}

/*
 * The ETag S3 gives an object completed from these parts: the MD5 of
 * the parts' binary MD5s, "-" and their count.  Returns 0, or -1 if a
 * part's ETag is not a plain MD5 (SSE-KMS, some stores).
 */
static int
multipart_etag(struct up *u, char out[ETAG_MAX])
{
	unsigned char *all, d[16];
	unsigned int dl = 0;
	unsigned i, j;
	int rc = -1;

	if ((all = malloc((size_t)u->nparts * 16 + 1)) == NULL)
		return -1;
	for (i = 0; i < u->nparts; i++) {
		const char *e = u->etags[i];

		if (*e == '"')
			e++;
		for (j = 0; j < 16; j++) {
			unsigned v;

			if (sscanf(e + 2 * j, "%2x", &v) != 1)
				goto out;
			all[16 * i + j] = (unsigned char)v;
		}
	}
	EVP_Digest(all, (size_t)u->nparts * 16, d, &dl, EVP_md5(), NULL);
	for (j = 0; j < 16; j++)
		snprintf(out + 1 + 2 * j, 3, "%02x", d[j]);
	out[0] = '"';
	snprintf(out + 33, ETAG_MAX - 33, "-%u\"", u->nparts);
	rc = 0;
out:
	free(all);
	return rc;
}

/*
 * A CompleteMultipartUpload whose answer was lost or unreadable may still
 * have committed the object.  If the object at the key is the one these
 * parts make (its ETag says so), delete it: a failed upload leaves no
 * object.  An object of someone else's is left alone.
 */
static void
undo_complete(struct bk_s3 *s, struct up *u)
{
	struct bk_s3_resp r;
	struct bk_err e;
	char want[ETAG_MAX];
	sig_atomic_t was = bk_s3_cancel;

	if (u->nparts == 0 || multipart_etag(u, want) < 0)
		return;
	bk_s3_cancel = 0;
	if (bk_s3_head(s, u->bucket, u->key, &r, &e) == 0 &&
	    r.status == 200 && strcmp(r.etag, want) == 0) {
		bk_s3_resp_free(&r);
		if (bk_s3_call(s, "DELETE", u->bucket, u->key, NULL, 0, NULL, 0,
		    NULL, 0, 0, &r, &e) < 0)
			bk_warn("s3://%s/%s: completed despite the failure, "
			    "and could not be removed: %s", u->bucket, u->key,
			    e.msg);
	}
	bk_s3_resp_free(&r);
	bk_s3_cancel = was;
}

/*
 * Record size, SHA-256 and seal of a multipart object in its companion
 * KEY.sha256: a line sha256sum -c reads ("HEX  NAME"), the object's
 * storage headers, and the same three values as metadata.
 */
static int
put_record(struct bk_s3 *s, struct up *u, const struct bk_s3put_result *res,
    struct bk_err *err)
{
	struct bk_sigv4_header h[48];
	struct bk_s3_resp r;
	const char *base = strrchr(u->key, '/');
	char size[24], seal[16], md5[32], *rkey = NULL, *line = NULL;
	size_t n;
	int rc = -1, len;

	base = base != NULL ? base + 1 : u->key;
	/* The storage headers of the object; the record as metadata under
	 * names of its own, since they describe the object, not this. */
	n = obj_headers(u->o, h, 44, NULL, NULL, NULL);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)res->size);
	snprintf(seal, sizeof(seal), "%s", seal_name(res->seal));
	h[n].name = "x-amz-meta-bk-record-size", h[n++].value = size;
	h[n].name = "x-amz-meta-bk-record-seal", h[n++].value = seal;
	if (asprintf(&rkey, "%s%s", u->key, BK_S3PUT_RECORD) < 0 ||
	    (len = asprintf(&line, "%s  %s\n", res->sha256, base)) < 0) {
		rkey = NULL;
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "record");
		goto out;
	}
	if (u->o->content_md5) {
		md5_b64(md5, line, (size_t)len);
		h[n].name = "content-md5", h[n++].value = md5;
	}
	rc = bk_s3_call(s, "PUT", u->bucket, rkey, NULL, 0, h, n, line,
	    (size_t)len, 0, &r, err);
	bk_s3_resp_free(&r);
out:
	free(rkey);
	free(line);
	return rc;
}

struct id_doc {
	char	*id;
	size_t	 size;
	int	 found;
};

static int
id_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct id_doc *d = arg;

	if (strcmp(path, "InitiateMultipartUploadResult/UploadId") == 0) {
		if (len == 0 || len >= d->size)
			return bk_err_set(err, BK_EXIT_RUNTIME, "bad UploadId");
		memcpy(d->id, text, len + 1);
		d->found = 1;
	}
	return 0;
}

int
bk_s3put_upload_id(const char *doc, size_t len, char *id, size_t size)
{
	struct id_doc d = { id, size, 0 };
	struct bk_err e;

	return doc != NULL && bk_xml_parse(doc, len, id_elem, &d, &e) == 0 &&
	    d.found ? 0 : -1;
}

struct orphans {
	struct bk_s3	*s;
	const char	*bucket;
	const char	*key;
	const char	*keep;
	time_t		 since;
	char		 ids[8][1100];
	unsigned	 n;
};

static int
orphan(void *arg, const struct bk_s3_upload *u, struct bk_err *err)
{
	struct orphans *o = arg;

	(void)err;
	if (strcmp(u->key, o->key) == 0 && strcmp(u->upload_id, o->keep) !=
	    0 && u->initiated >= o->since && o->n < 8)
		snprintf(o->ids[o->n++], sizeof(o->ids[0]), "%s",
		    u->upload_id);
	return 0;
}

/*
 * Start a multipart upload.  If the request had to be sent again, the
 * lost answer may have started an upload too: abort those of this key
 * started meanwhile, so that none is left behind.
 */
static int
create_upload(struct bk_s3 *s, const char *bucket, const char *key,
    const struct bk_sigv4_header *h, size_t nh, char *id, size_t idsize,
    struct bk_err *err)
{
	struct bk_sigv4_param qp[1] = { { "uploads", "" } };
	struct bk_s3_resp r;
	time_t t0 = time(NULL);
	unsigned attempts = 0, i;
	int rc;

	rc = bk_s3_call(s, "POST", bucket, key, qp, 1, h, nh, NULL, 0, 0, &r,
	    err);
	attempts = r.attempts;
	if (rc == 0 && bk_s3put_upload_id(r.body, r.len, id, idsize) < 0)
		rc = bk_err_set(err, BK_EXIT_RUNTIME, "POST s3://%s/%s"
		    "?uploads: no UploadId in the answer", bucket, key);
	bk_s3_resp_free(&r);
	if (rc == 0 && attempts > 1) {
		struct orphans *o = calloc(1, sizeof(*o));
		struct bk_err e;

		if (o != NULL) {
			o->s = s;
			o->bucket = bucket;
			o->key = key;
			o->keep = id;
			o->since = t0 - 2;	/* S3 rounds to the second */
			if (bk_s3_list_uploads(s, bucket, key, orphan, o,
			    &e) < 0)
				bk_warn("s3://%s/%s: a retried start may have "
				    "left an upload: %s", bucket, key, e.msg);
			for (i = 0; i < o->n; i++)
				if (bk_s3_abort(s, bucket, key, o->ids[i],
				    &e) < 0)
					bk_warn("s3://%s/%s: could not abort "
					    "the upload a retry left: %s",
					    bucket, key, e.msg);
			free(o);
		}
	}
	return rc;
}

/* Finish a multipart upload: complete it (conditionally under
 * no-clobber), check the answer. */
static int
complete(struct bk_s3 *s, struct up *u, struct bk_err *err)
{
	struct bk_sigv4_param qp[1] = { { "uploadId", u->upload_id } };
	struct bk_sigv4_header h[1] = { { "if-none-match", "*" } };
	struct bk_s3_resp r;
	size_t blen;
	char *body = complete_body(u, &blen);
	int rc, cond = u->o->clobber != BK_S3PUT_CLOBBER;

	if (body == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "complete");
	rc = bk_s3_call(s, "POST", u->bucket, u->key, qp, 1, h, cond, body, blen,
	    BK_S3_MAYFAIL, &r, err);
	if (rc < 0 && cond && r.status == 412) {
		rc = exists_err(u->bucket, u->key, err);
	} else if (rc < 0 && cond && (r.status == 501 ||
	    strcmp(r.code, "NotImplemented") == 0)) {
		if (u->o->clobber != BK_S3PUT_NOCLOBBER_CHECK) {
			rc = bk_err_set(err, BK_EXIT_RUNTIME, "s3://%s/%s: the "
			    "server does not support conditional writes "
			    "(If-None-Match); --no-clobber=check checks "
			    "before writing instead", u->bucket, u->key);
		} else {
			bk_s3_resp_free(&r);
			if ((rc = exists(s, u->bucket, u->key, err)) > 0)
				rc = exists_err(u->bucket, u->key, err);
			else if (rc == 0)
				rc = bk_s3_call(s, "POST", u->bucket, u->key, qp, 1,
				    NULL, 0, body, blen, BK_S3_MAYFAIL, &r, err);
		}
	}
	if (rc == 0)
		rc = check_result("complete", u->bucket, u->key, &r, err);
	bk_s3_resp_free(&r);
	free(body);
	return rc;
}

int
bk_s3put(struct bk_aws *a, const char *bucket, const char *key, int fd,
    const struct bk_s3put_opts *o, bk_s3put_eof_fn eof, void *eofarg,
    bk_s3put_progress_fn progress, void *parg,
    struct bk_s3put_result *res, struct bk_err *err)
{
	struct up u;
	struct bk_s3 s;
	struct part *p = NULL;
	pthread_t *tid = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char dig[32];
	unsigned i, nthr = 0, num;
	uint64_t psz;
	ssize_t n;
	int rc = -1, created = 0, committed = 0, at_eof = 0, completing = 0;
	struct bk_err e2;

	memset(res, 0, sizeof(*res));
	memset(&u, 0, sizeof(u));
	u.aws = a;
	u.bucket = bucket;
	u.key = key;
	u.o = o;
	u.nbuf = (o->jobs ? o->jobs : 1) + 1;
	pthread_mutex_init(&u.mu, NULL);
	pthread_cond_init(&u.cv, NULL);
	if (bk_s3_open(&s, a, err) < 0)
		goto done_nos3;
	if ((u.parts = calloc(u.nbuf, sizeof(*u.parts))) == NULL ||
	    (u.todo = calloc(u.nbuf, sizeof(*u.todo))) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "upload");
		goto out;
	}
	/* Fail early, before reading anything, if the key is taken. */
	if (o->clobber != BK_S3PUT_CLOBBER) {
		int ex = taken(&s, bucket, key, o, err);

		if (ex == 2) {
			char where[1200];

			snprintf(where, sizeof(where), "s3://%s/%s", bucket,
			    key);
			rc = bk_s3put_skip(fd, where, eof, eofarg, progress,
			    parg, res, err);
			goto out;
		}
		if (ex != 0)
			goto out;
	}

	for (num = 1;; num++) {
		if ((psz = bk_s3put_part_size(o, num)) == 0) {
			bk_err_set(err, BK_EXIT_RUNTIME, "s3://%s/%s: the stream "
			    "is longer than %u parts of %llu bytes allow "
			    "(raise --expected-size or --part-size)", bucket,
			    key, BK_S3_PARTS_MAX, (unsigned long long)
			    bk_s3put_part_size(o, BK_S3_PARTS_MAX));
			goto out;
		}
		if ((p = get_buf(&u, psz, err)) == NULL) {
			if (u.failed)
				*err = u.err;
			goto out;
		}
		if ((n = bk_io_read_stop(fd, p->buf, psz, &bk_s3_cancel, NULL,
		    NULL, "reading stdin", err)) < 0)
			goto out;
		p->len = (size_t)n;
		EVP_DigestUpdate(md, p->buf, p->len);
		res->size += p->len;
		if (psz > res->part_size)
			res->part_size = psz;
		if (progress != NULL && n > 0)
			progress(parg, (uint64_t)n);
		at_eof = (uint64_t)n < psz;
		if (at_eof && num == 1)
			break;		/* one PUT */
		if (at_eof && n == 0)
			break;		/* the previous part was the last */
		if (num == 1) {
			struct bk_sigv4_header h[48];
			size_t nh = obj_headers(o, h, 48, NULL, NULL, NULL);

			if (create_upload(&s, bucket, key, h, nh, u.upload_id,
			    sizeof(u.upload_id), err) < 0)
				goto out;
			created = 1;
			if ((u.etags = calloc(BK_S3_PARTS_MAX, ETAG_MAX)) ==
			    NULL || (tid = calloc(u.nbuf - 1,
			    sizeof(*tid))) == NULL) {
				bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM,
				    "upload");
				goto out;
			}
			for (i = 0; i < u.nbuf - 1; i++) {
				if (pthread_create(&tid[i], NULL, worker, &u)) {
					bk_err_set(err, BK_EXIT_RUNTIME,
					    "cannot start a thread");
					goto out;
				}
				nthr++;
			}
		}
		p->num = num;
		u.nparts = num;
		queue_part(&u, p);
		p = NULL;
		if (at_eof)
			break;
	}

	/* A clean end of input: did the upstream succeed? */
	EVP_DigestFinal_ex(md, dig, NULL);
	for (i = 0; i < 32; i++)
		snprintf(res->sha256 + 2 * i, 3, "%02x", dig[i]);
	res->seal = BK_SEAL_NONE;
	if (eof != NULL && eof(eofarg, &res->seal, err) < 0)
		goto out;
	if (res->seal == BK_SEAL_FAILED) {
		bk_err_set(err, BK_EXIT_UPSTREAM, "upstream failed: nothing "
		    "stored at s3://%s/%s", bucket, key);
		goto out;
	}

	if (!created) {
		if (put_single(&s, bucket, key, o, p, res, err) < 0)
			goto out;
		committed = 1;
		rc = 0;
		goto out;
	}
	if (p != NULL) {
		/* An empty final read: its buffer goes back unused. */
		pthread_mutex_lock(&u.mu);
		p->num = 0;
		pthread_mutex_unlock(&u.mu);
		p = NULL;
	}
	pthread_mutex_lock(&u.mu);
	u.done = 1;
	pthread_cond_broadcast(&u.cv);
	pthread_mutex_unlock(&u.mu);
	for (i = 0; i < nthr; i++)
		pthread_join(tid[i], NULL);
	nthr = 0;
	if (u.failed) {
		*err = u.err;
		goto out;
	}
	if (bk_s3_cancel) {
		bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
		goto out;
	}
	res->parts = u.nparts;
	completing = 1;
	if (complete(&s, &u, err) < 0)
		goto out;
	committed = 1;
	if (put_record(&s, &u, res, err) < 0) {
		/* The data is whole but unrecorded: take it back rather
		 * than leave an object that no check can vouch for. */
		struct bk_s3_resp r;

		bk_err_prefix(err, "recording size and SHA-256");
		if (bk_s3_call(&s, "DELETE", bucket, key, NULL, 0, NULL, 0, NULL,
		    0, 0, &r, &e2) < 0)
			bk_warn("s3://%s/%s: stored without its size and "
			    "SHA-256, and could not be removed: %s", bucket,
			    key, e2.msg);
		bk_s3_resp_free(&r);
		goto out;
	}
	rc = 0;
out:
	if (nthr > 0) {
		/* Stop the workers: a failure makes them leave. */
		pthread_mutex_lock(&u.mu);
		u.failed = 1;
		u.done = 1;
		pthread_cond_broadcast(&u.cv);
		pthread_mutex_unlock(&u.mu);
		for (i = 0; i < nthr; i++)
			pthread_join(tid[i], NULL);
	}
	if (rc < 0 && created && !committed) {
		abort_upload(&s, &u);
		if (completing && err->code != BK_EXIT_CHECK)
			undo_complete(&s, &u);
	}
	bk_s3_close(&s);
done_nos3:
	for (i = 0; u.parts != NULL && i < u.nbuf; i++)
		free(u.parts[i].buf);
	free(u.parts);
	free(u.todo);
	free(u.etags);
	free(tid);
	EVP_MD_CTX_free(md);
	pthread_mutex_destroy(&u.mu);
	pthread_cond_destroy(&u.cv);
	return rc;
}
