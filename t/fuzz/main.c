/*
 * main.c - replay inputs through a fuzz target without libFuzzer: every
 * file named, and every file in a directory named, once.  make check
 * builds each target with it and the normal compiler (and with ASan and
 * UBSan under SANITIZE=1) and replays the seed corpus, which also holds
 * the inputs of every crash found so far: a regression comes back as a
 * test failure, with no clang needed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
replay(const char *path)
{
	unsigned char *buf = NULL, *exact;
	size_t len = 0, cap = 0, n;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 65536;
			if ((p = realloc(buf, cap)) == NULL)
				abort();
			buf = p;
		}
		if ((n = fread(buf + len, 1, cap - len, fp)) == 0)
			break;
		len += n;
	}
	fclose(fp);
	/* In a buffer of its exact size, as libFuzzer passes it, so that
	 * the sanitizers see a read past its end. */
	if ((exact = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	unsigned count = 0;
	int i, bad = 0;
	DIR *d;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if ((d = opendir(argv[i])) == NULL) {
				bad = 1;
				continue;
			}
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				    de->d_name);
				bad |= replay(path) < 0;
				count++;
			}
			closedir(d);
		} else {
			bad |= replay(argv[i]) < 0;
			count++;
		}
	}
	printf("%s: %u inputs replayed\n", argv[0], count);
	return bad;
}
