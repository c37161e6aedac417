/*
 * sigv4.c - AWS Signature Version 4 for S3.
 *
 * One request goes through build(): validate every input, then lay out
 * the canonical headers (which give the signed-headers list), the
 * canonical query (which, in the presigned form, contains that list), the
 * canonical request and the string to sign.  Only then is the secret
 * touched, to derive the signing key and the signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4.h"

#define SCOPE_MAX	(8 + 1 + BK_SIGV4_NAME_MAX + 1 + BK_SIGV4_NAME_MAX + \
			    sizeof("/aws4_request"))
#define STS_MAX		(sizeof(BK_SIGV4_ALGORITHM) + BK_SIGV4_DATELEN + 1 + \
			    SCOPE_MAX + 1 + BK_SIGV4_HEXLEN + 1)
#define METHOD_MAX	32
#define HNAME_MAX	256

static const char hexdig[] = "0123456789abcdef";
static const char HEXDIG[] = "0123456789ABCDEF";

/* A growing buffer with a hard limit; errors are sticky. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 fail;		/* 0, SB_NOMEM or SB_LONG */
};
#define SB_NOMEM	1
#define SB_LONG		2

/* A header while it is sorted: the lower-cased name and the order given. */
struct hent {
	char		*name;
	const char	*value;
	size_t		 order;
};

/* A query parameter, encoded. */
struct qent {
	char	*key;
	char	*value;
};

/* Everything build() lays out for one request. */
struct canon {
	char		amzdate[BK_SIGV4_DATELEN + 1];
	char		date[9];
	char		scope[SCOPE_MAX];
	char		expires[16];
	struct sbuf	signedh;	/* "host;x-amz-date" */
	struct sbuf	query;		/* canonical query string */
	struct sbuf	creq;		/* canonical request */
	char		sts[STS_MAX];
	size_t		stslen;
};

/* Make room for need bytes and a NUL, or set the sticky failure. */
static void
sb_grow(struct sbuf *sb, size_t need)
{
	size_t cap;
	char *p;

	if (sb->fail)
		return;
	if (need > BK_SIGV4_CANON_MAX) {
		sb->fail = SB_LONG;
		return;
	}
	if (need + 1 <= sb->cap)
		return;
	for (cap = sb->cap ? sb->cap : 256; cap < need + 1; cap *= 2)
		;
	if ((p = realloc(sb->p, cap)) == NULL) {
		sb->fail = SB_NOMEM;
		return;
	}
	sb->p = p;
	sb->cap = cap;
}

/* Append n bytes of s. */
static void
sb_addn(struct sbuf *sb, const char *s, size_t n)
{
	sb_grow(sb, sb->len + n);
	if (sb->fail)
		return;
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

/* Append the string s. */
static void
sb_add(struct sbuf *sb, const char *s)
{
	sb_addn(sb, s, strlen(s));
}

/* Append one character. */
static void
sb_addc(struct sbuf *sb, char c)
{
	sb_addn(sb, &c, 1);
}

/* Append s URI-encoded. */
static void
sb_enc(struct sbuf *sb, const char *s, int path)
{
	size_t len = strlen(s), n;

	n = bk_sigv4_encode(NULL, 0, s, len, path);
	sb_grow(sb, sb->len + n);
	if (sb->fail)
		return;
	bk_sigv4_encode(sb->p + sb->len, n + 1, s, len, path);
	sb->len += n;
}

/* Free the buffer; sb is left empty. */
static void
sb_free(struct sbuf *sb)
{
	free(sb->p);
	memset(sb, 0, sizeof(*sb));
}

/* Turn a buffer failure into an error message naming what was built. */
static int
sb_check(const struct sbuf *sb, const char *what, struct bk_err *err)
{
	if (sb->fail == SB_NOMEM)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: %s: out of memory", what);
	if (sb->fail == SB_LONG)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: %s longer than %d bytes", what, BK_SIGV4_CANON_MAX);
	return 0;
}

/* n bytes of in as lower-case hex into out (2n + 1 bytes). */
static void
tohex(char *out, const unsigned char *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* RFC 3986 unreserved: kept as they are by the URI encoding. */
static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

/* ASCII lower case, whatever the locale. */
static int
tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* An HTTP token character (RFC 9110 tchar): method and header names. */
static int
tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

size_t
bk_sigv4_encode(char *out, size_t size, const void *in, size_t len, int path)
{
	const unsigned char *s = in;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (unreserved(s[i]) || (path && s[i] == '/')) {
			if (n + 1 < size)
				out[n] = (char)s[i];
			n++;
		} else {
			if (n + 3 < size) {
				out[n] = '%';
				out[n + 1] = HEXDIG[s[i] >> 4];
				out[n + 2] = HEXDIG[s[i] & 15];
			}
			/* Never leave half an escape before the NUL. */
			else if (n < size)
				size = n + 1;
			n += 3;
		}
	}
	if (size > 0)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

void
bk_sigv4_sha256_hex(char hex[BK_SIGV4_HEXLEN + 1], const void *data,
    size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* EVP_Digest of SHA-256 cannot fail short of a broken library. */
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		memset(md, 0, sizeof(md));
	tohex(hex, md, 32);
}

int
bk_sigv4_amzdate(char out[BK_SIGV4_DATELEN + 1], time_t t, struct bk_err *err)
{
	struct tm tm;

	if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: request time out of range");
	if (strftime(out, BK_SIGV4_DATELEN + 1, "%Y%m%dT%H%M%SZ", &tm) !=
	    BK_SIGV4_DATELEN)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: request time out of range");
	return 0;
}

/* HMAC-SHA256 of data under key into out; 0 or -1. */
static int
hmac(unsigned char out[32], const void *key, size_t keylen, const void *data,
    size_t len)
{
	unsigned int n = 0;

	return HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) !=
	    NULL && n == 32 ? 0 : -1;
}

/* A region or service name: it goes into the credential scope. */
static int
check_name(const char *what, const char *s, struct bk_err *err)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: no %s", what);
	if (n > BK_SIGV4_NAME_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: %s longer than %d bytes", what, BK_SIGV4_NAME_MAX);
	for (i = 0; i < n; i++)
		if (!unreserved((unsigned char)s[i]) || s[i] == '~')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: %s: invalid character", what);
	return 0;
}

int
bk_sigv4_signing_key(unsigned char key[BK_SIGV4_KEYLEN], const char *secret,
    const char *date, const char *region, const char *service,
    struct bk_err *err)
{
	unsigned char k[4 + BK_SIGV4_SECRET_MAX], a[32], b[32];
	size_t n;
	int rc = -1;

	if (secret == NULL || (n = strlen(secret)) == 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: no secret access key");
	if (n > BK_SIGV4_SECRET_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: secret access key longer than %d bytes",
		    BK_SIGV4_SECRET_MAX);
	if (date == NULL || strlen(date) != 8)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: bad date");
	if (check_name("region", region, err) < 0 ||
	    check_name("service", service, err) < 0)
		return -1;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, n);
	if (hmac(a, k, 4 + n, date, 8) == 0 &&
	    hmac(b, a, 32, region, strlen(region)) == 0 &&
	    hmac(a, b, 32, service, strlen(service)) == 0 &&
	    hmac(key, a, 32, "aws4_request", 12) == 0)
		rc = 0;
	else
		bk_err_set(err, BK_EXIT_RUNTIME, "SigV4: HMAC-SHA256 failed");
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

/* Fill date, amzdate and scope ("20150830/us-east-1/s3/aws4_request"). */
static int
make_scope(char amzdate[BK_SIGV4_DATELEN + 1], char date[9],
    char scope[SCOPE_MAX], const char *region, const char *service, time_t t,
    struct bk_err *err)
{
	if (check_name("region", region, err) < 0 ||
	    check_name("service", service, err) < 0 ||
	    bk_sigv4_amzdate(amzdate, t, err) < 0)
		return -1;
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	snprintf(scope, SCOPE_MAX, "%s/%s/%s/aws4_request", date, region,
	    service);
	return 0;
}

/* Access key id, secret and token: present, sane, within limits. */
static int
check_creds(const struct bk_sigv4_creds *c, struct bk_err *err)
{
	size_t i, n;
	const char *s;

	if (c == NULL || c->access_key == NULL ||
	    (n = strlen(c->access_key)) == 0)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: no access key id");
	if (n > BK_SIGV4_ACCESS_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: access key id longer than %d bytes",
		    BK_SIGV4_ACCESS_MAX);
	/* It goes into "Credential=<id>/<scope>,": no '/', ',' or blank. */
	for (s = c->access_key; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '/' || *s == ',')
			return bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: access key id: invalid character");
	if (c->secret_key == NULL || c->secret_key[0] == '\0')
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: no secret access key");
	if (strlen(c->secret_key) > BK_SIGV4_SECRET_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: secret access key longer than %d bytes",
		    BK_SIGV4_SECRET_MAX);
	if (c->token != NULL) {
		if ((n = strlen(c->token)) > BK_SIGV4_TOKEN_MAX)
			return bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: session token longer than %d bytes",
			    BK_SIGV4_TOKEN_MAX);
		for (i = 0; i < n; i++)
			if (c->token[i] <= ' ' || c->token[i] >= 0x7f)
				return bk_err_set(err, BK_EXIT_USAGE,
				    "SigV4: session token: invalid character");
	}
	return 0;
}

/* A session token to sign: set and not empty. */
static int
has_token(const struct bk_sigv4_creds *c)
{
	return c->token != NULL && c->token[0] != '\0';
}

/* The payload hash: 64 lower-case hex digits or a known marker. */
static int
check_hash(const char *h, struct bk_err *err)
{
	size_t i, n;

	if (h == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: no payload hash");
	n = strlen(h);
	for (i = 0; i < n; i++)
		if (!((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'f')))
			break;
	if (i == n && n == BK_SIGV4_HEXLEN)
		return 0;
	/* The literal markers: UNSIGNED-PAYLOAD, STREAMING-<upper-case>. */
	if (strcmp(h, BK_SIGV4_UNSIGNED) == 0)
		return 0;
	if (strncmp(h, "STREAMING-", 10) == 0 && n <= BK_SIGV4_HEXLEN) {
		for (i = 10; i < n; i++)
			if (!((h[i] >= 'A' && h[i] <= 'Z') ||
			    (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
				break;
		if (i == n && n > 10)
			return 0;
	}
	return bk_err_set(err, BK_EXIT_USAGE,
	    "SigV4: payload hash is neither hex SHA-256 nor a known marker");
}

/* Header names the signer sets itself in the header form. */
static int
reserved_header(const char *lname, const struct bk_sigv4_creds *c, int flags)
{
	if (strcmp(lname, "authorization") == 0 ||
	    strcmp(lname, "x-amz-date") == 0)
		return 1;
	if (flags & BK_SIGV4_QUERY)
		return 0;
	if (strcmp(lname, "x-amz-content-sha256") == 0 &&
	    (flags & BK_SIGV4_CONTENT_SHA256))
		return 1;
	return strcmp(lname, "x-amz-security-token") == 0 && has_token(c);
}

/* Query parameters the signer sets itself in the presigned form. */
static int
reserved_param(const char *key)
{
	static const char *const names[] = {
		"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
		"X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
		"X-Amz-Security-Token",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(key, names[i]) == 0)
			return 1;
	return 0;
}

/* Headers by lower-cased name, then in the order given. */
static int
cmp_hent(const void *a, const void *b)
{
	const struct hent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Parameters by encoded key, then by encoded value. */
static int
cmp_qent(const void *a, const void *b)
{
	const struct qent *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Append a header value trimmed, with inner runs of blanks made one space. */
static void
sb_value(struct sbuf *sb, const char *v)
{
	const char *s = v, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s != '\0') {
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		sb_addn(sb, s, (size_t)(e - s));
		while (*e == ' ' || *e == '\t')
			e++;
		if (*e != '\0')
			sb_addc(sb, ' ');
		s = e;
	}
}

/*
 * Canonical headers (into hdrs, each line ending "\n") and the signed
 * headers list (into c->signedh).
 */
static int
build_headers(const struct bk_sigv4_creds *cr, const struct bk_sigv4_req *req,
    struct canon *c, struct sbuf *hdrs, struct bk_err *err)
{
	struct hent *h;
	size_t i, j, n = 0;
	const char *s;
	int rc = -1, host = 0;

	if ((h = calloc(req->nheaders + 3, sizeof(*h))) == NULL)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: out of memory");
	for (i = 0; i < req->nheaders; i++, n++) {
		const struct bk_sigv4_header *in = &req->headers[i];
		size_t len;

		if (in->name == NULL || in->value == NULL ||
		    (len = strlen(in->name)) == 0) {
			bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: header %zu: no name or value", i);
			goto out;
		}
		if (len > HNAME_MAX) {
			bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: header name longer than %d bytes",
			    HNAME_MAX);
			goto out;
		}
		for (j = 0; j < len; j++)
			if (!tchar((unsigned char)in->name[j])) {
				bk_err_set(err, BK_EXIT_USAGE, "SigV4: header "
				    "%zu: invalid character in name", i);
				goto out;
			}
		/* Never quote a value: it may be a key (SSE-C). */
		for (s = in->value; *s != '\0'; s++)
			if ((*s > 0 && *s < ' ' && *s != '\t') || *s == 0x7f) {
				bk_err_set(err, BK_EXIT_USAGE, "SigV4: header "
				    "%s: control character in value",
				    in->name);
				goto out;
			}
		if ((h[n].name = malloc(len + 1)) == NULL) {
			bk_err_set(err, BK_EXIT_RUNTIME,
			    "SigV4: out of memory");
			goto out;
		}
		for (j = 0; j <= len; j++)
			h[n].name[j] = (char)tolower_ascii(in->name[j]);
		if (reserved_header(h[n].name, cr, req->flags)) {
			bk_err_set(err, BK_EXIT_USAGE, "SigV4: header %s is "
			    "set by the signer", h[n].name);
			goto out;
		}
		host |= strcmp(h[n].name, "host") == 0;
		h[n].value = in->value;
		h[n].order = n;
	}
	if (!host) {
		bk_err_set(err, BK_EXIT_USAGE, "SigV4: no Host header");
		goto out;
	}
	if (!(req->flags & BK_SIGV4_QUERY)) {
		struct { const char *name, *value; } add[3];
		size_t na = 0;

		add[na].name = "x-amz-date";
		add[na++].value = c->amzdate;
		if (req->flags & BK_SIGV4_CONTENT_SHA256) {
			add[na].name = "x-amz-content-sha256";
			add[na++].value = req->payload_hash;
		}
		if (has_token(cr)) {
			add[na].name = "x-amz-security-token";
			add[na++].value = cr->token;
		}
		for (i = 0; i < na; i++, n++) {
			if ((h[n].name = strdup(add[i].name)) == NULL) {
				bk_err_set(err, BK_EXIT_RUNTIME,
				    "SigV4: out of memory");
				goto out;
			}
			h[n].value = add[i].value;
			h[n].order = n;
		}
	}
	qsort(h, n, sizeof(*h), cmp_hent);
	for (i = 0; i < n; i = j) {
		if (i > 0)
			sb_addc(&c->signedh, ';');
		sb_add(&c->signedh, h[i].name);
		sb_add(hdrs, h[i].name);
		sb_addc(hdrs, ':');
		for (j = i; j < n && strcmp(h[j].name, h[i].name) == 0; j++) {
			if (j > i)
				sb_addc(hdrs, ',');
			sb_value(hdrs, h[j].value);
		}
		sb_addc(hdrs, '\n');
	}
	if (sb_check(&c->signedh, "signed headers", err) == 0 &&
	    sb_check(hdrs, "canonical headers", err) == 0)
		rc = 0;
out:
	for (i = 0; i < req->nheaders + 3; i++)
		free(h[i].name);
	free(h);
	return rc;
}

/* Encode one parameter into q. */
static int
add_param(struct qent *q, const char *key, const char *value,
    struct bk_err *err)
{
	size_t kl = strlen(key), vl = value != NULL ? strlen(value) : 0;
	size_t ke = bk_sigv4_encode(NULL, 0, key, kl, 0);
	size_t ve = bk_sigv4_encode(NULL, 0, value, vl, 0);

	if (ke > BK_SIGV4_CANON_MAX || ve > BK_SIGV4_CANON_MAX)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: query parameter longer than %d bytes",
		    BK_SIGV4_CANON_MAX);
	if ((q->key = malloc(ke + 1)) == NULL ||
	    (q->value = malloc(ve + 1)) == NULL)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: out of memory");
	bk_sigv4_encode(q->key, ke + 1, key, kl, 0);
	bk_sigv4_encode(q->value, ve + 1, value, vl, 0);
	return 0;
}

/* The canonical query string into c->query. */
static int
build_query(const struct bk_sigv4_creds *cr, const struct bk_sigv4_req *req,
    struct canon *c, struct bk_err *err)
{
	struct qent *q;
	char cred[BK_SIGV4_ACCESS_MAX + 1 + SCOPE_MAX];
	size_t i, n = 0;
	int rc = -1;

	if ((q = calloc(req->nquery + 6, sizeof(*q))) == NULL)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: out of memory");
	for (i = 0; i < req->nquery; i++) {
		const struct bk_sigv4_param *p = &req->query[i];

		if (p->key == NULL) {
			bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: query parameter %zu: no key", i);
			goto out;
		}
		if ((req->flags & BK_SIGV4_QUERY) && reserved_param(p->key)) {
			bk_err_set(err, BK_EXIT_USAGE, "SigV4: query "
			    "parameter %s is set by the signer", p->key);
			goto out;
		}
		if (add_param(&q[n++], p->key, p->value, err) < 0)
			goto out;
	}
	if (req->flags & BK_SIGV4_QUERY) {
		snprintf(cred, sizeof(cred), "%s/%s", cr->access_key,
		    c->scope);
		if (add_param(&q[n++], "X-Amz-Algorithm", BK_SIGV4_ALGORITHM,
		    err) < 0 ||
		    add_param(&q[n++], "X-Amz-Credential", cred, err) < 0 ||
		    add_param(&q[n++], "X-Amz-Date", c->amzdate, err) < 0 ||
		    add_param(&q[n++], "X-Amz-Expires", c->expires, err) < 0 ||
		    add_param(&q[n++], "X-Amz-SignedHeaders", c->signedh.p,
		    err) < 0)
			goto out;
		if (has_token(cr) && add_param(&q[n++],
		    "X-Amz-Security-Token", cr->token, err) < 0)
			goto out;
	}
	qsort(q, n, sizeof(*q), cmp_qent);
	sb_add(&c->query, "");
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(&c->query, '&');
		sb_add(&c->query, q[i].key);
		sb_addc(&c->query, '=');
		sb_add(&c->query, q[i].value);
	}
	rc = sb_check(&c->query, "canonical query string", err);
out:
	for (i = 0; i < n; i++) {
		free(q[i].key);
		free(q[i].value);
	}
	free(q);
	return rc;
}

/* Free what build() allocated. */
static void
canon_free(struct canon *c)
{
	sb_free(&c->signedh);
	sb_free(&c->query);
	sb_free(&c->creq);
}

/*
 * Lay out the canonical request and the string to sign of req in the
 * form flags selects.  On success the caller frees c with canon_free();
 * on failure it is freed already.
 */
static int
build(const struct bk_sigv4_creds *cr, const char *region,
    const char *service, time_t t, const struct bk_sigv4_req *req, int flags,
    struct canon *c, struct bk_err *err)
{
	struct bk_sigv4_req r;
	struct sbuf hdrs = { 0 };
	char hash[BK_SIGV4_HEXLEN + 1];
	const char *s;
	int n;

	memset(c, 0, sizeof(*c));
	if (req == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: no request");
	r = *req;
	r.flags = flags;
	if (check_creds(cr, err) < 0 ||
	    make_scope(c->amzdate, c->date, c->scope, region, service, t,
	    err) < 0 || check_hash(r.payload_hash, err) < 0)
		return -1;
	if (r.method == NULL || r.method[0] == '\0' ||
	    strlen(r.method) > METHOD_MAX)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: bad method");
	for (s = r.method; *s != '\0'; s++)
		if (!tchar((unsigned char)*s))
			return bk_err_set(err, BK_EXIT_USAGE,
			    "SigV4: bad method");
	if (r.path == NULL || r.path[0] != '/')
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: path does not start with '/'");
	if (r.nquery > BK_SIGV4_FIELDS_MAX || r.nheaders > BK_SIGV4_FIELDS_MAX)
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: more than %d "
		    "query parameters or headers", BK_SIGV4_FIELDS_MAX);
	if ((r.nquery > 0 && r.query == NULL) ||
	    (r.nheaders > 0 && r.headers == NULL))
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: no query parameters or headers array");
	if (flags & BK_SIGV4_QUERY) {
		/* S3 refuses presigned URLs valid for more than 7 days. */
		if (r.expires < 1 || r.expires > 604800)
			return bk_err_set(err, BK_EXIT_USAGE, "SigV4: expiry "
			    "of %u seconds not in 1 to 604800", r.expires);
		snprintf(c->expires, sizeof(c->expires), "%u", r.expires);
	}

	if (build_headers(cr, &r, c, &hdrs, err) < 0 ||
	    build_query(cr, &r, c, err) < 0)
		goto fail;
	sb_add(&c->creq, r.method);
	sb_addc(&c->creq, '\n');
	sb_enc(&c->creq, r.path, 1);
	sb_addc(&c->creq, '\n');
	sb_add(&c->creq, c->query.p);
	sb_addc(&c->creq, '\n');
	sb_addn(&c->creq, hdrs.p, hdrs.len);
	sb_addc(&c->creq, '\n');
	sb_add(&c->creq, c->signedh.p);
	sb_addc(&c->creq, '\n');
	sb_add(&c->creq, r.payload_hash);
	if (sb_check(&c->creq, "canonical request", err) < 0)
		goto fail;
	sb_free(&hdrs);

	bk_sigv4_sha256_hex(hash, c->creq.p, c->creq.len);
	n = snprintf(c->sts, sizeof(c->sts), "%s\n%s\n%s\n%s",
	    BK_SIGV4_ALGORITHM, c->amzdate, c->scope, hash);
	if (n < 0 || (size_t)n >= sizeof(c->sts)) {
		bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: string to sign too long");
		goto fail;
	}
	c->stslen = (size_t)n;
	return 0;
fail:
	sb_free(&hdrs);
	canon_free(c);
	return -1;
}

/* The hex signature of the string to sign in c. */
static int
signature(const struct bk_sigv4_creds *cr, const char *region,
    const char *service, const struct canon *c,
    char sig[BK_SIGV4_HEXLEN + 1], struct bk_err *err)
{
	unsigned char key[BK_SIGV4_KEYLEN], mac[32];
	int rc = 0;

	if (bk_sigv4_signing_key(key, cr->secret_key, c->date, region, service,
	    err) < 0)
		return -1;
	if (hmac(mac, key, sizeof(key), c->sts, c->stslen) < 0)
		rc = bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: HMAC-SHA256 failed");
	else
		tohex(sig, mac, sizeof(mac));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int
bk_sigv4_sign(const struct bk_sigv4_creds *creds, const char *region,
    const char *service, time_t t, struct bk_sigv4_req *req, char *authz,
    size_t authzsize, struct bk_err *err)
{
	struct canon c;
	int n;

	if (build(creds, region, service, t, req, req != NULL ?
	    req->flags & ~BK_SIGV4_QUERY : 0, &c, err) < 0)
		return -1;
	if (signature(creds, region, service, &c, req->signature, err) < 0) {
		canon_free(&c);
		return -1;
	}
	n = snprintf(authz, authzsize, "%s Credential=%s/%s,SignedHeaders=%s,"
	    "Signature=%s", BK_SIGV4_ALGORITHM, creds->access_key, c.scope,
	    c.signedh.p, req->signature);
	canon_free(&c);
	if (n < 0 || (size_t)n >= authzsize) {
		if (authzsize > 0)
			authz[0] = '\0';
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: Authorization "
		    "header longer than %zu bytes", authzsize);
	}
	memcpy(req->amzdate, c.amzdate, sizeof(req->amzdate));
	req->nadded = 0;
	req->added[req->nadded].name = "X-Amz-Date";
	req->added[req->nadded++].value = req->amzdate;
	if (req->flags & BK_SIGV4_CONTENT_SHA256) {
		req->added[req->nadded].name = "X-Amz-Content-Sha256";
		req->added[req->nadded++].value = req->payload_hash;
	}
	if (has_token(creds)) {
		req->added[req->nadded].name = "X-Amz-Security-Token";
		req->added[req->nadded++].value = creds->token;
	}
	return 0;
}

int
bk_sigv4_presign(const struct bk_sigv4_creds *creds, const char *region,
    const char *service, time_t t, struct bk_sigv4_req *req, char *query,
    size_t querysize, struct bk_err *err)
{
	struct canon c;
	int n;

	if (build(creds, region, service, t, req, req != NULL ?
	    req->flags | BK_SIGV4_QUERY : 0, &c, err) < 0)
		return -1;
	if (signature(creds, region, service, &c, req->signature, err) < 0) {
		canon_free(&c);
		return -1;
	}
	n = snprintf(query, querysize, "%s&X-Amz-Signature=%s", c.query.p,
	    req->signature);
	memcpy(req->amzdate, c.amzdate, sizeof(req->amzdate));
	req->nadded = 0;
	canon_free(&c);
	if (n < 0 || (size_t)n >= querysize) {
		if (querysize > 0)
			query[0] = '\0';
		return bk_err_set(err, BK_EXIT_USAGE, "SigV4: presigned query "
		    "string longer than %zu bytes", querysize);
	}
	return 0;
}

/* Copy len bytes of s into out as a string, or fail naming what. */
static ssize_t
put(char *out, size_t size, const char *s, size_t len, const char *what,
    struct bk_err *err)
{
	if (len >= size)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: %s longer than %zu bytes", what, size);
	memcpy(out, s, len);
	out[len] = '\0';
	return (ssize_t)len;
}

ssize_t
bk_sigv4_canonical_request(const struct bk_sigv4_creds *creds,
    const char *region, const char *service, time_t t,
    const struct bk_sigv4_req *req, char *out, size_t size,
    struct bk_err *err)
{
	struct canon c;
	ssize_t n;

	if (build(creds, region, service, t, req, req != NULL ? req->flags : 0,
	    &c, err) < 0)
		return -1;
	n = put(out, size, c.creq.p, c.creq.len, "canonical request", err);
	canon_free(&c);
	return n;
}

ssize_t
bk_sigv4_string_to_sign(const struct bk_sigv4_creds *creds,
    const char *region, const char *service, time_t t,
    const struct bk_sigv4_req *req, char *out, size_t size,
    struct bk_err *err)
{
	struct canon c;
	ssize_t n;

	if (build(creds, region, service, t, req, req != NULL ? req->flags : 0,
	    &c, err) < 0)
		return -1;
	n = put(out, size, c.sts, c.stslen, "string to sign", err);
	canon_free(&c);
	return n;
}

int
bk_sigv4_chunk_init(struct bk_sigv4_chunk *ch,
    const struct bk_sigv4_creds *creds, const char *region,
    const char *service, time_t t, const char *seed, struct bk_err *err)
{
	char date[9];
	size_t i;

	memset(ch, 0, sizeof(*ch));
	if (check_creds(creds, err) < 0 ||
	    make_scope(ch->amzdate, date, ch->scope, region, service, t,
	    err) < 0)
		return -1;
	for (i = 0; seed != NULL && seed[i] != '\0'; i++)
		if (!((seed[i] >= '0' && seed[i] <= '9') ||
		    (seed[i] >= 'a' && seed[i] <= 'f')))
			break;
	if (seed == NULL || seed[i] != '\0' || i != BK_SIGV4_HEXLEN)
		return bk_err_set(err, BK_EXIT_USAGE,
		    "SigV4: seed signature is not 64 hex digits");
	memcpy(ch->prev, seed, sizeof(ch->prev));
	return bk_sigv4_signing_key(ch->key, creds->secret_key, date, region,
	    service, err);
}

int
bk_sigv4_chunk_sign(struct bk_sigv4_chunk *ch, const void *data, size_t len,
    char hdr[BK_SIGV4_CHUNKHDR_SIZE], struct bk_err *err)
{
	char sts[sizeof("AWS4-HMAC-SHA256-PAYLOAD") + BK_SIGV4_DATELEN +
	    sizeof(ch->scope) + 3 * (BK_SIGV4_HEXLEN + 1) + 4];
	char hash[BK_SIGV4_HEXLEN + 1];
	unsigned char mac[32];
	int n;

	bk_sigv4_sha256_hex(hash, data, len);
	n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n"
	    "%s\n%s", ch->amzdate, ch->scope, ch->prev, BK_SIGV4_EMPTY_SHA256,
	    hash);
	if (n < 0 || (size_t)n >= sizeof(sts) ||
	    hmac(mac, ch->key, sizeof(ch->key), sts, (size_t)n) < 0)
		return bk_err_set(err, BK_EXIT_RUNTIME,
		    "SigV4: chunk signature failed");
	tohex(ch->prev, mac, sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
	return snprintf(hdr, BK_SIGV4_CHUNKHDR_SIZE, "%zx;chunk-signature=%s",
	    len, ch->prev);
}

void
bk_sigv4_chunk_free(struct bk_sigv4_chunk *ch)
{
	OPENSSL_cleanse(ch, sizeof(*ch));
}
