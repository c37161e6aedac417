/*
 * verify - bk-verify on the input as a backup: layer detection, age,
 * gzip, pg_dump custom and plain archives, tars of dumps, and a base
 * backup's tar with its backup_manifest (JSON) checked against the files.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "age.h"
#include "fuzz.h"
#include "secret.h"
#include "verify.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bk_age_keyring k;
	static int ready;
	struct bk_verify_opts o;
	struct bk_verify_report r;
	struct bk_err err;
	struct bk_secret id;
	int fd;

	if (!ready) {
		memset(&err, 0, sizeof(err));
		k.max_logn = 10;
		id.data = (unsigned char *)strdup(FUZZ_IDENTITY);
		id.len = strlen(FUZZ_IDENTITY);
		if (id.data == NULL || bk_age_keyring_add(&k, &id, "fuzz",
		    &err) < 0)
			abort();
		free(id.data);
		ready = 1;
	}
	(void)bk_verify_detect(data, size);
	if ((fd = memfd_create("fuzz", 0)) < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	memset(&o, 0, sizeof(o));
	o.keys = &k;
	memset(&r, 0, sizeof(r));
	(void)bk_verify(fd, &o, &r);
	close(fd);
	return 0;
}
