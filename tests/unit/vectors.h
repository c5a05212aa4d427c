/*
 * vectors.h - access to ../shared/vectors (captured meter frames) for the
 * unit tests.  The directory comes from $VECTORS (the Makefile's VECTORS=).
 * Where it is absent, tests call vec_require(), which says so loudly and
 * skips (cmocka counts a skip as skipped, never as passed).
 *
 * Header-only (static functions) so each test binary stays one file; the
 * including test includes <cmocka.h> first (skip(), fail_msg()).
 */
#ifndef HM_TEST_VECTORS_H
#define HM_TEST_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hexfile.h"
#include "hanmeter/reading.h"

#define VEC_MAX_ROWS 256
#define VEC_MAX_COLS 16

struct vec_row {
	char *col[VEC_MAX_COLS]; /* file, manufacturer, meter_model_country, format, encryption_key,
				    auth_key, source, expected_values, expected_origin, integrity, kind, notes */
	int ncol;
};

static struct {
	char *text;
	struct vec_row rows[VEC_MAX_ROWS];
	int nrows;
	char *header[VEC_MAX_COLS];
	int nheader;
} vec_manifest_data;

static inline const char *vec_dir(void)
{
	const char *d = getenv("VECTORS");
	static char probe[4096];
	if (!d || !*d)
		return NULL;
	snprintf(probe, sizeof probe, "%s/MANIFEST.tsv", d);
	FILE *f = fopen(probe, "r");
	if (!f)
		return NULL;
	fclose(f);
	return d;
}

/* Skips the calling cmocka test, loudly, when the vectors are absent. */
#define vec_require()                                                                                           \
	do {                                                                                                    \
		if (!vec_dir()) {                                                                               \
			fprintf(stderr, "*** VECTORS not found ($VECTORS=%s): real-capture test SKIPPED ***\n", \
			        getenv("VECTORS") ? getenv("VECTORS") : "(unset)");                             \
			skip();                                                                                 \
		}                                                                                               \
	} while (0)

/* Reads a whole vector file (malloc'ed, NUL-terminated); NULL if missing. */
static inline char *vec_read(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", vec_dir() ? vec_dir() : ".", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Loads a .hex vector: all data bytes concatenated, and each line's extent. */
static inline int vec_hex(const char *name, uint8_t *out, size_t cap, size_t *out_len, struct hm_hexline *lines,
                          size_t max_lines, size_t *n_lines)
{
	size_t n;
	char *text = vec_read(name, &n);
	char err[256];
	if (!text)
		return -1;
	int rc = hm_hex_parse(text, n, out, cap, out_len, lines, max_lines, n_lines, err, sizeof err);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", name, err);
	free(text);
	return rc;
}

/* Loads MANIFEST.tsv once.  Returns the number of rows (0 if absent). */
static inline int vec_manifest_load(void)
{
	if (vec_manifest_data.text)
		return vec_manifest_data.nrows;
	char *t = vec_read("MANIFEST.tsv", NULL);
	if (!t)
		return 0;
	vec_manifest_data.text = t;
	char *line = t, *next;
	int first = 1;
	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!*line)
			continue;
		char **cols = first ? vec_manifest_data.header : vec_manifest_data.rows[vec_manifest_data.nrows].col;
		int nc = 0;
		for (char *c = line; c && nc < VEC_MAX_COLS;) {
			cols[nc++] = c;
			c = strchr(c, '\t');
			if (c)
				*c++ = 0;
		}
		if (first) {
			vec_manifest_data.nheader = nc;
			first = 0;
		} else if (vec_manifest_data.nrows < VEC_MAX_ROWS) {
			vec_manifest_data.rows[vec_manifest_data.nrows++].ncol = nc;
		}
	}
	return vec_manifest_data.nrows;
}

/* The column named column ("expected_values", "kind", ...) of the row whose
 * file is file; "" if the column is empty, NULL if there is no such row. */
static inline const char *vec_manifest(const char *file, const char *column)
{
	vec_manifest_load();
	int ci = -1;
	for (int i = 0; i < vec_manifest_data.nheader; i++)
		if (strcmp(vec_manifest_data.header[i], column) == 0)
			ci = i;
	for (int r = 0; r < vec_manifest_data.nrows; r++) {
		struct vec_row *row = &vec_manifest_data.rows[r];
		if (strcmp(row->col[0], file) == 0)
			return ci >= 0 && ci < row->ncol ? row->col[ci] : "";
	}
	return NULL;
}

/* Finds "name=" in an expected_values string and copies its value (up to
 * "; " or the end) to buf.  Searches from *from (advanced past the match)
 * when from is given, so repeated names ([line N] sections) can be walked.
 * Returns 1 if found. */
static inline int vec_expect(const char *expected, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = expected; p && *p; p = strstr(p, "; ")) {
		while (*p == ';' || *p == ' ')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1, *e = strstr(v, "; ");
			size_t len = e ? (size_t)(e - v) : strlen(v);
			if (len >= cap)
				len = cap - 1;
			memcpy(buf, v, len);
			buf[len] = 0;
			return 1;
		}
		if (!strstr(p, "; "))
			break;
	}
	return 0;
}

/* Every name=value of expected (an expected_values string) equals the
 * field of r that the name names, numbers as hm_num_format() writes them;
 * a name that is no field, or a field r lacks, fails the test as well.
 * Returns the number of values compared. */
static inline unsigned vec_compare_reading(const char *file, const char *expected, const struct hm_reading *r)
{
	unsigned n = 0;
	for (const char *p = expected; p && *p;) {
		char name[64], want[128], got[128], tbuf[HM_TEXT_MAX];
		const char *eq = strchr(p, '=');
		assert_non_null(eq);
		snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
		assert_true(vec_expect(p, name, want, sizeof want));
		int nf = hm_num_field_by_name(name), tf = hm_text_field_by_name(name);
		if (nf >= 0) {
			if (!hm_reading_has_num(r, nf))
				fail_msg("%s: %s missing (want %s)", file, name, want);
			hm_num_format(r->num[nf], got, sizeof got);
		} else if (tf >= 0) {
			if (!hm_reading_has_text(r, tf))
				fail_msg("%s: %s missing (want %s)", file, name, want);
			snprintf(got, sizeof got, "%s", hm_reading_text(r, tf, tbuf));
		} else {
			fail_msg("%s: no field named %s", file, name);
		}
		if (strcmp(got, want) != 0)
			fail_msg("%s: %s = '%s', want '%s'", file, name, got, want);
		n++;
		p = strstr(p, "; ");
		if (p)
			p += 2;
	}
	return n;
}

#endif
