/*
 * s3.c - signed S3 requests on libcurl, with retries (see s3.h).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "cli.h"
#include "progress.h"
#include "s3.h"
#include "secret.h"
#include "xml.h"

volatile sig_atomic_t	bk_s3_cancel;

static void
on_signal(int sig)
{
	bk_s3_cancel = sig;
}

void
bk_s3_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: reads stop */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

#define URL_MAX		(16 * 1024)
#define BACKOFF_BASE	0.2
#define BACKOFF_CAP	20.0

static pthread_once_t	curl_once = PTHREAD_ONCE_INIT;
static CURLcode		curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- locations ------------------------------------------------------------ */

int
bk_s3_loc_parse(struct bk_s3_loc *l, const char *url, struct bk_err *err)
{
	const char *b, *slash;
	size_t n, i;

	l->bucket = l->key = NULL;
	if (strncmp(url, "s3://", 5) != 0)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: not an s3:// URL",
		    url);
	b = url + 5;
	slash = strchr(b, '/');
	n = slash != NULL ? (size_t)(slash - b) : strlen(b);
	if (n < 3 || n > 63)
		return bk_err_set(err, BK_EXIT_USAGE, "%s: a bucket name has 3 "
		    "to 63 characters", url);
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)b[i]) &&
		    !isdigit((unsigned char)b[i]) && b[i] != '-' &&
		    b[i] != '.' && b[i] != '_')
			return bk_err_set(err, BK_EXIT_USAGE, "%s: bad bucket "
			    "name (lower-case letters, digits, '-', '.')", url);
	l->bucket = strndup(b, n);
	l->key = strdup(slash != NULL ? slash + 1 : "");
	if (l->bucket == NULL || l->key == NULL) {
		bk_s3_loc_free(l);
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", url);
	}
	for (i = 0; l->key[i] != '\0'; i++)
		if ((unsigned char)l->key[i] < 0x20 || l->key[i] == 0x7f) {
			bk_s3_loc_free(l);
			return bk_err_set(err, BK_EXIT_USAGE, "%s: control "
			    "character in the key", url);
		}
	if (strlen(l->key) > 1024) {
		bk_s3_loc_free(l);
		return bk_err_set(err, BK_EXIT_USAGE, "%s: a key has at most "
		    "1024 bytes", url);
	}
	return 0;
}

void
bk_s3_loc_free(struct bk_s3_loc *l)
{
	free(l->bucket);
	free(l->key);
	l->bucket = l->key = NULL;
}

/* --- connection ----------------------------------------------------------- */

int
bk_s3_open(struct bk_s3 *s, struct bk_aws *a, struct bk_err *err)
{
	const char *v;

	memset(s, 0, sizeof(*s));
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return bk_err_set(err, BK_EXIT_RUNTIME, "libcurl: %s",
		    curl_easy_strerror(curl_init_rc));
	if ((s->curl = curl_easy_init()) == NULL)
		return bk_err_set(err, BK_EXIT_RUNTIME, "libcurl: cannot "
		    "create a handle");
	s->aws = a;
	s->retries = BK_S3_RETRIES;
	s->stall = 60;
	/* BK_S3_RETRIES and BK_S3_TIMEOUT (seconds without progress). */
	if ((v = getenv("BK_S3_RETRIES")) != NULL && *v != '\0') {
		uint64_t n;
		struct bk_err e;

		if (bk_parse_uint("BK_S3_RETRIES", v, 0, 100, &n, &e) < 0)
			bk_warn("%s (using %u)", e.msg, s->retries);
		else
			s->retries = (unsigned)n;
	}
	if ((v = getenv("BK_S3_TIMEOUT")) != NULL && *v != '\0') {
		uint64_t n;
		struct bk_err e;

		if (bk_parse_duration("BK_S3_TIMEOUT", v, 1, 86400, &n,
		    &e) < 0)
			bk_warn("%s (using %.0f s)", e.msg, s->stall);
		else
			s->stall = (double)n;
	}
	s->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^
	    (unsigned)(uintptr_t)s;
	s->verbose = bk_verbose >= 2;
	return 0;
}

void
bk_s3_close(struct bk_s3 *s)
{
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	s->curl = NULL;
}

/* --- responses ------------------------------------------------------------ */

void
bk_s3_resp_free(struct bk_s3_resp *r)
{
	size_t i;

	free(r->body);
	for (i = 0; i < r->nmeta; i++) {
		free(r->meta[i].name);
		free(r->meta[i].value);
	}
	memset(r, 0, sizeof(*r));
}

const char *
bk_s3_meta_get(const struct bk_s3_resp *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nmeta; i++)
		if (strcmp(r->meta[i].name, name) == 0)
			return r->meta[i].value;
	return NULL;
}

struct errdoc {
	struct bk_s3_resp	*r;
	int			 is_error;
};

static int
error_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct errdoc *d = arg;

	(void)len, (void)err;
	if (strcmp(path, "Error") == 0)
		d->is_error = 1;
	else if (strcmp(path, "Error/Code") == 0)
		snprintf(d->r->code, sizeof(d->r->code), "%s", text);
	else if (strcmp(path, "Error/Message") == 0)
		snprintf(d->r->message, sizeof(d->r->message), "%s", text);
	else if (strcmp(path, "Error/RequestId") == 0 &&
	    d->r->request_id[0] == '\0')
		snprintf(d->r->request_id, sizeof(d->r->request_id), "%s",
		    text);
	return 0;
}

int
bk_s3_parse_error(const char *doc, size_t len, struct bk_s3_resp *r)
{
	struct errdoc d = { r, 0 };
	struct bk_err e;

	if (doc == NULL || len == 0)
		return 0;
	if (bk_xml_parse(doc, len, error_elem, &d, &e) < 0)
		return 0;
	return d.is_error;
}

/* --- one transfer --------------------------------------------------------- */

struct xfer {
	const struct bk_s3_req	*q;
	struct bk_s3_resp	*r;
	struct bk_err		*err;
	size_t			 sent;		/* of q->body */
	size_t			 cap;
	int			 sink_failed;
	struct bk_err		 sink_err;
	double			 stall;		/* seconds allowed without progress */
	double			 last;		/* when bytes last moved */
	curl_off_t		 moved;		/* bytes moved both ways */
	int			 stalled;
	int			 attempts;
};

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t left = x->q->len - x->sent;

	n *= size;
	if (n > left)
		n = left;
	memcpy(buf, (const char *)x->q->body + x->sent, n);
	x->sent += n;
	return n;
}

static int
on_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || (size_t)off > x->q->len)
		return CURL_SEEKFUNC_FAIL;
	x->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct bk_s3_resp *r = x->r;

	n *= size;
	if (x->q->sink != NULL && r->status >= 200 && r->status < 300) {
		if (x->q->sink(x->q->sink_arg, p, n, &x->sink_err) < 0) {
			x->sink_failed = 1;
			return 0;
		}
		r->delivered += n;
		return n;
	}
	if (r->len + n > BK_S3_BODYMAX)
		return 0;
	if (r->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		if ((b = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = b;
		x->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Copy the trimmed value of a header line into out. */
static void
hval(char *out, size_t size, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct bk_s3_resp *r = x->r;
	const char *colon;
	char tmp[128];
	size_t nl;

	n *= size;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);

		/* A new response (after 100 Continue): start over. */
		r->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if ((colon = memchr(p, ':', n)) == NULL)
		return n;
	nl = (size_t)(colon - p);
	n -= nl + 1;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(p, name, nl) == 0)
	if (IS("etag")) {
		hval(r->etag, sizeof(r->etag), colon + 1, n);
	} else if (IS("x-amz-request-id")) {
		hval(r->request_id, sizeof(r->request_id), colon + 1, n);
	} else if (IS("last-modified")) {
		hval(r->last_modified, sizeof(r->last_modified), colon + 1,
		    n);
	} else if (IS("content-length")) {
		hval(tmp, sizeof(tmp), colon + 1, n);
		r->content_length = strtoull(tmp, NULL, 10);
		r->have_length = 1;
	} else if (IS("content-range")) {
		const char *sl;

		hval(tmp, sizeof(tmp), colon + 1, n);
		if ((sl = strchr(tmp, '/')) != NULL && sl[1] != '*')
			r->total = strtoull(sl + 1, NULL, 10);
	} else if (nl > 11 && strncasecmp(p, "x-amz-meta-", 11) == 0 &&
	    r->nmeta < BK_S3_META_MAX) {
		struct bk_s3_meta *m = &r->meta[r->nmeta];
		size_t i;

		if ((m->name = strndup(p + 11, nl - 11)) == NULL ||
		    (m->value = malloc(n + 1)) == NULL) {
			free(m->name);
			m->name = NULL;
			return 0;
		}
		for (i = 0; m->name[i] != '\0'; i++)
			m->name[i] = (char)tolower((unsigned char)m->name[i]);
		hval(m->value, n + 1, colon + 1, n);
		r->nmeta++;
	}
#undef IS
	return n + nl + 1;
}

/* Called by curl about once a second and whenever bytes move: stop on
 * a cancel, or after s->stall seconds in which no byte moved (curl's own
 * low-speed check averages over the last seconds, and so reacts late). */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct xfer *x = arg;
	double now = bk_now();

	(void)dt, (void)ut;
	if (bk_s3_cancel)
		return 1;
	if (dn + un != x->moved || x->last == 0) {
		x->moved = dn + un;
		x->last = now;
	} else if (now - x->last > x->stall) {
		x->stalled = 1;
		return 1;
	}
	return 0;
}

/* Append "&" or "?" and "k=v" (encoded) to url. */
static size_t
add_query(char *url, size_t n, size_t size, const struct bk_sigv4_param *p,
    int first)
{
	if (n < size)
		url[n] = first ? '?' : '&';
	n++;
	n += bk_sigv4_encode(url + (n < size ? n : size), n < size ?
	    size - n : 0, p->key, strlen(p->key), 0);
	if (p->value != NULL && *p->value != '\0') {
		if (n < size)
			url[n] = '=';
		n++;
		n += bk_sigv4_encode(url + (n < size ? n : size), n < size ?
		    size - n : 0, p->value, strlen(p->value), 0);
	} else {
		if (n < size)
			url[n] = '=';
		n++;
	}
	if (n < size)
		url[n] = '\0';
	return n;
}

/* Where q goes and what is signed: the URL, the Host header and the raw
 * path. */
static int
target(struct bk_s3 *s, const struct bk_s3_req *q, char *url, size_t usize,
    char *host, size_t hsize, char **pathp, struct bk_err *err)
{
	struct bk_aws *a = s->aws;
	const char *key = q->key != NULL ? q->key : "";
	char *path;
	size_t n, i;
	int rc;

	if (a->path_style)
		rc = asprintf(&path, "%s/%s%s%s", a->base, q->bucket,
		    q->key != NULL ? "/" : "", key);
	else
		rc = asprintf(&path, "%s/%s", a->base, key);
	if (rc < 0)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "request");
	if (a->path_style) {
		snprintf(host, hsize, "%s", a->hostport);
	} else {
		const char *port = a->hostport + strlen(a->host);

		snprintf(host, hsize, "%s.%s%s", q->bucket, a->host, port);
	}
	n = (size_t)snprintf(url, usize, "%s://%s", a->scheme, host);
	n += bk_sigv4_encode(url + n, n < usize ? usize - n : 0, path,
	    strlen(path), 1);
	for (i = 0; i < q->nquery; i++)
		n = add_query(url, n, usize, &q->query[i], i == 0);
	if (n >= usize) {
		free(path);
		return bk_err_set(err, BK_EXIT_USAGE, "request URL too long");
	}
	*pathp = path;
	return 0;
}

static int
retryable_status(const struct bk_s3_resp *r)
{
	if ((r->status >= 500 && r->status != 501) || r->status == 429)
		return 1;
	return strcmp(r->code, "RequestTimeout") == 0 ||
	    strcmp(r->code, "SlowDown") == 0 ||
	    strcmp(r->code, "InternalError") == 0 ||
	    strcmp(r->code, "ServiceUnavailable") == 0 ||
	    strcmp(r->code, "RequestTimeTooSkewed") == 0;
}

static int
retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

double
bk_s3_backoff(unsigned n, unsigned *seed)
{
	double ceil = BACKOFF_BASE;

	while (n-- > 0 && ceil < BACKOFF_CAP)
		ceil *= 2;
	if (ceil > BACKOFF_CAP)
		ceil = BACKOFF_CAP;
	return ceil * ((double)rand_r(seed) / ((double)RAND_MAX + 1));
}

void
bk_s3_nap(double secs)
{
	struct timespec ts;
	double end = bk_now() + secs;

	while (!bk_s3_cancel && bk_now() < end) {
		ts.tv_sec = 0;
		ts.tv_nsec = 50 * 1000 * 1000;
		nanosleep(&ts, NULL);
	}
}

/* The "s3://bucket/key" of q, for messages. */
static void
qname(const struct bk_s3_req *q, char *out, size_t size)
{
	snprintf(out, size, "s3://%s/%s", q->bucket, q->key ? q->key : "");
}

/* One attempt: sign and send q.  Returns the curl code. */
static CURLcode
attempt(struct bk_s3 *s, const struct bk_s3_req *q, struct xfer *x,
    const char *url, const char *host, const char *path,
    const char *sha, struct bk_err *err, int *signfail)
{
	struct bk_sigv4_header hv[40];
	struct bk_sigv4_req sr;
	struct bk_sigv4_creds cr;
	struct curl_slist *h = NULL;
	char key[BK_AWS_KEYID_MAX + 1], *secret = NULL, *token = NULL;
	char authz[BK_SIGV4_AUTHZ_SIZE], line[BK_SIGV4_AUTHZ_SIZE + 64];
	CURL *c = s->curl;
	CURLcode rc = CURLE_FAILED_INIT;
	size_t i, nh = 0;

	*signfail = 0;
	if (q->nheaders + 1 > sizeof(hv) / sizeof(hv[0])) {
		bk_err_set(err, BK_EXIT_USAGE, "too many headers");
		*signfail = 1;
		return rc;
	}
	hv[nh].name = "host";
	hv[nh++].value = host;
	for (i = 0; i < q->nheaders; i++)
		hv[nh++] = q->headers[i];
	secret = malloc(BK_SECRET_MAX + 1);
	token = malloc(BK_SECRET_MAX + 1);
	if (secret == NULL || token == NULL ||
	    bk_aws_creds(s->aws, key, secret, token, err) < 0) {
		if (secret == NULL || token == NULL)
			bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "request");
		*signfail = 1;
		goto out;
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = q->method;
	sr.path = path;
	sr.query = q->query;
	sr.nquery = q->nquery;
	sr.headers = hv;
	sr.nheaders = nh;
	sr.payload_hash = sha;
	sr.flags = BK_SIGV4_CONTENT_SHA256;
	cr.access_key = key;
	cr.secret_key = secret;
	cr.token = token;
	if (bk_sigv4_sign(&cr, s->aws->region, "s3", time(NULL), &sr, authz,
	    sizeof(authz), err) < 0) {
		*signfail = 1;
		goto out;
	}
	for (i = 0; i < nh; i++) {
		/* curl drops "Name:"; "Name;" sends the header empty */
		if (*hv[i].value == '\0')
			snprintf(line, sizeof(line), "%s;", hv[i].name);
		else
			snprintf(line, sizeof(line), "%s: %s", hv[i].name,
			    hv[i].value);
		h = curl_slist_append(h, line);
	}
	for (i = 0; i < sr.nadded; i++) {
		snprintf(line, sizeof(line), "%s: %s", sr.added[i].name,
		    sr.added[i].value);
		h = curl_slist_append(h, line);
	}
	snprintf(line, sizeof(line), "Authorization: %s", authz);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "User-Agent: bk/" BK_VERSION);
	if (q->body == NULL && strcmp(q->method, "PUT") != 0 &&
	    strcmp(q->method, "POST") != 0)
		h = curl_slist_append(h, "Content-Type:");

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 64L * 1024);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 128L * 1024);
	if (s->aws->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->aws->ca_file);
	if (s->aws->ca_path != NULL)
		curl_easy_setopt(c, CURLOPT_CAPATH, s->aws->ca_path);
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (q->body != NULL || strcmp(q->method, "PUT") == 0 ||
	    strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)q->len);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		if (strcmp(q->method, "PUT") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	}
	rc = curl_easy_perform(c);
out:
	curl_slist_free_all(h);
	bk_secret_wipe(line, sizeof(line));
	bk_secret_wipe(authz, sizeof(authz));
	if (secret != NULL) {
		bk_secret_wipe(secret, BK_SECRET_MAX + 1);
		free(secret);
	}
	if (token != NULL) {
		bk_secret_wipe(token, BK_SECRET_MAX + 1);
		free(token);
	}
	return rc;
}

int
bk_s3_request(struct bk_s3 *s, const struct bk_s3_req *q,
    struct bk_s3_resp *r, struct bk_err *err)
{
	char *url = NULL, *path = NULL, host[512], sha[BK_SIGV4_HEXLEN + 1];
	char name[1200], why[600];
	struct xfer x;
	unsigned n;
	CURLcode rc;
	int signfail, retry;

	memset(r, 0, sizeof(*r));
	if ((url = malloc(URL_MAX)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "request");
	qname(q, name, sizeof(name));
	if (target(s, q, url, URL_MAX, host, sizeof(host), &path, err) < 0) {
		free(url);
		return -1;
	}
	if (q->sha256 != NULL)
		snprintf(sha, sizeof(sha), "%s", q->sha256);
	else if (q->body != NULL && q->len > 0)
		bk_sigv4_sha256_hex(sha, q->body, q->len);
	else
		snprintf(sha, sizeof(sha), "%s", BK_SIGV4_EMPTY_SHA256);

	for (n = 0;; n++) {
		bk_s3_resp_free(r);
		memset(&x, 0, sizeof(x));
		x.q = q;
		x.r = r;
		x.err = err;
		x.stall = s->stall;
		r->attempts = n + 1;
		if (bk_s3_cancel) {
			bk_err_set(err, BK_EXIT_RUNTIME, "%s %s: interrupted",
			    q->method, name);
			goto fail;
		}
		rc = attempt(s, q, &x, url, host, path, sha, err, &signfail);
		if (signfail)
			goto fail;
		if (x.sink_failed) {
			*err = x.sink_err;
			goto fail;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK && bk_s3_cancel) {
			bk_err_set(err, BK_EXIT_RUNTIME, "%s %s: interrupted",
			    q->method, name);
			goto fail;
		}
		if (s->verbose && rc != CURLE_OK)
			bk_info("%s %s: %s%s", q->method, name,
			    curl_easy_strerror(rc), n > 0 ? " (a retry)" : "");
		else if (s->verbose)
			bk_info("%s %s: HTTP %ld%s", q->method, name, r->status,
			    n > 0 ? " (a retry)" : "");
		if (rc == CURLE_OK) {
			if (r->status >= 300 || q->body_may_fail)
				bk_s3_parse_error(r->body, r->len, r);
			if (r->status >= 200 && r->status < 300 &&
			    r->code[0] == '\0')
				goto ok;
			if (r->status == 404 && q->ok404)
				goto ok;
			snprintf(why, sizeof(why), "HTTP %ld%s%s%s%s%s%s%s",
			    r->status, r->code[0] ? " " : "", r->code,
			    r->message[0] ? ": " : "", r->message,
			    r->request_id[0] ? " (request id " : "",
			    r->request_id, r->request_id[0] ? ")" : "");
			retry = retryable_status(r);
		} else if (x.stalled) {
			snprintf(why, sizeof(why), "no progress for %.0f s",
			    s->stall);
			retry = 1;
		} else {
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
			retry = retryable_curl(rc);
		}
		/* Bytes already handed on cannot be taken back. */
		if (r->delivered > 0)
			retry = 0;
		if (!retry || n >= s->retries) {
			bk_err_set(err, BK_EXIT_RUNTIME, "%s %s: %s%s", q->method,
			    name, why, retry ? " (retries exhausted)" : "");
			goto fail;
		}
		if (bk_verbose > 0)
			bk_warn("%s %s: %s; retrying", q->method, name, why);
		bk_s3_nap(bk_s3_backoff(n, &s->seed));
	}
ok:
	free(url);
	free(path);
	return 0;
fail:
	free(url);
	free(path);
	return -1;
}

int
bk_s3_call(struct bk_s3 *s, const char *method, const char *bucket,
    const char *key, const struct bk_sigv4_param *qp, size_t nq,
    const struct bk_sigv4_header *h, size_t nh, const void *body, size_t len,
    int flags, struct bk_s3_resp *r, struct bk_err *err)
{
	struct bk_s3_req q;

	memset(&q, 0, sizeof(q));
	q.method = method;
	q.bucket = bucket;
	q.key = key;
	q.query = qp;
	q.nquery = nq;
	q.headers = h;
	q.nheaders = nh;
	q.body = body;
	q.len = len;
	q.body_may_fail = (flags & BK_S3_MAYFAIL) != 0;
	q.ok404 = (flags & BK_S3_OK404) != 0;
	return bk_s3_request(s, &q, r, err);
}

/* --- times ---------------------------------------------------------------- */

int
bk_s3_parse_time(const char *s, time_t *t)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	*t = timegm(&tm);
	return 0;
}

int
bk_s3_parse_http_date(const char *s, time_t *t)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *p != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* --- listing -------------------------------------------------------------- */

int
bk_s3_chain_companion(struct bk_s3_chain *c, const char *key)
{
	size_t kl = strlen(key), sl = strlen(".sha256"), i;
	int found = 0;

	while (c->n > 0 && strncmp(key, c->key[c->n - 1],
	    strlen(c->key[c->n - 1])) != 0)
		free(c->key[--c->n]);
	if (kl > sl && strcmp(key + kl - sl, ".sha256") == 0)
		for (i = 0; i < c->n; i++)
			if (strlen(c->key[i]) == kl - sl)
				found = 1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		char **k = realloc(c->key, cap * sizeof(*k));

		if (k == NULL)
			return -1;
		c->key = k;
		c->cap = cap;
	}
	if ((c->key[c->n] = strdup(key)) == NULL)
		return -1;
	c->n++;
	return found;
}

void
bk_s3_chain_free(struct bk_s3_chain *c)
{
	while (c->n > 0)
		free(c->key[--c->n]);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

struct listdoc {
	bk_s3_list_fn	 fn;
	void		*arg;
	int		 flags;
	struct bk_s3_chain *chain;
	struct bk_s3_page *pg;
	struct bk_s3_obj o;
	char		 key[BK_S3_MARKER];
	int		 bad;
};

static int
list_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct listdoc *d = arg;
	int r;

	if (strncmp(path, "ListBucketResult/", 17) != 0)
		return 0;
	path += 17;
	if (strcmp(path, "Contents/Key") == 0) {
		if (len >= sizeof(d->key))
			return bk_err_set(err, BK_EXIT_RUNTIME, "listing: key "
			    "too long");
		memcpy(d->key, text, len + 1);
	} else if (strcmp(path, "Contents/Size") == 0) {
		char *end;

		errno = 0;
		d->o.size = strtoull(text, &end, 10);
		if (errno != 0 || *end != '\0' || len == 0 || text[0] == '-')
			d->bad = 1;
	} else if (strcmp(path, "Contents/LastModified") == 0) {
		if (bk_s3_parse_time(text, &d->o.mtime) < 0)
			d->bad = 1;
	} else if (strcmp(path, "Contents/ETag") == 0) {
		snprintf(d->o.etag, sizeof(d->o.etag), "%s", text);
	} else if (strcmp(path, "Contents") == 0) {
		if (d->bad || d->key[0] == '\0')
			return bk_err_set(err, BK_EXIT_RUNTIME, "listing: a "
			    "malformed entry after %s", d->key);
		d->o.key = d->key;
		if ((r = bk_s3_chain_companion(d->chain, d->key)) < 0)
			return bk_err_set(err, BK_EXIT_RUNTIME, "listing: out "
			    "of memory");
		if ((r == 0 || (d->flags & BK_S3_LIST_RECORDS)) &&
		    d->fn(d->arg, &d->o, err) < 0)
			return -1;
		memset(&d->o, 0, sizeof(d->o));
		d->key[0] = '\0';
	} else if (strcmp(path, "IsTruncated") == 0) {
		d->pg->truncated = strcmp(text, "true") == 0;
	} else if (strcmp(path, "NextContinuationToken") == 0) {
		if (len >= sizeof(d->pg->next))
			return bk_err_set(err, BK_EXIT_RUNTIME, "listing: "
			    "continuation token too long");
		memcpy(d->pg->next, text, len + 1);
	}
	return 0;
}

int
bk_s3_list_page(const char *body, size_t len, int flags,
    struct bk_s3_chain *chain, bk_s3_list_fn fn, void *arg,
    struct bk_s3_page *pg, struct bk_err *err)
{
	struct listdoc *d = calloc(1, sizeof(*d));
	int rc;

	memset(pg, 0, sizeof(*pg));
	if (d == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	d->fn = fn;
	d->arg = arg;
	d->flags = flags;
	d->chain = chain;
	d->pg = pg;
	rc = bk_xml_parse(body, len, list_elem, d, err);
	free(d);
	return rc;
}

int
bk_s3_list(struct bk_s3 *s, const char *bucket, const char *prefix,
    int flags, bk_s3_list_fn fn, void *arg, struct bk_err *err)
{
	struct bk_s3_page *pg = malloc(sizeof(*pg));
	struct bk_s3_chain chain;
	struct bk_sigv4_param qp[5];
	struct bk_s3_resp r;
	char next[BK_S3_MARKER];
	const char *ps;
	int rc = -1, nq0 = 0;

	if (pg == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "listing");
	memset(&chain, 0, sizeof(chain));
	next[0] = '\0';
	if ((ps = getenv("BK_S3_PAGE_SIZE")) != NULL && *ps != '\0')
		nq0 = 1;
	for (;;) {
		size_t nq = 0;

		qp[nq].key = "list-type", qp[nq++].value = "2";
		if (*prefix != '\0')
			qp[nq].key = "prefix", qp[nq++].value = prefix;
		if (nq0)
			qp[nq].key = "max-keys", qp[nq++].value = ps;
		if (next[0] != '\0')
			qp[nq].key = "continuation-token", qp[nq++].value = next;
		if (bk_s3_call(s, "GET", bucket, NULL, qp, nq, NULL, 0, NULL,
		    0, 0, &r, err) < 0) {
			bk_s3_resp_free(&r);
			goto out;
		}
		if (r.body == NULL || bk_s3_list_page(r.body, r.len, flags,
		    &chain, fn, arg, pg, err) < 0) {
			if (r.body == NULL)
				bk_err_set(err, BK_EXIT_RUNTIME, "listing "
				    "s3://%s/%s: empty response", bucket,
				    prefix);
			else
				bk_err_prefix(err, "listing s3://%s/%s", bucket,
				    prefix);
			bk_s3_resp_free(&r);
			goto out;
		}
		bk_s3_resp_free(&r);
		if (!pg->truncated)
			break;
		if (pg->next[0] == '\0' || strcmp(pg->next, next) == 0) {
			bk_err_set(err, BK_EXIT_RUNTIME, "listing s3://%s/%s: "
			    "truncated without a new continuation token",
			    bucket, prefix);
			goto out;
		}
		memcpy(next, pg->next, sizeof(next));
	}
	rc = 0;
out:
	bk_s3_chain_free(&chain);
	free(pg);
	return rc;
}

struct updoc {
	bk_s3_uploads_fn fn;
	void		*arg;
	struct bk_s3_page *pg;
	char		 key[BK_S3_MARKER];
	char		 id[BK_S3_MARKER];
	time_t		 initiated;
};

static int
uploads_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct updoc *d = arg;
	struct bk_s3_upload u;

	if (strncmp(path, "ListMultipartUploadsResult/", 27) != 0)
		return 0;
	path += 27;
	if (len >= sizeof(d->key))
		return bk_err_set(err, BK_EXIT_RUNTIME, "uploads listing: "
		    "field too long");
	if (strcmp(path, "Upload/Key") == 0)
		memcpy(d->key, text, len + 1);
	else if (strcmp(path, "Upload/UploadId") == 0)
		memcpy(d->id, text, len + 1);
	else if (strcmp(path, "Upload/Initiated") == 0)
		bk_s3_parse_time(text, &d->initiated);
	else if (strcmp(path, "NextKeyMarker") == 0)
		memcpy(d->pg->next, text, len + 1);
	else if (strcmp(path, "NextUploadIdMarker") == 0)
		memcpy(d->pg->next_id, text, len + 1);
	else if (strcmp(path, "IsTruncated") == 0)
		d->pg->truncated = strcmp(text, "true") == 0;
	else if (strcmp(path, "Upload") == 0) {
		u.key = d->key;
		u.upload_id = d->id;
		u.initiated = d->initiated;
		if (d->fn(d->arg, &u, err) < 0)
			return -1;
		d->key[0] = d->id[0] = '\0';
		d->initiated = 0;
	}
	return 0;
}

int
bk_s3_uploads_page(const char *body, size_t len, bk_s3_uploads_fn fn,
    void *arg, struct bk_s3_page *pg, struct bk_err *err)
{
	struct updoc *d = calloc(1, sizeof(*d));
	int rc;

	memset(pg, 0, sizeof(*pg));
	if (d == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "uploads");
	d->fn = fn;
	d->arg = arg;
	d->pg = pg;
	rc = bk_xml_parse(body, len, uploads_elem, d, err);
	free(d);
	return rc;
}

int
bk_s3_list_uploads(struct bk_s3 *s, const char *bucket, const char *prefix,
    bk_s3_uploads_fn fn, void *arg, struct bk_err *err)
{
	struct bk_s3_page *pg = malloc(sizeof(*pg));
	struct bk_sigv4_param qp[4];
	struct bk_s3_resp r;
	char km[BK_S3_MARKER], im[BK_S3_MARKER];
	int rc = -1;

	if (pg == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "uploads");
	km[0] = im[0] = '\0';
	for (;;) {
		size_t nq = 0;

		qp[nq].key = "uploads", qp[nq++].value = "";
		if (*prefix != '\0')
			qp[nq].key = "prefix", qp[nq++].value = prefix;
		if (km[0] != '\0') {
			qp[nq].key = "key-marker", qp[nq++].value = km;
			qp[nq].key = "upload-id-marker", qp[nq++].value = im;
		}
		if (bk_s3_call(s, "GET", bucket, NULL, qp, nq, NULL, 0, NULL,
		    0, 0, &r, err) < 0) {
			bk_s3_resp_free(&r);
			goto out;
		}
		if (r.body == NULL || bk_s3_uploads_page(r.body, r.len, fn,
		    arg, pg, err) < 0) {
			if (r.body == NULL)
				bk_err_set(err, BK_EXIT_RUNTIME, "uploads "
				    "s3://%s/%s: empty response", bucket,
				    prefix);
			bk_s3_resp_free(&r);
			goto out;
		}
		bk_s3_resp_free(&r);
		if (!pg->truncated)
			break;
		if (pg->next[0] == '\0' || (strcmp(pg->next, km) == 0 &&
		    strcmp(pg->next_id, im) == 0)) {
			bk_err_set(err, BK_EXIT_RUNTIME, "uploads s3://%s/%s: "
			    "truncated without a new marker", bucket, prefix);
			goto out;
		}
		memcpy(km, pg->next, sizeof(km));
		memcpy(im, pg->next_id, sizeof(im));
	}
	rc = 0;
out:
	free(pg);
	return rc;
}

/* --- single operations ---------------------------------------------------- */

int
bk_s3_head(struct bk_s3 *s, const char *bucket, const char *key,
    struct bk_s3_resp *r, struct bk_err *err)
{
	return bk_s3_call(s, "HEAD", bucket, key, NULL, 0, NULL, 0, NULL, 0,
	    BK_S3_OK404, r, err);
}

int
bk_s3_abort(struct bk_s3 *s, const char *bucket, const char *key,
    const char *upload_id, struct bk_err *err)
{
	struct bk_sigv4_param qp[1] = { { "uploadId", upload_id } };
	struct bk_s3_resp r;
	int rc;

	rc = bk_s3_call(s, "DELETE", bucket, key, qp, 1, NULL, 0, NULL, 0,
	    BK_S3_OK404, &r, err);
	bk_s3_resp_free(&r);
	return rc;
}

/* Append s to b (at *n, cap bytes) with XML's five escapes. */
static size_t
xml_escape(char *b, size_t n, size_t cap, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *e = NULL;

		switch (*s) {
		case '&':  e = "&amp;"; break;
		case '<':  e = "&lt;"; break;
		case '>':  e = "&gt;"; break;
		case '"':  e = "&quot;"; break;
		case '\'': e = "&apos;"; break;
		}
		if (e != NULL) {
			if (n + strlen(e) < cap)
				memcpy(b + n, e, strlen(e));
			n += strlen(e);
		} else {
			if (n + 1 < cap)
				b[n] = *s;
			n++;
		}
	}
	return n;
}

struct deldoc {
	bk_s3_delete_fn	 fn;
	void		*arg;
	int		 nfail;
	char		 key[1100];
	char		 code[64];
	char		 msg[256];
};

static int
del_elem(void *arg, const char *path, const char *text, size_t len,
    struct bk_err *err)
{
	struct deldoc *d = arg;

	(void)err;
	if (strcmp(path, "DeleteResult/Error/Key") == 0)
		snprintf(d->key, sizeof(d->key), "%.*s", (int)len, text);
	else if (strcmp(path, "DeleteResult/Error/Code") == 0)
		snprintf(d->code, sizeof(d->code), "%s", text);
	else if (strcmp(path, "DeleteResult/Error/Message") == 0)
		snprintf(d->msg, sizeof(d->msg), "%s", text);
	else if (strcmp(path, "DeleteResult/Error") == 0) {
		/* Already gone is what we wanted. */
		if (strcmp(d->code, "NoSuchKey") != 0) {
			d->nfail++;
			if (d->fn != NULL)
				d->fn(d->arg, d->key, d->code, d->msg);
		}
		d->key[0] = d->code[0] = d->msg[0] = '\0';
	}
	return 0;
}

int
bk_s3_delete_result(const char *body, size_t len, bk_s3_delete_fn failed,
    void *arg, struct bk_err *err)
{
	struct deldoc d;

	memset(&d, 0, sizeof(d));
	d.fn = failed;
	d.arg = arg;
	if (bk_xml_parse(body, len, del_elem, &d, err) < 0)
		return -1;
	return d.nfail;
}

int
bk_s3_delete(struct bk_s3 *s, const char *bucket, const char *const *keys,
    size_t n, bk_s3_delete_fn failed, void *arg, struct bk_err *err)
{
	struct bk_sigv4_param qp[1] = { { "delete", "" } };
	struct bk_sigv4_header h[1];
	struct bk_s3_resp r;
	unsigned char md5[16];
	unsigned int ml = 0;
	char md5b[32], *body;
	size_t cap = 64, len, i;
	int rc = -1;

	if (n == 0)
		return 0;
	if (n > BK_S3_DELETE_MAX)
		return bk_err_set(err, BK_EXIT_USAGE, "at most %d keys per "
		    "DeleteObjects", BK_S3_DELETE_MAX);
	for (i = 0; i < n; i++)
		cap += 32 + 6 * strlen(keys[i]);
	if ((body = malloc(cap)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "delete");
	len = (size_t)snprintf(body, cap, "<Delete><Quiet>true</Quiet>");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(body + len, cap - len,
		    "<Object><Key>");
		len = xml_escape(body, len, cap, keys[i]);
		len += (size_t)snprintf(body + len, cap - len,
		    "</Key></Object>");
	}
	len += (size_t)snprintf(body + len, cap - len, "</Delete>");
	/* DeleteObjects requires Content-MD5. */
	EVP_Digest(body, len, md5, &ml, EVP_md5(), NULL);
	bk_b64_encode(md5b, md5, 16, 1);
	h[0].name = "content-md5", h[0].value = md5b;
	if (bk_s3_call(s, "POST", bucket, NULL, qp, 1, h, 1, body, len, 0, &r,
	    err) == 0) {
		if (r.body == NULL)
			rc = 0;
		else if ((rc = bk_s3_delete_result(r.body, r.len, failed, arg,
		    err)) < 0)
			bk_err_prefix(err, "DeleteObjects s3://%s", bucket);
	}
	bk_s3_resp_free(&r);
	free(body);
	return rc;
}
