/* aws.c - unit tests for lib/aws: INI profiles, endpoints, the credential
 * chain from the environment and files, the metadata JSON. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws.h"
#include "tap.h"

static const char ini[] =
    "# a comment\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key=secret/default+x\n"
    "region = eu-west-1  \r\n"
    "\n"
    "[profile work]\n"
    "  ; indented comment\n"
    "region = us-west-2\n"
    "s3 =\n"
    "  addressing_style = path\n"
    "  max_concurrent_requests = 4\n"
    "endpoint_url = http://127.0.0.1:9000\n"
    "[empty]\n";

static void
get(const char *sec, const char *key, int want, const char *wantv)
{
	char out[64] = "";
	int r = bk_aws_ini_get(ini, strlen(ini), sec, key, out, sizeof(out));

	ok(r == want && (want != 1 || strcmp(out, wantv) == 0),
	    "[%s] %s -> %d \"%s\" (want %d \"%s\")", sec, key, r, out, want,
	    wantv ? wantv : "");
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	fchmod(fd, mode);
	close(fd);
}

static void
clear_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_CA_BUNDLE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

int
main(void)
{
	struct bk_aws a;
	struct bk_aws_opts o;
	struct bk_err e;
	char cred[512], conf[512], k[BK_AWS_KEYID_MAX + 1];
	char s[BK_SECRET_MAX + 1], t[BK_SECRET_MAX + 1], out[64];
	const char *dir = tap_tmpdir();
	const char *doc = "{\n  \"Code\" : \"Success\",\n  \"AccessKeyId\" "
	    ": \"ASIA1\",\n  \"SecretAccessKey\" : \"se\\/cr\\\"et\",\n  "
	    "\"Nested\" : { \"Token\" : \"no\" },\n  \"Token\" : \"tok\",\n"
	    "  \"Expiration\" : \"2026-11-22T20:00:00Z\"\n}";

	plan(37);

	/* INI lookups */
	get("default", "aws_access_key_id", 1, "AKIDDEFAULT");
	get("default", "aws_secret_access_key", 1, "secret/default+x");
	get("default", "region", 1, "eu-west-1");
	get("profile work", "region", 1, "us-west-2");
	get("profile work", "s3.addressing_style", 1, "path");
	get("profile work", "addressing_style", 0, NULL);
	get("profile work", "endpoint_url", 1, "http://127.0.0.1:9000");
	get("work", "region", 0, NULL);
	get("empty", "region", 0, NULL);
	get("nosuch", "region", 0, NULL);
	ok(bk_aws_ini_get(ini, strlen(ini), "default", "aws_access_key_id",
	    out, 5) == -1, "a value too long for the buffer is -1");

	/* JSON */
	ok(bk_aws_json_str(doc, strlen(doc), "AccessKeyId", out,
	    sizeof(out)) == 1 && strcmp(out, "ASIA1") == 0, "JSON: a member");
	ok(bk_aws_json_str(doc, strlen(doc), "SecretAccessKey", out,
	    sizeof(out)) == 1 && strcmp(out, "se/cr\"et") == 0,
	    "JSON: escapes decoded (%s)", out);
	ok(bk_aws_json_str(doc, strlen(doc), "Token", out, sizeof(out)) == 1 &&
	    strcmp(out, "tok") == 0, "JSON: top level only, not a nested "
	    "member of the same name (%s)", out);
	ok(bk_aws_json_str(doc, strlen(doc), "Missing", out, sizeof(out)) ==
	    0, "JSON: a missing member is 0");
	ok(bk_aws_json_str("{\"A\":\"x", 7, "A", out, sizeof(out)) == -1,
	    "JSON: an unterminated string is -1");
	ok(bk_aws_json_str("{\"A\":\"\\u0041\"}", 14, "A", out,
	    sizeof(out)) == -1, "JSON: \\u escapes are refused");

	/* endpoints */
	memset(&a, 0, sizeof(a));
	ok(bk_aws_set_endpoint(&a, "http://127.0.0.1:9000/base/", &e) == 0 &&
	    strcmp(a.scheme, "http") == 0 && strcmp(a.host, "127.0.0.1") == 0 &&
	    strcmp(a.hostport, "127.0.0.1:9000") == 0 &&
	    strcmp(a.base, "/base") == 0, "endpoint with port and base path");
	ok(bk_aws_set_endpoint(&a, "https://[::1]:8443", &e) == 0 &&
	    strcmp(a.host, "[::1]") == 0 && strcmp(a.hostport, "[::1]:8443") ==
	    0 && strcmp(a.base, "") == 0, "an IPv6 endpoint");
	ok(bk_aws_set_endpoint(&a, "ftp://x", &e) < 0 && e.code == 2,
	    "a non-HTTP endpoint is a usage error: %s", e.msg);
	ok(bk_aws_set_endpoint(&a, "https://user:pw@host", &e) < 0 &&
	    strstr(e.msg, "pw") == NULL, "userinfo is refused and not "
	    "repeated: %s", e.msg);
	ok(bk_aws_set_endpoint(&a, "https://h/?x=1", &e) < 0,
	    "a query in the endpoint is refused");
	free(a.scheme), free(a.host), free(a.hostport), free(a.base);

	/* the chain: environment first */
	clear_env();
	snprintf(cred, sizeof(cred), "%s/credentials", dir);
	snprintf(conf, sizeof(conf), "%s/config", dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	write_file(cred, "[default]\naws_access_key_id = FILEKEY\n"
	    "aws_secret_access_key = filesecret\n[other]\n"
	    "aws_access_key_id = OTHER\naws_secret_access_key = othersecret\n"
	    "aws_session_token = othertoken\n", 0600);
	write_file(conf, "[default]\nregion = eu-central-1\n"
	    "[profile other]\nregion = ap-south-1\n"
	    "endpoint_url = http://localhost:8080\n"
	    "[profile cfgonly]\naws_access_key_id = CFGKEY\n"
	    "aws_secret_access_key = cfgsecret\n", 0600);
	setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	memset(&o, 0, sizeof(o));
	ok(bk_aws_load(&a, &o, &e) == 0, "load from the environment: %s",
	    e.msg);
	bk_aws_creds(&a, k, s, t, &e);
	ok(strcmp(k, "ENVKEY") == 0 && strcmp(s, "envsecret") == 0 &&
	    t[0] == '\0', "the environment wins over the files");
	ok(getenv("AWS_SECRET_ACCESS_KEY") == NULL,
	    "the secret is removed from the environment");
	ok(strcmp(a.region, "eu-central-1") == 0 &&
	    strcmp(a.hostport, "s3.eu-central-1.amazonaws.com") == 0 &&
	    !a.path_style, "region from the config; AWS endpoint, virtual "
	    "host (%s %s)", a.region, a.hostport);
	bk_aws_free(&a);

	/* a profile, its region and endpoint; path style for the endpoint */
	clear_env();
	setenv("AWS_PROFILE", "other", 1);
	ok(bk_aws_load(&a, &o, &e) == 0, "load profile other: %s", e.msg);
	bk_aws_creds(&a, k, s, t, &e);
	ok(strcmp(k, "OTHER") == 0 && strcmp(s, "othersecret") == 0 &&
	    strcmp(t, "othertoken") == 0, "keys and token from the profile");
	ok(strcmp(a.region, "ap-south-1") == 0 &&
	    strcmp(a.hostport, "localhost:8080") == 0 && a.path_style,
	    "endpoint_url from the profile, path style");
	bk_aws_free(&a);

	/* options win over everything */
	o.profile = "cfgonly";
	o.region = "us-east-2";
	o.endpoint = "https://s3.example.net";
	o.addressing = BK_AWS_ADDR_VIRTUAL;
	setenv("AWS_REGION", "sa-east-1", 1);
	ok(bk_aws_load(&a, &o, &e) == 0, "load with options: %s", e.msg);
	bk_aws_creds(&a, k, s, t, &e);
	ok(strcmp(k, "CFGKEY") == 0 && strcmp(a.region, "us-east-2") == 0 &&
	    strcmp(a.host, "s3.example.net") == 0 && !a.path_style,
	    "credentials from [profile NAME] in config; --region, "
	    "--endpoint-url, --virtual-host");
	bk_aws_free(&a);

	/* a credentials file open to others is refused */
	clear_env();
	memset(&o, 0, sizeof(o));
	chmod(cred, 0644);
	ok(bk_aws_load(&a, &o, &e) < 0 && strstr(e.msg, "chmod 600") &&
	    strstr(e.msg, "filesecret") == NULL,
	    "a credentials file open to others: %s", e.msg);
	chmod(cred, 0600);

	/* a config file open to others is fine, unless the keys come
	 * from it */
	chmod(conf, 0644);
	setenv("AWS_PROFILE", "other", 1);
	ok(bk_aws_load(&a, &o, &e) == 0, "a config open to others, keys from "
	    "the credentials file: %s", e.msg);
	bk_aws_free(&a);
	setenv("AWS_PROFILE", "cfgonly", 1);
	ok(bk_aws_load(&a, &o, &e) < 0 && strstr(e.msg, "chmod 600") &&
	    strstr(e.msg, "cfgsecret") == NULL,
	    "keys from a config open to others: %s", e.msg);
	chmod(conf, 0600);
	unsetenv("AWS_PROFILE");

	/* nothing anywhere */
	unlink(cred);
	setenv("AWS_PROFILE", "nosuch", 1);
	ok(bk_aws_load(&a, &o, &e) < 0 && e.code == 2 &&
	    strstr(e.msg, "no credentials") != NULL,
	    "no credentials: a usage error naming where to put them: %s",
	    e.msg);
	clear_env();
	setenv("AWS_ACCESS_KEY_ID", "ONLYKEY", 1);
	ok(bk_aws_load(&a, &o, &e) < 0 && strstr(e.msg,
	    "AWS_SECRET_ACCESS_KEY"), "a key id without a secret: %s", e.msg);

	/* instance metadata that does not answer */
	clear_env();
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	ok(bk_aws_load(&a, &o, &e) < 0 && e.code == 2 &&
	    strstr(e.msg, "instance") != NULL,
	    "no instance metadata: %s", e.msg);
	unlink(conf);
	return done_testing();
}
