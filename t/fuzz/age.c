/*
 * age - bk_age_decrypt() (bk-crypt -d) on the input as an age file, binary
 * or armored, with an X25519 identity and a passphrase, as the tool tries
 * them.
 */
#include <fcntl.h>
#include <unistd.h>

#include "age.h"
#include "fuzz.h"
#include "secret.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	struct bk_age_keyring k;
	struct bk_age_opts o;
	struct bk_age_stats st;
	struct bk_secret id;
	struct bk_err err;

	if (devnull < 0 && (devnull = open("/dev/null", O_RDONLY)) < 0)
		abort();
	memset(&k, 0, sizeof(k));
	memset(&err, 0, sizeof(err));
	k.max_logn = 10;	/* scrypt: fast enough to fuzz */
	id.data = (unsigned char *)strdup(FUZZ_IDENTITY);
	id.len = strlen(FUZZ_IDENTITY);
	if (id.data == NULL || bk_age_keyring_add(&k, &id, "fuzz", &err) < 0)
		abort();
	free(id.data);
	k.pass.data = (unsigned char *)strdup(FUZZ_PASSPHRASE);
	k.pass.len = strlen(FUZZ_PASSPHRASE);
	if (k.pass.data == NULL)
		abort();

	memset(&o, 0, sizeof(o));
	o.in = devnull;
	o.out = -1;
	o.threads = 1;
	o.pre = data;
	o.prelen = size;
	memset(&st, 0, sizeof(st));
	(void)bk_age_decrypt(&o, &k, &st, &err);
	bk_age_keyring_free(&k);
	return 0;
}
