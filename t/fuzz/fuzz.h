/*
 * fuzz.h - what the libFuzzer targets in t/fuzz share.
 *
 * Each target feeds its input to the real parser in lib/, the way the tools
 * do, and checks nothing but that it returns: AddressSanitizer and
 * UndefinedBehaviorSanitizer (and the leak checker) report the rest.  See
 * t/fuzz/README.
 */
#ifndef BK_FUZZ_H
#define BK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The fixed identity the age and verify targets decrypt with; the seed
 * corpus holds files encrypted to its recipient,
 * age14hz6efk2z43g0zzgqu2ff3dk23vs8lngx5hdengtk28ug43ytelql2znp8, and to
 * the passphrase FUZZ_PASSPHRASE with a work factor of at most 10. */
#define FUZZ_IDENTITY \
	"AGE-SECRET-KEY-1KNWGQH88M3SEGPFX2KKUP24U89P6Q96HDGFDY0FTFAMHKX5UAZLSE5FDXG"
#define FUZZ_PASSPHRASE	"fuzz"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (the tools' strings are), or NULL. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
