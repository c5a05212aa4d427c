/*
 * replay.c - runs libFuzzer entries as plain programs: every file named on
 * the command line (or found directly inside a directory named there) goes
 * through LLVMFuzzerTestOneInput once.  An invariant that breaks aborts, so
 * the exit status says whether every input passed.  Linked instead of
 * libFuzzer for tests/fuzz/regress.test, check-arm and valgrind runs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, n = 0, got;
	uint8_t *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	/* An exact-size copy, as libFuzzer passes it, so ASan sees overreads. */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	unsigned ran = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			ran++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			failed++;
			continue;
		}
		/* Sorted, so a failure points at the same input every time. */
		size_t n = 0, cap = 64;
		char **list = malloc(cap * sizeof *list);
		struct dirent *e;
		/* errno tells a failing readdir() from the end of the directory:
		 * a 32-bit build without _FILE_OFFSET_BITS=64 gets EOVERFLOW on
		 * file systems with 64-bit inode numbers or offsets. */
		errno = 0;
		while (list && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			if (n == cap) {
				char **nl = realloc(list, (cap *= 2) * sizeof *list);
				if (!nl)
					break;
				list = nl;
			}
			size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
			list[n] = malloc(len);
			if (list[n])
				snprintf(list[n++], len, "%s/%s", argv[i], e->d_name);
		}
		if (errno) {
			fprintf(stderr, "%s: readdir: %s\n", argv[i], strerror(errno));
			failed++;
		}
		closedir(d);
		if (!list) {
			failed++;
			continue;
		}
		qsort(list, n, sizeof *list, cmp);
		for (size_t k = 0; k < n; k++) {
			failed += run_file(list[k]) != 0;
			ran++;
			free(list[k]);
		}
		free(list);
	}
	printf("%u inputs, %u unreadable\n", ran, failed);
	return failed ? 1 : 0;
}
