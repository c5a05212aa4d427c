/*
 * bench_parse.c - how fast a frame becomes a reading, against a floor.
 *
 * For every positive single-frame HDLC capture in $VECTORS (and the
 * synthetic frames in argv, if any) it times, per frame:
 *
 *   full   framer (hm_hdlc_feed: flag search, header, HCS and FCS) +
 *          hm_decode (LLC, APDU, A-XDR, profile -> struct hm_reading)
 *   floor  a bare table CRC-16/X.25 over the same frame bytes + one A-XDR
 *          walk (hm_axdr_parse) over the same notification body: the work
 *          no decoder can skip
 *
 * Each figure is the median of REPEATS runs of enough iterations to last
 * ~20 ms, so a noisy machine moves both numbers alike; the ratio full/floor
 * is what to compare across machines.  It also counts heap allocations in
 * the timed loops (malloc is interposed below): the target is zero.
 *
 * Output: one line per list,
 *   parse <name> bytes=<n> ns_per_frame=<x> floor_ns=<y> ratio=<x/y> allocs=<k>
 * and, with -j FILE, the "parse" array of bench/results.json.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hanmeter/axdr.h"
#include "hanmeter/crc.h"
#include "hanmeter/decode.h"
#include "hanmeter/dlms.h"
#include "hanmeter/hdlc.h"

#define REPEATS   9          /* runs per figure; the median is kept */
#define TARGET_NS 20000000.0 /* each run lasts about 20 ms */
#define MAX_CASES 64

/* --- allocation counter: glibc lets the executable interpose malloc ------ */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile unsigned long n_allocs;
void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void *malloc(size_t n)
{
	n_allocs++;
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	n_allocs++;
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	n_allocs++;
	return __libc_realloc(p, n);
}

struct bcase {
	char name[128];
	uint8_t frame[HM_HDLC_FRAME_MAX];
	size_t len;
	size_t body_off, body_len; /* the notification body inside frame */
};

static struct bcase cases[MAX_CASES];
static unsigned n_cases;

static struct hm_hdlc hdlc;
static struct hm_decoder dec;
static struct hm_reading reading;
static struct hm_axdr ax;
static volatile unsigned sink; /* keeps results alive */
static unsigned long got;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void on_frame(void *ctx, const struct hm_frame *f)
{
	(void)ctx;
	if (f->err == HM_ERR_OK && hm_decode(&dec, f->info, f->info_len, &reading) == HM_ERR_OK)
		got++;
}

__attribute__((noinline)) static void run_full(const struct bcase *c, unsigned long iters)
{
	for (unsigned long i = 0; i < iters; i++)
		hm_hdlc_feed(&hdlc, c->frame, c->len, on_frame, NULL);
}

__attribute__((noinline)) static void run_floor(const struct bcase *c, unsigned long iters)
{
	size_t used;
	for (unsigned long i = 0; i < iters; i++) {
		sink += hm_crc16_x25(c->frame + 1, c->len - 2);
		sink += hm_axdr_parse(&ax, c->frame + c->body_off, c->body_len, &used);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median ns per iteration of fn over REPEATS calibrated runs. */
static double measure(void (*fn)(const struct bcase *, unsigned long), const struct bcase *c)
{
	unsigned long iters = 1;
	for (;;) { /* calibrate */
		double t0 = now_ns();
		fn(c, iters);
		double dt = now_ns() - t0;
		if (dt > TARGET_NS / 10)
			break;
		iters *= 4;
	}
	double t0 = now_ns();
	fn(c, iters);
	double per = (now_ns() - t0) / (double)iters;
	iters = (unsigned long)(TARGET_NS / per) + 1;
	double v[REPEATS];
	for (int r = 0; r < REPEATS; r++) {
		t0 = now_ns();
		fn(c, iters);
		v[r] = (now_ns() - t0) / (double)iters;
	}
	qsort(v, REPEATS, sizeof v[0], cmp_double);
	return v[REPEATS / 2];
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The first data line of a .hex vector, if it is one whole good HDLC frame
 * whose message decodes: then it is a case. */
static void add_file(const char *dir, const char *file)
{
	char path[4096], line[8192];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f || n_cases == MAX_CASES) {
		if (f)
			fclose(f);
		return;
	}
	struct bcase *c = &cases[n_cases];
	c->len = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (char *p = line; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && c->len < sizeof c->frame; p += 2)
			c->frame[c->len++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		break;
	}
	fclose(f);
	if (c->len < 16 || c->frame[0] != HM_HDLC_FLAG || (c->frame[1] & 0x08)) /* segmented: not one frame */
		return;
	/* Find the body: decode once through the real path. */
	hm_hdlc_init(&hdlc);
	hm_decoder_init(&dec);
	got = 0;
	hm_hdlc_feed(&hdlc, c->frame, c->len, on_frame, NULL);
	if (got != 1)
		return;
	const uint8_t *body = dec.apdu.body;
	if (body < c->frame || body >= c->frame + c->len) {
		/* the decoder parsed a copy (hdlc.msg): locate the same bytes in the frame */
		const uint8_t *hit = NULL;
		for (size_t o = 0; o + dec.apdu.body_len <= c->len && !hit; o++)
			if (memcmp(c->frame + o, body, dec.apdu.body_len) == 0)
				hit = c->frame + o;
		if (!hit)
			return;
		body = hit;
	}
	c->body_off = (size_t)(body - c->frame);
	c->body_len = dec.apdu.body_len;
	snprintf(c->name, sizeof c->name, "%.*s", (int)(strlen(file) - 4), file);
	n_cases++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct bcase *)a)->name, ((const struct bcase *)b)->name);
}

int main(int argc, char **argv)
{
	const char *json = NULL, *only = NULL;
	unsigned long fixed = 0;
	const char *dir = getenv("VECTORS");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
			fixed = strtoul(argv[++i], NULL, 10);
	}
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d) {
		fprintf(stderr, "bench_parse: *** VECTORS (%s) not found: no captures to time ***\n",
		        dir ? dir : "unset");
		return 77;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".hex") && !strstr(e->d_name, "bad") && !strstr(e->d_name, "truncated") &&
		    !strstr(e->d_name, "mangled") && !strstr(e->d_name, "raw"))
			add_file(dir, e->d_name);
	closedir(d);
	qsort(cases, n_cases, sizeof cases[0], by_name);

	FILE *jf = json ? fopen(json, "w") : NULL;
	if (jf)
		fprintf(jf, "[\n");
	double worst = 0;
	for (unsigned i = 0; i < n_cases; i++) {
		struct bcase *c = &cases[i];
		if (only && !strstr(c->name, only))
			continue;
		if (fixed) {
			hm_hdlc_init(&hdlc);
			hm_decoder_init(&dec);
			run_full(c, fixed);
			run_floor(c, fixed);
			printf("parse %s bytes=%zu iterations=%lu\n", c->name, c->len, fixed);
			continue;
		}
		hm_hdlc_init(&hdlc);
		hm_decoder_init(&dec);
		got = 0;
		unsigned long a0 = n_allocs;
		double full = measure(run_full, c);
		double floor_ns = measure(run_floor, c);
		unsigned long allocs = n_allocs - a0;
		double ratio = full / floor_ns;
		if (ratio > worst)
			worst = ratio;
		printf("parse %s bytes=%zu ns_per_frame=%.1f floor_ns=%.1f ratio=%.2f frames_per_s=%.0f allocs=%lu\n",
		       c->name, c->len, full, floor_ns, ratio, 1e9 / full, allocs);
		if (jf)
			fprintf(jf,
			        "  {\"name\": \"%s\", \"bytes\": %zu, \"ns_per_frame\": %.1f, \"floor_ns\": %.1f, "
			        "\"ratio\": %.3f, \"frames_per_s\": %.0f, \"heap_allocs\": %lu}%s\n",
			        c->name, c->len, full, floor_ns, ratio, 1e9 / full, allocs, i + 1 < n_cases ? "," : "");
		if (got == 0)
			fprintf(stderr, "bench_parse: %s: no reading decoded in the timed loop\n", c->name);
	}
	if (jf) {
		fprintf(jf, "]\n");
		fclose(jf);
	}
	printf("parse: %u lists, worst ratio %.2f (target <= 1.5)\n", n_cases, worst);
	return n_cases ? 0 : 1;
}
