/*
 * aws.h - where S3 credentials, region and endpoint come from: the AWS
 * conventions users already have.
 *
 * Credentials, first found wins:
 *   1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
 *      the secret and token are wiped from the environment once read;
 *   2. the profile (--profile, AWS_PROFILE, else "default") in the shared
 *      credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials),
 *      then in the config file (AWS_CONFIG_FILE, ~/.aws/config, where it
 *      is "[profile NAME]"); a file the secret is taken from must be
 *      mode 0600 (the config file may be readable by others as long as
 *      the credentials come from elsewhere);
 *   3. EC2 instance metadata, IMDSv2 (a session token first), unless
 *      AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT
 *      moves it.  These expire and are refreshed (bk_aws_creds()).
 * Region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * "region", else us-east-1.  Endpoint: --endpoint-url, AWS_ENDPOINT_URL_S3,
 * AWS_ENDPOINT_URL, the profile's "endpoint_url", else AWS's own
 * https://s3.REGION.amazonaws.com.  Addressing: --path-style or
 * --virtual-host, else the profile's "s3 = addressing_style", else
 * path-style for an endpoint of one's own (S3-compatible stores) and
 * virtual-host style for AWS.
 */
#ifndef BK_AWS_H
#define BK_AWS_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "err.h"
#include "secret.h"

#define BK_AWS_REGION_MAX	64
#define BK_AWS_KEYID_MAX	128

enum bk_aws_addressing {
	BK_AWS_ADDR_AUTO = 0,
	BK_AWS_ADDR_PATH,
	BK_AWS_ADDR_VIRTUAL
};

/* What the user said on the command line; NULL or 0 means "not given". */
struct bk_aws_opts {
	const char		*endpoint;	/* --endpoint-url */
	const char		*region;	/* --region */
	const char		*profile;	/* --profile */
	const char		*ca_file;	/* --ca-file (else AWS_CA_BUNDLE) */
	const char		*ca_path;	/* --ca-path */
	enum bk_aws_addressing	 addressing;
};

/*
 * The resolved configuration, shared by every connection of a run.  The
 * credentials may be replaced (instance metadata expires), so they are
 * read under the lock with bk_aws_creds().
 */
struct bk_aws {
	pthread_mutex_t		 lock;
	char			 access_key[BK_AWS_KEYID_MAX + 1];
	struct bk_secret	 secret;
	struct bk_secret	 token;		/* len 0: none */
	time_t			 expires;	/* 0: never */
	const char		*source;	/* for -v: where they came from */
	char			 region[BK_AWS_REGION_MAX + 1];
	char			*scheme;	/* "https" or "http" */
	char			*host;		/* "s3.us-east-1.amazonaws.com" */
	char			*hostport;	/* with ":port" when not default */
	char			*base;		/* path prefix of the endpoint, "" */
	int			 path_style;
	char			*ca_file;
	char			*ca_path;
	char			*imds;		/* instance metadata endpoint */
};

/*
 * The command-line options every S3 tool takes, for getopt_long(): put
 * BK_AWS_LONGOPTS in the option table and hand unknown codes to
 * bk_aws_getopt(); BK_AWS_HELP is their --help text.
 */
enum {
	BK_AWS_OPT_CAFILE = 0x1000,
	BK_AWS_OPT_CAPATH,
	BK_AWS_OPT_ENDPOINT,
	BK_AWS_OPT_PATH,
	BK_AWS_OPT_PROFILE,
	BK_AWS_OPT_REGION,
	BK_AWS_OPT_VHOST
};
#define BK_AWS_LONGOPTS \
	{ "ca-file",		required_argument, NULL, BK_AWS_OPT_CAFILE }, \
	{ "ca-path",		required_argument, NULL, BK_AWS_OPT_CAPATH }, \
	{ "endpoint-url",	required_argument, NULL, BK_AWS_OPT_ENDPOINT }, \
	{ "path-style",		no_argument,	   NULL, BK_AWS_OPT_PATH }, \
	{ "profile",		required_argument, NULL, BK_AWS_OPT_PROFILE }, \
	{ "region",		required_argument, NULL, BK_AWS_OPT_REGION }, \
	{ "virtual-host",	no_argument,	   NULL, BK_AWS_OPT_VHOST }
#define BK_AWS_HELP \
	"S3 (credentials and endpoints: see bk-s3put(1)):\n" \
	"      --ca-file FILE     CA certificates (else AWS_CA_BUNDLE)\n" \
	"      --ca-path DIR      a directory of CA certificates\n" \
	"      --endpoint-url URL an S3-compatible store\n" \
	"      --path-style       https://host/bucket/key addressing\n" \
	"      --profile NAME     profile in ~/.aws/credentials, config\n" \
	"      --region NAME      the bucket's region\n" \
	"      --virtual-host     https://bucket.host/key addressing\n"

/* Take option c (with arg) into o; returns 1 if it was one of ours. */
int	bk_aws_getopt(struct bk_aws_opts *o, int c, const char *arg);

/*
 * Resolve everything for a run from o, the environment and the files.
 * Returns 0, or -1 with err filled: no credentials anywhere (usage, with
 * the places looked at), a bad endpoint URL (usage), an unreadable or
 * too open file, instance metadata that failed.
 */
int	bk_aws_load(struct bk_aws *a, const struct bk_aws_opts *o,
	    struct bk_err *err);

/* Wipe the secrets and free everything. */
void	bk_aws_free(struct bk_aws *a);

/*
 * Copy the current credentials into the caller's buffers (the secret and
 * token into memory the caller wipes), refreshing instance-metadata
 * credentials that expire within five minutes.  key and secret hold at
 * least BK_AWS_KEYID_MAX + 1 and BK_SECRET_MAX + 1 bytes, token
 * BK_SECRET_MAX + 1 ("" when none).  Thread-safe.  Returns 0 or -1.
 */
int	bk_aws_creds(struct bk_aws *a, char *key, char *secret, char *token,
	    struct bk_err *err);

/*
 * Parse an endpoint URL ("https://host[:port][/base]") into a's scheme,
 * host, hostport and base.  Returns 0, or -1 (usage) naming what is wrong.
 */
int	bk_aws_set_endpoint(struct bk_aws *a, const char *url,
	    struct bk_err *err);

/*
 * Look up key in section of an AWS-style INI text (len bytes): "[name]"
 * headers, "key = value" lines, '#' and ';' comments, and nested keys
 * ("s3 =" followed by indented "addressing_style = path" lines, looked up
 * as "s3.addressing_style").  Section and key names compare exactly,
 * after trimming.  Copies the trimmed value into out (size bytes).
 * Returns 1 if found, 0 if not, -1 if the value does not fit.
 */
int	bk_aws_ini_get(const char *text, size_t len, const char *section,
	    const char *key, char *out, size_t size);

/*
 * Take the string value of the top-level member name from a JSON object
 * (the instance metadata credentials document) into out.  Returns 1 if
 * found, 0 if not, -1 if malformed or too long for out.
 */
int	bk_aws_json_str(const char *doc, size_t len, const char *name,
	    char *out, size_t size);

#endif
