/*
 * bench_parse.c - how fast a frame becomes a reading, against a floor.
 *
 * For every positive single-frame HDLC capture in $VECTORS it times, per
 * frame:
 *
 *   full   framer (hm_hdlc_feed: flag search, header, HCS and FCS) +
 *          hm_decode (LLC, APDU, A-XDR, profile -> struct hm_reading)
 *   floor  what the issue names: a bare table CRC-16/X.25 (the textbook
 *          byte-at-a-time table loop, below) over the same frame bytes +
 *          one A-XDR walk (hm_axdr_parse, the library's general walk that
 *          builds the item list) over the same notification body.
 *   slicing_floor  the same with the CRC the framer itself runs
 *          (hm_crc16_x25, slicing-by-8, 3.7-5.4x the byte table): a
 *          stricter floor, printed alongside so that nothing hides in
 *          the choice of CRC.
 *
 * The three are timed in REPEATS alternating runs of ~10 ms each, in CPU
 * time of this thread (CLOCK_THREAD_CPUTIME_ID), so that load which comes
 * and goes meets them alike.  ns_per_frame and the floors are the fastest
 * run of each (other work only ever adds time); a ratio is the median over
 * the runs of full/floor of adjacent runs.  (The median of wall-clock
 * runs, full first and floor after, let the same frame's ratio move between
 * 1.4 and 4.5 on a busy two-core machine; this way repeat runs agree to a
 * few per cent.)  The ratio is what to compare across machines.  Heap
 * allocations in the timed loops are counted (malloc is interposed below):
 * the target is zero.
 *
 * Output: one line per list,
 *   parse <name> bytes=<n> ns_per_frame=<x> floor_ns=<y> ratio=<r> frames_per_s=<f> allocs=<k>
 *         slicing_floor_ns=<z> slicing_ratio=<s>[ OVER]
 * (OVER: ratio above TARGET_RATIO), a closing line with the worst of both
 * ratios and the verdict (on ratio), and, with -j FILE, the "parse" array
 * of bench/results.json.
 *
 * For profilers: -i N runs each list N times through full and floor with no
 * timing (callgrind: --toggle-collect=run_full --toggle-collect=run_floor
 * gives instructions per frame of each); -o TEXT keeps the lists whose name
 * contains TEXT.
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

#define REPEATS      15         /* runs of each; fastest and median ratio kept */
#define TARGET_NS    10000000.0 /* each run lasts about 10 ms of CPU time */
#define MAX_CASES    64
#define TARGET_RATIO 1.5 /* the target: full decode within 1.5x of the floor */

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

/* CPU time of this thread: time the scheduler gives to others is not counted. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* The bare table CRC: CRC-16/X.25 (reflected 0x8408, init and xorout
 * 0xFFFF) a byte at a time from a 256-entry table built at start. */
static uint16_t byte_table[256];

static void byte_table_init(void)
{
	for (unsigned b = 0; b < 256; b++) {
		uint16_t c = (uint16_t)b;
		for (int k = 0; k < 8; k++)
			c = (uint16_t)(c & 1 ? (c >> 1) ^ 0x8408 : c >> 1);
		byte_table[b] = c;
	}
}

static uint16_t table_crc(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;
	while (n--)
		crc = (uint16_t)((crc >> 8) ^ byte_table[(crc ^ *p++) & 0xFF]);
	return (uint16_t)(crc ^ 0xFFFF);
}

__attribute__((noinline)) static void run_floor(const struct bcase *c, unsigned long iters)
{
	size_t used;
	for (unsigned long i = 0; i < iters; i++) {
		sink += table_crc(c->frame + 1, c->len - 2);
		sink += hm_axdr_parse(&ax, c->frame + c->body_off, c->body_len, &used);
	}
}

__attribute__((noinline)) static void run_slicing_floor(const struct bcase *c, unsigned long iters)
{
	size_t used;
	for (unsigned long i = 0; i < iters; i++) {
		sink += hm_crc16_x25(c->frame + 1, c->len - 2);
		sink += hm_axdr_parse(&ax, c->frame + c->body_off, c->body_len, &used);
	}
}

/* Iterations of fn that last about TARGET_NS. */
static unsigned long calibrate(void (*fn)(const struct bcase *, unsigned long), const struct bcase *c)
{
	unsigned long iters = 1;
	double dt;
	for (;;) {
		double t0 = now_ns();
		fn(c, iters);
		dt = now_ns() - t0;
		if (dt > TARGET_NS / 10)
			break;
		iters *= 4;
	}
	return (unsigned long)(TARGET_NS / (dt / (double)iters)) + 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double full, floor_ns, ratio;           /* ns per frame; against the table-CRC floor */
	double slicing_floor_ns, slicing_ratio; /* against the slicing-CRC floor */
};

/* Times run_full, run_floor and run_slicing_floor over c: REPEATS runs of
 * each, in turn.  The ns figures are the fastest run of each, per frame;
 * a ratio is the median over the runs of full/floor of a run and the floor
 * run right after it, which holds steadier than the ratio of two minima
 * (those may come from moments of different load). */
static void measure(const struct bcase *c, struct figures *fg)
{
	unsigned long n_full = calibrate(run_full, c), n_floor = calibrate(run_floor, c),
	              n_slice = calibrate(run_slicing_floor, c);
	double pair[REPEATS], spair[REPEATS];
	fg->full = fg->floor_ns = fg->slicing_floor_ns = 1e30;
	for (int r = 0; r < REPEATS; r++) {
		double t0 = now_ns();
		run_full(c, n_full);
		double t1 = now_ns();
		run_floor(c, n_floor);
		double t2 = now_ns();
		run_slicing_floor(c, n_slice);
		double t3 = now_ns();
		double f = (t1 - t0) / (double)n_full, l = (t2 - t1) / (double)n_floor, s = (t3 - t2) / (double)n_slice;
		if (f < fg->full)
			fg->full = f;
		if (l < fg->floor_ns)
			fg->floor_ns = l;
		if (s < fg->slicing_floor_ns)
			fg->slicing_floor_ns = s;
		pair[r] = f / l;
		spair[r] = f / s;
	}
	qsort(pair, REPEATS, sizeof pair[0], cmp_double);
	qsort(spair, REPEATS, sizeof spair[0], cmp_double);
	fg->ratio = pair[REPEATS / 2];
	fg->slicing_ratio = spair[REPEATS / 2];
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
	byte_table_init();
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
	double worst = 0, worst_slicing = 0;
	const char *worst_name = "-", *worst_slicing_name = "-";
	unsigned timed = 0, within = 0;
	unsigned long total_allocs = 0;
	for (unsigned i = 0; i < n_cases; i++) {
		struct bcase *c = &cases[i];
		if (only && !strstr(c->name, only))
			continue;
		if (fixed) {
			hm_hdlc_init(&hdlc);
			hm_decoder_init(&dec);
			run_full(c, fixed);
			run_floor(c, fixed);
			run_slicing_floor(c, fixed);
			printf("parse %s bytes=%zu iterations=%lu\n", c->name, c->len, fixed);
			continue;
		}
		hm_hdlc_init(&hdlc);
		hm_decoder_init(&dec);
		got = 0;
		unsigned long a0 = n_allocs;
		struct figures fg;
		measure(c, &fg);
		unsigned long allocs = n_allocs - a0;
		if (fg.ratio > worst)
			worst = fg.ratio, worst_name = c->name;
		if (fg.slicing_ratio > worst_slicing)
			worst_slicing = fg.slicing_ratio, worst_slicing_name = c->name;
		within += fg.ratio <= TARGET_RATIO;
		total_allocs += allocs;
		printf("parse %s bytes=%zu ns_per_frame=%.1f floor_ns=%.1f ratio=%.2f frames_per_s=%.0f allocs=%lu "
		       "slicing_floor_ns=%.1f slicing_ratio=%.2f%s\n",
		       c->name, c->len, fg.full, fg.floor_ns, fg.ratio, 1e9 / fg.full, allocs, fg.slicing_floor_ns,
		       fg.slicing_ratio, fg.ratio <= TARGET_RATIO ? "" : " OVER");
		if (jf)
			fprintf(jf,
			        "%s  {\"name\": \"%s\", \"bytes\": %zu, \"ns_per_frame\": %.1f, \"floor_ns\": %.1f, "
			        "\"ratio\": %.3f, \"frames_per_s\": %.0f, \"heap_allocs\": %lu, "
			        "\"slicing_floor_ns\": %.1f, \"slicing_ratio\": %.3f}",
			        timed ? ",\n" : "", c->name, c->len, fg.full, fg.floor_ns, fg.ratio, 1e9 / fg.full,
			        allocs, fg.slicing_floor_ns, fg.slicing_ratio);
		timed++;
		if (got == 0)
			fprintf(stderr, "bench_parse: %s: no reading decoded in the timed loop\n", c->name);
	}
	if (jf) {
		fprintf(jf, "\n]\n");
		fclose(jf);
	}
	if (fixed)
		return 0;
	printf("parse: %u lists, %u within %.1fx of the floor, worst %.2f (%s); against the slicing floor worst "
	       "%.2f (%s); heap allocations %lu: %s\n",
	       timed, within, TARGET_RATIO, worst, worst_name, worst_slicing, worst_slicing_name, total_allocs,
	       timed && within == timed && total_allocs == 0 ? "PASS"
	                                                     : "FAIL (target: every list <= 1.5x, 0 allocations)");
	return n_cases ? 0 : 1;
}
