/*
 * aws.c - credentials, region and endpoint from the AWS conventions (see
 * aws.h).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws.h"

#define IMDS_DEFAULT	"http://169.254.169.254"
#define IMDS_BODYMAX	(16 * 1024)
#define REFRESH_MARGIN	300	/* seconds before expiry */

/* --- small text helpers --------------------------------------------------- */

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static const char *
trim_end(const char *start, const char *p)
{
	while (p > start && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r'))
		p--;
	return p;
}

static int
span_eq(const char *a, const char *aend, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(aend - a) == n && memcmp(a, s, n) == 0;
}

int
bk_aws_ini_get(const char *text, size_t len, const char *section,
    const char *key, char *out, size_t size)
{
	const char *p = text, *end = text + len, *nl, *k, *kend, *v, *vend;
	const char *dot = strchr(key, '.');
	int in = 0, block = 0, nested = 0;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		k = skip_space(p, nl);
		if (k == nl || *k == '#' || *k == ';')
			goto next;
		if (*k == '[') {
			if ((kend = memchr(k, ']', (size_t)(nl - k))) == NULL)
				goto next;
			k = skip_space(k + 1, kend);
			in = span_eq(k, trim_end(k, kend), section);
			block = nested = 0;
			goto next;
		}
		if (!in || (v = memchr(k, '=', (size_t)(nl - k))) == NULL)
			goto next;
		kend = trim_end(k, v);
		v = skip_space(v + 1, nl);
		vend = trim_end(v, nl);
		if (k == p || !block) {
			/* A top-level key; with an empty value it opens a
			 * block of indented nested keys. */
			block = v == vend;
			nested = block && dot != NULL &&
			    (size_t)(kend - k) == (size_t)(dot - key) &&
			    memcmp(k, key, (size_t)(dot - key)) == 0;
			if (dot != NULL || !span_eq(k, kend, key))
				goto next;
		} else if (!nested || !span_eq(k, kend, dot + 1)) {
			goto next;
		}
		if ((size_t)(vend - v) >= size)
			return -1;
		memcpy(out, v, (size_t)(vend - v));
		out[vend - v] = '\0';
		return 1;
next:
		p = nl + 1;
	}
	return 0;
}

int
bk_aws_json_str(const char *doc, size_t len, const char *name, char *out,
    size_t size)
{
	const char *p = doc, *end = doc + len;
	size_t n = strlen(name), o = 0;
	int depth = 0;

	/* Walk the object, matching only top-level member names. */
	while (p < end) {
		if (*p == '{' || *p == '[') {
			depth++, p++;
			continue;
		}
		if (*p == '}' || *p == ']') {
			depth--, p++;
			continue;
		}
		if (*p != '"') {
			p++;
			continue;
		}
		/* A string: a member name if followed by ':'. */
		{
			const char *s = ++p, *q;

			while (p < end && *p != '"')
				p += *p == '\\' ? 2 : 1;
			if (p >= end)
				return -1;
			q = skip_space(p + 1, end);
			while (q < end && *q == '\n')
				q = skip_space(q + 1, end);
			if (depth != 1 || q >= end || *q != ':' ||
			    (size_t)(p - s) != n || memcmp(s, name, n) != 0) {
				p++;
				continue;
			}
			q = skip_space(q + 1, end);
			while (q < end && *q == '\n')
				q = skip_space(q + 1, end);
			if (q >= end || *q != '"')
				return -1;
			for (q++; q < end && *q != '"'; q++) {
				char c = *q;

				if (c == '\\') {
					if (++q >= end)
						return -1;
					switch (*q) {
					case '"': case '\\': case '/':
						c = *q;
						break;
					case 'n':
						c = '\n';
						break;
					default:
						/* Credentials are plain ASCII. */
						return -1;
					}
				}
				if (o + 1 >= size)
					return -1;
				out[o++] = c;
			}
			if (q >= end)
				return -1;
			out[o] = '\0';
			return 1;
		}
	}
	return 0;
}

/* --- files ---------------------------------------------------------------- */

/* $HOME/rel, or the home directory of the user. */
static char *
home_path(const char *rel)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	char *s;

	if ((home == NULL || *home == '\0') && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	if (home == NULL)
		return NULL;
	if (asprintf(&s, "%s/%s", home, rel) < 0)
		return NULL;
	return s;
}

/*
 * Read an AWS file into f (as a secret: it may hold keys).  A missing file
 * is not an error (returns 0, f empty); else 1, or -1.
 */
static int
read_file(const char *env, const char *rel, int strict, struct bk_secret *f,
    char **pathp, struct bk_err *err)
{
	const char *e = getenv(env);
	char *path = e != NULL && *e != '\0' ? strdup(e) : home_path(rel);
	struct stat st;
	int fd;

	f->data = NULL;
	f->len = 0;
	*pathp = path;
	if (path == NULL || access(path, F_OK) < 0)
		return 0;
	if (strict)
		return bk_secret_from_file(f, path, err) < 0 ? -1 : 1;
	/* The config file: read whatever its mode (a secret in it is
	 * refused later, if it is used and the file is open). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return bk_err_sys(err, BK_EXIT_USAGE, errno, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bk_err_set(err, BK_EXIT_USAGE, "%s: not a regular file",
		    path);
	}
	if (bk_secret_from_fd(f, fd, err) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return (st.st_mode & 077) != 0 ? 2 : 1;
}

/* --- endpoint ------------------------------------------------------------- */

int
bk_aws_set_endpoint(struct bk_aws *a, const char *url, struct bk_err *err)
{
	const char *p, *h, *slash;
	size_t hl;

	free(a->scheme);
	a->scheme = NULL;
	if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		a->scheme = strdup("https");
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		a->scheme = strdup("http");
	} else {
		return bk_err_set(err, BK_EXIT_USAGE, "endpoint %s: not an "
		    "http:// or https:// URL", url);
	}
	h = p;
	slash = strchr(p, '/');
	hl = slash != NULL ? (size_t)(slash - h) : strlen(h);
	if (memchr(h, '@', hl) != NULL)	/* may hold a password: no echo */
		return bk_err_set(err, BK_EXIT_USAGE, "endpoint: a user name "
		    "or password in the URL is not accepted");
	if (hl == 0 || strpbrk(url, " \t\r\n?#") != NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "endpoint %s: expected "
		    "scheme://host[:port][/path], without query or fragment",
		    url);
	free(a->hostport);
	free(a->host);
	free(a->base);
	a->hostport = strndup(h, hl);
	/* The host without the port, for virtual-host names; "[v6]:p". */
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', hl);

		a->host = rb != NULL ? strndup(h, (size_t)(rb - h + 1)) : NULL;
	} else {
		const char *colon = memchr(h, ':', hl);

		a->host = strndup(h, colon ? (size_t)(colon - h) : hl);
	}
	a->base = strdup(slash != NULL ? slash : "");
	if (a->scheme == NULL || a->hostport == NULL || a->host == NULL ||
	    a->base == NULL)
		return bk_err_set(err, BK_EXIT_USAGE, "endpoint %s: out of "
		    "memory or malformed", url);
	/* No trailing '/' on the base path: keys are appended after one. */
	hl = strlen(a->base);
	while (hl > 0 && a->base[hl - 1] == '/')
		a->base[--hl] = '\0';
	return 0;
}

/* --- instance metadata ---------------------------------------------------- */

struct imds_buf {
	char	data[IMDS_BODYMAX + 1];
	size_t	len;
};

static size_t
imds_write(char *p, size_t size, size_t n, void *arg)
{
	struct imds_buf *b = arg;

	n *= size;
	if (b->len + n > IMDS_BODYMAX)
		return 0;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* One request to the metadata service; the body into b. */
static int
imds_get(CURL *c, const char *url, const char *method, const char *hdr,
    struct imds_buf *b, struct bk_err *err)
{
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc;

	b->len = 0;
	b->data[0] = '\0';
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, imds_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	h = curl_slist_append(h, hdr);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK)
		return bk_err_set(err, BK_EXIT_USAGE, "no credentials: "
		    "instance metadata: %s", curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return bk_err_set(err, BK_EXIT_RUNTIME, "instance metadata: "
		    "%s %s: HTTP %ld", method, url, status);
	return 0;
}

/* Fetch role credentials with IMDSv2 into a (the caller holds the lock). */
static int
imds_fetch(struct bk_aws *a, struct bk_err *err)
{
	struct imds_buf *b = malloc(sizeof(*b));
	char url[512], hdr[IMDS_BODYMAX + 64], role[256], exp[64];
	char *sec = NULL, *tok = NULL;
	CURL *c = curl_easy_init();
	struct tm tm;
	int rc = -1;

	if (b == NULL || c == NULL) {
		bk_err_set(err, BK_EXIT_RUNTIME, "instance metadata: out of "
		    "memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/latest/api/token", a->imds);
	if (imds_get(c, url, "PUT",
	    "X-aws-ec2-metadata-token-ttl-seconds: 21600", b, err) < 0)
		goto out;
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", b->data);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/"
	    "security-credentials/", a->imds);
	if (imds_get(c, url, "GET", hdr, b, err) < 0)
		goto out;
	if (b->len == 0 || b->len >= sizeof(role) ||
	    strcspn(b->data, "\r\n/ ") == 0) {
		bk_err_set(err, BK_EXIT_USAGE, "no credentials: instance "
		    "metadata: no IAM role attached to this instance");
		goto out;
	}
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(b->data, "\r\n"),
	    b->data);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/"
	    "security-credentials/%s", a->imds, role);
	if (imds_get(c, url, "GET", hdr, b, err) < 0)
		goto out;
	sec = malloc(BK_SECRET_MAX + 1);
	tok = malloc(BK_SECRET_MAX + 1);
	if (sec == NULL || tok == NULL ||
	    bk_aws_json_str(b->data, b->len, "AccessKeyId", a->access_key,
	    sizeof(a->access_key)) != 1 ||
	    bk_aws_json_str(b->data, b->len, "SecretAccessKey", sec,
	    BK_SECRET_MAX + 1) != 1 ||
	    bk_aws_json_str(b->data, b->len, "Token", tok,
	    BK_SECRET_MAX + 1) != 1 ||
	    bk_aws_json_str(b->data, b->len, "Expiration", exp,
	    sizeof(exp)) != 1) {
		bk_err_set(err, BK_EXIT_RUNTIME, "instance metadata: role %s: "
		    "malformed credentials document", role);
		goto out;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(exp, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
		bk_err_set(err, BK_EXIT_RUNTIME, "instance metadata: role %s: "
		    "bad Expiration %s", role, exp);
		goto out;
	}
	a->expires = timegm(&tm);
	bk_secret_free(&a->secret);
	bk_secret_free(&a->token);
	a->secret.len = strlen(sec);
	a->secret.data = (unsigned char *)sec;
	a->token.len = strlen(tok);
	a->token.data = (unsigned char *)tok;
	sec = tok = NULL;
	a->source = "instance metadata";
	rc = 0;
out:
	if (b != NULL) {
		bk_secret_wipe(b, sizeof(*b));
		free(b);
	}
	bk_secret_wipe(hdr, sizeof(hdr));
	if (sec != NULL) {
		bk_secret_wipe(sec, BK_SECRET_MAX + 1);
		free(sec);
	}
	if (tok != NULL) {
		bk_secret_wipe(tok, BK_SECRET_MAX + 1);
		free(tok);
	}
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}

int
bk_aws_getopt(struct bk_aws_opts *o, int c, const char *arg)
{
	switch (c) {
	case BK_AWS_OPT_CAFILE:
		o->ca_file = arg;
		return 1;
	case BK_AWS_OPT_CAPATH:
		o->ca_path = arg;
		return 1;
	case BK_AWS_OPT_ENDPOINT:
		o->endpoint = arg;
		return 1;
	case BK_AWS_OPT_PATH:
		o->addressing = BK_AWS_ADDR_PATH;
		return 1;
	case BK_AWS_OPT_PROFILE:
		o->profile = arg;
		return 1;
	case BK_AWS_OPT_REGION:
		o->region = arg;
		return 1;
	case BK_AWS_OPT_VHOST:
		o->addressing = BK_AWS_ADDR_VIRTUAL;
		return 1;
	default:
		return 0;
	}
}

/* --- loading -------------------------------------------------------------- */

/* Copy a value found in a secret file into a new secret. */
static int
secret_dup(struct bk_secret *s, const char *v, struct bk_err *err)
{
	s->len = strlen(v);
	if ((s->data = malloc(s->len + 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "credentials");
	memcpy(s->data, v, s->len + 1);
	return 0;
}

/* Credentials from a profile section of one file; 1 found, 0 not. */
static int
profile_creds(struct bk_aws *a, const struct bk_secret *f,
    const char *section, const char *path, struct bk_err *err)
{
	char *v;
	int found = 0, r;

	if (f->data == NULL)
		return 0;
	if ((v = malloc(BK_SECRET_MAX + 1)) == NULL)
		return bk_err_sys(err, BK_EXIT_RUNTIME, ENOMEM, "%s", path);
	r = bk_aws_ini_get((char *)f->data, f->len, section,
	    "aws_access_key_id", a->access_key, sizeof(a->access_key));
	if (r == 1) {
		r = bk_aws_ini_get((char *)f->data, f->len, section,
		    "aws_secret_access_key", v, BK_SECRET_MAX + 1);
		if (r != 1) {
			bk_err_set(err, BK_EXIT_USAGE, "%s: [%s] has "
			    "aws_access_key_id but no aws_secret_access_key",
			    path, section);
			found = -1;
			goto out;
		}
		if (secret_dup(&a->secret, v, err) < 0) {
			found = -1;
			goto out;
		}
		if (bk_aws_ini_get((char *)f->data, f->len, section,
		    "aws_session_token", v, BK_SECRET_MAX + 1) == 1 &&
		    secret_dup(&a->token, v, err) < 0) {
			found = -1;
			goto out;
		}
		found = 1;
	} else if (r < 0) {
		bk_err_set(err, BK_EXIT_USAGE, "%s: [%s]: aws_access_key_id "
		    "too long", path, section);
		found = -1;
	}
out:
	bk_secret_wipe(v, BK_SECRET_MAX + 1);
	free(v);
	return found;
}

/* A setting from the environment, else from the profile in config. */
static int
setting(const struct bk_secret *cfg, const char *section, const char *key,
    char *out, size_t size)
{
	if (cfg->data == NULL)
		return 0;
	return bk_aws_ini_get((char *)cfg->data, cfg->len, section, key, out,
	    size) == 1;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

int
bk_aws_load(struct bk_aws *a, const struct bk_aws_opts *o,
    struct bk_err *err)
{
	struct bk_secret cred = { NULL, 0 }, cfg = { NULL, 0 };
	char *credpath = NULL, *cfgpath = NULL, csec[300], psec[300];
	char val[1024];
	const char *profile, *v;
	int r, rc = -1, have = 0, cfgopen = 0;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	profile = o->profile ? o->profile : env("AWS_PROFILE");
	if (profile == NULL)
		profile = "default";
	snprintf(csec, sizeof(csec), "%s", profile);
	if (strcmp(profile, "default") == 0)
		snprintf(psec, sizeof(psec), "default");
	else
		snprintf(psec, sizeof(psec), "profile %s", profile);

	if (read_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", 1,
	    &cred, &credpath, err) < 0 ||
	    (cfgopen = read_file("AWS_CONFIG_FILE", ".aws/config", 0, &cfg,
	    &cfgpath, err)) < 0)
		goto out;

	/* Credentials. */
	if ((v = env("AWS_ACCESS_KEY_ID")) != NULL) {
		if (strlen(v) > BK_AWS_KEYID_MAX) {
			bk_err_set(err, BK_EXIT_USAGE, "AWS_ACCESS_KEY_ID: too "
			    "long");
			goto out;
		}
		snprintf(a->access_key, sizeof(a->access_key), "%s", v);
		if (bk_secret_from_env(&a->secret, "AWS_SECRET_ACCESS_KEY",
		    err) < 0)
			goto out;
		if (a->secret.len == 0) {
			bk_err_set(err, BK_EXIT_USAGE, "AWS_ACCESS_KEY_ID is "
			    "set but AWS_SECRET_ACCESS_KEY is not");
			goto out;
		}
		if (bk_secret_from_env(&a->token, "AWS_SESSION_TOKEN",
		    err) < 0)
			goto out;
		a->source = "environment";
		have = 1;
	} else {
		/* A token without its keys is of no use: wipe it, so that
		 * it does not linger in the environment. */
		struct bk_secret stray;

		if (bk_secret_from_env(&stray, "AWS_SESSION_TOKEN", err) < 0)
			goto out;
		bk_secret_free(&stray);
		if ((r = profile_creds(a, &cred, csec, credpath, err)) < 0)
			goto out;
		if (r == 1)
			a->source = "profile";
		if (r == 0 && (r = profile_creds(a, &cfg, psec, cfgpath,
		    err)) < 0)
			goto out;
		if (r == 1 && a->source == NULL && cfgopen == 2) {
			bk_err_set(err, BK_EXIT_USAGE, "%s: holds the secret "
			    "access key but is open to others: key files must "
			    "be 0600 or stricter (chmod 600 %s)", cfgpath,
			    cfgpath);
			goto out;
		}
		if (r == 1) {
			a->source = "profile";
			have = 1;
		}
	}

	/* Region. */
	if ((v = o->region) == NULL && (v = env("AWS_REGION")) == NULL &&
	    (v = env("AWS_DEFAULT_REGION")) == NULL &&
	    setting(&cfg, psec, "region", val, sizeof(val)))
		v = val;
	if (v == NULL)
		v = "us-east-1";
	if (strlen(v) > BK_AWS_REGION_MAX || strpbrk(v, "/ \t\r\n") != NULL) {
		bk_err_set(err, BK_EXIT_USAGE, "region %s: not a region name",
		    v);
		goto out;
	}
	memcpy(a->region, v, strlen(v) + 1);	/* the length is checked */

	/* Endpoint and addressing. */
	if ((v = o->endpoint) == NULL && (v = env("AWS_ENDPOINT_URL_S3")) ==
	    NULL && (v = env("AWS_ENDPOINT_URL")) == NULL &&
	    setting(&cfg, psec, "endpoint_url", val, sizeof(val)))
		v = val;
	if (v != NULL) {
		if (bk_aws_set_endpoint(a, v, err) < 0)
			goto out;
		a->path_style = 1;
	} else {
		char def[128];

		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com",
		    a->region);
		if (bk_aws_set_endpoint(a, def, err) < 0)
			goto out;
	}
	if (o->addressing != BK_AWS_ADDR_AUTO)
		a->path_style = o->addressing == BK_AWS_ADDR_PATH;
	else if (setting(&cfg, psec, "s3.addressing_style", val, sizeof(val)))
		a->path_style = strcmp(val, "virtual") != 0;

	/* TLS trust. */
	if ((v = o->ca_file) != NULL || (v = env("AWS_CA_BUNDLE")) != NULL)
		a->ca_file = strdup(v);
	if (o->ca_path != NULL)
		a->ca_path = strdup(o->ca_path);

	/* Instance metadata last: it costs a network round trip. */
	v = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	a->imds = strdup(v != NULL ? v : IMDS_DEFAULT);
	if (a->imds != NULL) {
		size_t n = strlen(a->imds);

		while (n > 0 && a->imds[n - 1] == '/')
			a->imds[--n] = '\0';
	}
	if (!have) {
		v = env("AWS_EC2_METADATA_DISABLED");
		if (v != NULL && strcasecmp(v, "true") == 0) {
			bk_err_set(err, BK_EXIT_USAGE, "no credentials: set "
			    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
			    "give profile %s in %s", profile, credpath ?
			    credpath : "~/.aws/credentials");
			goto out;
		}
		if (a->imds == NULL || imds_fetch(a, err) < 0) {
			if (err != NULL && err->code == BK_EXIT_USAGE)
				bk_err_set(err, BK_EXIT_USAGE, "no "
				    "credentials: set AWS_ACCESS_KEY_ID and "
				    "AWS_SECRET_ACCESS_KEY, give profile %s in "
				    "%s, or run on an instance with a role",
				    profile, credpath ? credpath :
				    "~/.aws/credentials");
			goto out;
		}
	}
	rc = 0;
out:
	bk_secret_free(&cred);
	bk_secret_free(&cfg);
	free(credpath);
	free(cfgpath);
	bk_secret_wipe(val, sizeof(val));
	if (rc < 0)
		bk_aws_free(a);
	return rc;
}

void
bk_aws_free(struct bk_aws *a)
{
	bk_secret_free(&a->secret);
	bk_secret_free(&a->token);
	bk_secret_wipe(a->access_key, sizeof(a->access_key));
	free(a->scheme);
	free(a->host);
	free(a->hostport);
	free(a->base);
	free(a->ca_file);
	free(a->ca_path);
	free(a->imds);
	a->scheme = a->host = a->hostport = a->base = NULL;
	a->ca_file = a->ca_path = a->imds = NULL;
	pthread_mutex_destroy(&a->lock);
}

int
bk_aws_creds(struct bk_aws *a, char *key, char *secret, char *token,
    struct bk_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (a->expires != 0 && time(NULL) + REFRESH_MARGIN >= a->expires)
		rc = imds_fetch(a, err);
	if (rc == 0) {
		memcpy(key, a->access_key, sizeof(a->access_key));
		memcpy(secret, a->secret.data, a->secret.len + 1);
		if (a->token.len > 0)
			memcpy(token, a->token.data, a->token.len + 1);
		else
			token[0] = '\0';
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}
