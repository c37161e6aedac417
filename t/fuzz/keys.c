/*
 * keys - the text forms of keys: age recipients (bech32 "age1..."),
 * identities ("AGE-SECRET-KEY-1..."), bech32 and base64 decoding, and an
 * identity file's lines (bk_age_keyring_add, as bk-crypt -i reads one).
 */
#include "age.h"
#include "b64.h"
#include "bech32.h"
#include "fuzz.h"
#include "secret.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_age_identity id;
	struct bk_age_keyring k;
	struct bk_secret text;
	struct bk_err err;
	unsigned char pk[32], *buf;
	char *s;

	if ((s = fuzz_str(data, size)) == NULL)
		return 0;
	memset(&err, 0, sizeof(err));
	(void)bk_age_recipient_parse(s, pk, &err);
	(void)bk_age_identity_parse(s, &id, &err);
	if ((buf = malloc(size + 1)) != NULL) {
		(void)bk_bech32_decode(buf, size + 1, "age", s);
		(void)bk_bech32_decode(buf, size + 1, "age-secret-key-", s);
		(void)bk_b64_decode_raw(buf, s, size);
		(void)bk_b64_decode_pad(buf, s, size);
		free(buf);
	}

	memset(&k, 0, sizeof(k));
	text.data = (unsigned char *)s;	/* the keyring wipes, not frees */
	text.len = size;
	(void)bk_age_keyring_add(&k, &text, "fuzz", &err);
	bk_age_keyring_free(&k);
	free(s);
	return 0;
}
