/*
 * aws - what the S3 tools read from the AWS files and the credential
 * services: bk_aws_ini_get() (~/.aws/config and credentials) and
 * bk_aws_json_str() (the instance metadata, container and SSO answers).
 */
#include "aws.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sect[] = { "default", "profile dev",
	    "sso-session corp", "s3" };
	static const char *const key[] = { "region", "aws_access_key_id",
	    "endpoint_url", "credential_process", "addressing_style" };
	static const char *const json[] = { "AccessKeyId", "SecretAccessKey",
	    "Token", "Expiration", "accessToken", "roleCredentials" };
	char out[256], *s;
	size_t i;

	if ((s = fuzz_str(data, size)) == NULL)
		return 0;
	for (i = 0; i < sizeof(sect) / sizeof(sect[0]); i++)
		(void)bk_aws_ini_get(s, size, sect[i], key[i % 5], out,
		    sizeof(out));
	(void)bk_aws_ini_get(s, size, "default", "region", out, 2);
	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		(void)bk_aws_json_str(s, size, json[i], out, sizeof(out));
	(void)bk_aws_json_str(s, size, "Token", out, 1);
	free(s);
	return 0;
}
