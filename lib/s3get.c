/*
 * s3get.c - read a stored object back, resuming and checking (s3get.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsstore.h"
#include "io.h"
#include "s3.h"
#include "s3get.h"

/* Where the bytes go, and what they add up to. */
struct sink {
	int			 fd;
	EVP_MD_CTX		*md;
	uint64_t		 n;
	struct bk_progress	*prog;
	struct bk_s3_resp	*r;
	int			 resuming;	/* expect 206 */
	int			 failed;	/* a write failed: no resume */
};

static int
sink_write(void *arg, const void *data, size_t len, struct bk_err *err)
{
	struct sink *s = arg;

	if (s->resuming && s->r->status != 206) {
		s->failed = 1;
		return bk_err_set(err, BK_EXIT_RUNTIME, "the server ignored "
		    "the Range of a resumed download");
	}
	if (bk_io_write_all(s->fd, data, len, "output", err) < 0) {
		s->failed = 1;
		return -1;
	}
	EVP_DigestUpdate(s->md, data, len);
	s->n += len;
	if (s->prog != NULL)
		bk_progress_add(s->prog, len);
	return 0;
}

/* Compare what was read with the record; fill res. */
static int
check(struct bk_s3get_result *res, struct sink *s, const char *rsize,
    const char *rsha, const char *rseal, struct bk_err *err)
{
	unsigned char d[32];
	unsigned i;

	EVP_DigestFinal_ex(s->md, d, NULL);
	for (i = 0; i < 32; i++)
		snprintf(res->sha256 + 2 * i, 3, "%02x", d[i]);
	res->size = s->n;
	if (rseal != NULL)
		snprintf(res->seal, sizeof(res->seal), "%s", rseal);
	if (rsize == NULL && rsha == NULL)
		return 0;
	if (rsize != NULL && strtoull(rsize, NULL, 10) != s->n)
		return bk_err_set(err, BK_EXIT_CHECK, "%s: %llu bytes read, "
		    "but %s were stored", res->url, (unsigned long long)s->n,
		    rsize);
	if (rsha != NULL && strcmp(rsha, res->sha256) != 0)
		return bk_err_set(err, BK_EXIT_CHECK, "%s: SHA-256 mismatch: "
		    "read %s, stored %s", res->url, res->sha256, rsha);
	res->checked = 1;
	return 0;
}

/* --- --latest ------------------------------------------------------------- */

struct newest {
	char	*name;
	time_t	 t;
};

static int
keep_newest(struct newest *nw, const char *name, time_t t)
{
	if (nw->name != NULL && (t < nw->t || (t == nw->t &&
	    strcmp(name, nw->name) <= 0)))
		return 0;
	free(nw->name);
	if ((nw->name = strdup(name)) == NULL)
		return -1;
	nw->t = t;
	return 0;
}

static int
newest_s3(void *arg, const struct bk_s3_obj *o, struct bk_err *err)
{
	if (keep_newest(arg, o->key, o->mtime) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	return 0;
}

static int
newest_fs(void *arg, const char *path, uint64_t size, time_t mtime,
    struct bk_err *err)
{
	(void)size;
	if (keep_newest(arg, path, mtime) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	return 0;
}

/* --- output --------------------------------------------------------------- */

/* A temp file beside out; its name into tmp (malloc'd). */
static int
open_tmp(const char *out, char **tmp, struct bk_err *err)
{
	char *d = strdup(out), *b = strdup(out);
	int fd = -1;

	if (d != NULL && b != NULL && asprintf(tmp, "%s/.%s.XXXXXX.bk-tmp",
	    dirname(d), basename(b)) >= 0) {
		if ((fd = mkostemps(*tmp, 7, O_CLOEXEC)) < 0) {
			bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", out);
			free(*tmp);
			*tmp = NULL;
		} else {
			mode_t um = umask(0);

			umask(um);
			fchmod(fd, 0666 & ~um);
		}
	} else {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", out);
		*tmp = NULL;
	}
	free(d);
	free(b);
	return fd;
}

/* fsync, rename into place, fsync the directory. */
static int
commit_tmp(int fd, const char *tmp, const char *out, struct bk_err *err)
{
	char *d;
	int dfd, rc;

	if (fsync(fd) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", out);
	if (rename(tmp, out) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", out);
	if ((d = strdup(out)) == NULL)
		return 0;
	if ((dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
	    0) {
		rc = fsync(dfd);
		close(dfd);
		if (rc < 0) {
			free(d);
			return bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s",
			    out);
		}
	}
	free(d);
	return 0;
}

/* --- the two backends ----------------------------------------------------- */

/*
 * The record of a multipart object: its companion KEY.sha256, one line
 * "HEX  NAME" and the size and seal as metadata.  None is no record (the
 * object was not stored by bk-s3put): *size and *sha stay NULL.
 */
static int
record(struct bk_s3 *c, const char *bucket, const char *key, const char *url,
    char **size, char **sha, char **seal, struct bk_err *err)
{
	struct bk_s3_req q;
	struct bk_s3_resp r;
	const char *base = strrchr(key, '/'), *v;
	char *rkey;
	size_t bl, i;
	int rc = -1;

	base = base != NULL ? base + 1 : key;
	bl = strlen(base);
	if (asprintf(&rkey, "%s.sha256", key) < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "record");
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.bucket = bucket;
	q.key = rkey;
	q.ok404 = 1;
	if (bk_s3_request(c, &q, &r, err) < 0)
		goto out;
	rc = 0;
	if (r.status == 404)
		goto out;
	/* "<64 hex>  NAME\n", NAME the object's last path element */
	rc = -1;
	if (r.len != 64 + 2 + bl + 1 || r.body[64] != ' ' ||
	    r.body[65] != ' ' || memcmp(r.body + 66, base, bl) != 0 ||
	    r.body[r.len - 1] != '\n' ||
	    (v = bk_s3_meta_get(&r, "bk-record-size")) == NULL) {
		bk_err_set(err, BK_EXIT_CHECK, "%s: its record s3://%s/%s is "
		    "malformed", url, bucket, rkey);
		goto out;
	}
	for (i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", r.body[i]) || r.body[i] == 0) {
			bk_err_set(err, BK_EXIT_CHECK, "%s: its record s3://%s/%s "
			    "is malformed", url, bucket, rkey);
			goto out;
		}
	*size = strdup(v);
	*sha = strndup(r.body, 64);
	if ((v = bk_s3_meta_get(&r, "bk-record-seal")) != NULL)
		*seal = strdup(v);
	rc = 0;
out:
	bk_s3_resp_free(&r);
	free(rkey);
	return rc;
}

static int
get_s3(const char *url, const struct bk_aws_opts *ao, int latest,
    struct sink *s, struct bk_s3get_result *res, struct bk_err *err)
{
	struct bk_aws aws;
	struct bk_s3_loc l = { NULL, NULL };
	struct bk_s3 c;
	struct bk_s3_req q;
	struct bk_s3_resp r;
	struct bk_sigv4_header h[2];
	char range[64], etag[130], *rsize = NULL, *rsha = NULL, *rseal = NULL;
	struct newest nw = { NULL, 0 };
	unsigned tries = 0;
	uint64_t before;
	int rc = -1, open = 0, aws_ok = 0;

	memset(&r, 0, sizeof(r));
	if (bk_s3_loc_parse(&l, url, err) < 0)
		return -1;
	if (bk_aws_load(&aws, ao, err) < 0)
		goto out;
	aws_ok = 1;
	if (bk_s3_open(&c, &aws, err) < 0)
		goto out;
	open = 1;
	if (latest) {
		if (bk_s3_list(&c, l.bucket, l.key, 0, newest_s3, &nw,
		    err) < 0)
			goto out;
		if (nw.name == NULL) {
			bk_err_set(err, BK_EXIT_CHECK, "%s: no object under "
			    "this prefix", url);
			goto out;
		}
		free(l.key);
		l.key = nw.name;
		nw.name = NULL;
	} else if (l.key[0] == '\0') {
		bk_err_set(err, BK_EXIT_USAGE, "%s: no object key", url);
		goto out;
	}
	if (asprintf(&res->url, "s3://%s/%s", l.bucket, l.key) < 0) {
		res->url = NULL;
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", url);
		goto out;
	}
	etag[0] = '\0';
	for (;;) {
		size_t nh = 0;

		memset(&q, 0, sizeof(q));
		q.method = "GET";
		q.bucket = l.bucket;
		q.key = l.key;
		q.sink = sink_write;
		q.sink_arg = s;
		q.ok404 = 1;
		s->resuming = s->n > 0;
		if (s->resuming) {
			snprintf(range, sizeof(range), "bytes=%llu-",
			    (unsigned long long)s->n);
			h[nh].name = "range", h[nh++].value = range;
			h[nh].name = "if-match", h[nh++].value = etag;
		}
		q.headers = h;
		q.nheaders = nh;
		s->r = &r;
		before = s->n;
		if (bk_s3_request(&c, &q, &r, err) == 0) {
			if (r.status == 404) {
				bk_err_set(err, BK_EXIT_CHECK, "%s: no such "
				    "object", res->url);
				goto out;
			}
			break;
		}
		/* Broken mid-body: go on from where it stopped, from the
		 * same object (If-Match), unless writing failed. */
		/* A connection that broke after a good stretch starts the
		 * count again: only resumes that get nowhere use it up. */
		if (s->n - before >= (1 << 20))
			tries = 0;
		if (s->failed || r.delivered == 0 || bk_s3_cancel)
			goto out;
		if (++tries > c.retries) {
			bk_err_prefix(err, "%s: %u resumes in a row got "
			    "nowhere", res->url, c.retries);
			goto out;
		}
		bk_s3_nap(bk_s3_backoff(tries - 1, &c.seed));
		if (etag[0] == '\0')
			snprintf(etag, sizeof(etag), "%s", r.etag);
		if (bk_verbose > 0)
			bk_warn("%s: %s; resuming at byte %llu", res->url,
			    err->msg, (unsigned long long)s->n);
		bk_s3_resp_free(&r);
	}
	if ((rsize = (char *)bk_s3_meta_get(&r, "bk-size")) != NULL)
		rsize = strdup(rsize);
	if ((rsha = (char *)bk_s3_meta_get(&r, "bk-sha256")) != NULL)
		rsha = strdup(rsha);
	if ((rseal = (char *)bk_s3_meta_get(&r, "bk-seal")) != NULL)
		rseal = strdup(rseal);
	if (rsize == NULL && rsha == NULL && record(&c, l.bucket, l.key,
	    res->url, &rsize, &rsha, &rseal, err) < 0)
		goto out;
	rc = check(res, s, rsize, rsha, rseal, err);
out:
	bk_s3_resp_free(&r);
	free(rsize);
	free(rsha);
	free(rseal);
	free(nw.name);
	if (open)
		bk_s3_close(&c);
	if (aws_ok)
		bk_aws_free(&aws);
	bk_s3_loc_free(&l);
	return rc;
}

static int
get_fs(const char *loc, int latest, struct sink *s,
    struct bk_s3get_result *res, struct bk_err *err)
{
	struct bk_fs_meta m;
	struct newest nw = { NULL, 0 };
	char *path = NULL, *buf = NULL, sz[24];
	ssize_t n;
	int fd = -1, rc = -1;

	if (bk_fs_path(loc, &path, err) < 0)
		return -1;
	if (latest) {
		if (bk_fs_list(path, newest_fs, &nw, err) < 0)
			goto out;
		if (nw.name == NULL) {
			bk_err_set(err, BK_EXIT_CHECK, "%s: no file under this "
			    "prefix", loc);
			goto out;
		}
		free(path);
		path = nw.name;
		nw.name = NULL;
	}
	if ((res->url = strdup(path)) == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
		goto out;
	}
	if (bk_fs_open(path, &fd, &m, err) < 0)
		goto out;
	if ((buf = malloc(1 << 20)) == NULL) {
		bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
		goto out;
	}
	while ((n = bk_io_read_full(fd, buf, 1 << 20, path, err)) > 0) {
		if (bk_s3_cancel) {
			bk_err_set(err, BK_EXIT_RUNTIME, "interrupted");
			goto out;
		}
		s->resuming = 0;
		if (sink_write(s, buf, (size_t)n, err) < 0)
			goto out;
	}
	if (n < 0)
		goto out;
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)m.rec_size);
	rc = check(res, s, m.has_meta ? sz : NULL, m.has_meta ? m.sha256 :
	    NULL, m.has_meta ? m.seal : NULL, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	free(nw.name);
	return rc;
}

int
bk_s3get(const char *loc, const struct bk_aws_opts *aws, int latest,
    const char *out, struct bk_progress *prog, struct bk_s3get_result *res,
    struct bk_err *err)
{
	struct sink s;
	char *tmp = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.fd = 1;
	s.prog = prog;
	if ((s.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s.md);
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "SHA-256");
	}
	if (out != NULL && (s.fd = open_tmp(out, &tmp, err)) < 0) {
		EVP_MD_CTX_free(s.md);
		return -1;
	}
	if (strncmp(loc, "s3://", 5) == 0)
		rc = get_s3(loc, aws, latest, &s, res, err);
	else
		rc = get_fs(loc, latest, &s, res, err);
	if (out != NULL) {
		if (rc == 0)
			rc = commit_tmp(s.fd, tmp, out, err);
		if (close(s.fd) < 0 && rc == 0)
			rc = bk_err_sys(err, BK_EXIT_RUNTIME, errno, "%s", out);
		if (rc < 0)
			unlink(tmp);
		free(tmp);
	}
	EVP_MD_CTX_free(s.md);
	return rc;
}

void
bk_s3get_result_free(struct bk_s3get_result *res)
{
	free(res->url);
	res->url = NULL;
}
