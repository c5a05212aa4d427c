/*
 * fuzz_stream.h - the check every framer entry (fuzz_hdlc, fuzz_mbus,
 * fuzz_p1) makes: the stream is fed once whole and once in chunks of
 * pseudo-random length, and both runs must report the same events and end
 * with the same statistics (read() boundaries must not matter).
 *
 * Input layout the entries share: byte 0 picks the largest chunk (1..256
 * bytes), byte 1 seeds the sequence of chunk lengths (xorshift32); what
 * follows is the entry's own.
 *
 * An event is recorded as (error, one byte the entry picks, length, FNV-1a
 * of the data); a rejection must carry no data.  After each run the framer's
 * counters must agree with what it reported.
 */
#ifndef HM_FUZZ_STREAM_H
#define HM_FUZZ_STREAM_H

#include "hanmeter/error.h"

#include "fuzz.h"

/* Input past this is not a plausible serial burst; it only slows the run. */
#define FUZZ_STREAM_MAX 65536
/* Events of one run: each starts at a distinct byte or ends the input. */
#define FUZZ_EVENTS_MAX (FUZZ_STREAM_MAX + 2)

struct fuzz_event {
	uint8_t err;
	uint8_t flag;  /* what else the entry wants compared (segments, has_crc) */
	uint16_t zero; /* no padding: events are compared with memcmp */
	uint32_t len;
	uint64_t hash;
};

struct fuzz_run {
	struct fuzz_event ev[FUZZ_EVENTS_MAX];
	size_t n;                        /* events recorded */
	unsigned good;                   /* messages among them */
	uint64_t rejected[HM_ERR_COUNT]; /* rejections among them, by reason */
	bool whole;                      /* the whole-stream run: decode or parse what comes */
};

/* The framer under test, through the entry's thin wrappers. */
struct fuzz_framer {
	void (*init)(void);
	void (*feed)(struct fuzz_run *r, const uint8_t *p, size_t n);
	void (*flush)(struct fuzz_run *r);
	void (*check_stats)(const struct fuzz_run *r, size_t fed);
	const void *stats; /* the framer's counters */
	void *saved;       /* room for a copy of them, taken after the whole run */
	size_t stats_size;
};

static struct fuzz_run fuzz_runs[2];

/* The wrappers and the struct fuzz_framer mod_framer for the framer object
 * obj, driven through hm_<mod>_init/_feed/_flush (the API the HDLC, M-Bus
 * and P1 framers share) with events to cb and counters checked by check. */
#define FUZZ_FRAMER(mod, obj, cb, check)                                       \
	static struct hm_##mod##_stats mod##_saved;                            \
	static void mod##_init(void)                                           \
	{                                                                      \
		hm_##mod##_init(&obj);                                         \
	}                                                                      \
	static void mod##_feed(struct fuzz_run *r, const uint8_t *p, size_t n) \
	{                                                                      \
		hm_##mod##_feed(&obj, p, n, cb, r);                            \
	}                                                                      \
	static void mod##_flush(struct fuzz_run *r)                            \
	{                                                                      \
		hm_##mod##_flush(&obj, cb, r);                                 \
	}                                                                      \
	static const struct fuzz_framer mod##_framer = {                       \
	    .init = mod##_init,                                                \
	    .feed = mod##_feed,                                                \
	    .flush = mod##_flush,                                              \
	    .check_stats = check,                                              \
	    .stats = &obj.stats,                                               \
	    .saved = &mod##_saved,                                             \
	    .stats_size = sizeof mod##_saved,                                  \
	}

/* Records one event the framer reported to r. */
static inline void fuzz_run_record(struct fuzz_run *r, enum hm_err err, uint8_t flag, const void *data, size_t len)
{
	FUZZ_CHECK((unsigned)err < HM_ERR_COUNT);
	if (err == HM_ERR_OK) {
		r->good++;
	} else {
		FUZZ_CHECK(data == NULL);
		r->rejected[err]++;
	}
	FUZZ_CHECK(r->n < FUZZ_EVENTS_MAX);
	r->ev[r->n++] = (struct fuzz_event){
	    .err = (uint8_t)err,
	    .flag = flag,
	    .len = (uint32_t)len,
	    .hash = err == HM_ERR_OK ? fuzz_hash(data, len) : 0,
	};
}

/* The counters every framer keeps, after a run that was fed fed bytes:
 * bytes is what was fed, good what was reported, garbage within what was
 * fed, nothing counted as an OK error, every rejection reported counted. */
static inline void fuzz_run_check_counts(const struct fuzz_run *r, size_t fed, uint64_t bytes, uint64_t good,
                                         uint64_t garbage, const uint64_t errors[HM_ERR_COUNT])
{
	FUZZ_CHECK(bytes == fed);
	FUZZ_CHECK(good == r->good);
	FUZZ_CHECK(garbage <= fed);
	FUZZ_CHECK(errors[HM_ERR_OK] == 0);
	for (int e = 1; e < HM_ERR_COUNT; e++)
		FUZZ_CHECK(errors[e] >= r->rejected[e]);
}

static inline struct fuzz_run *fuzz_run_start(int i)
{
	struct fuzz_run *r = &fuzz_runs[i];
	memset(&r->n, 0, sizeof *r - offsetof(struct fuzz_run, n));
	return r;
}

/* s[0..n) through the framer whole, then in chunks of 1..chunk_sel + 1
 * bytes (lengths from xorshift32 seeded by seed_sel): same events, same
 * statistics. */
static inline void fuzz_stream_check(const struct fuzz_framer *fr, uint8_t chunk_sel, uint8_t seed_sel,
                                     const uint8_t *s, size_t n)
{
	size_t max_chunk = (size_t)chunk_sel + 1;
	uint32_t seed = seed_sel * 2654435761u | 1;

	/* Run 0: the whole stream at once. */
	struct fuzz_run *r = fuzz_run_start(0);
	r->whole = true;
	fr->init();
	fr->feed(r, s, n);
	fr->flush(r);
	fr->check_stats(r, n);
	memcpy(fr->saved, fr->stats, fr->stats_size);

	/* Run 1: the same stream in chunks. */
	r = fuzz_run_start(1);
	fr->init();
	for (size_t off = 0; off < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t c = 1 + seed % max_chunk;
		if (c > n - off)
			c = n - off;
		fr->feed(r, s + off, c);
		off += c;
	}
	fr->flush(r);
	fr->check_stats(r, n);

	FUZZ_CHECK(fuzz_runs[1].n == fuzz_runs[0].n);
	FUZZ_CHECK(memcmp(fuzz_runs[1].ev, fuzz_runs[0].ev, fuzz_runs[0].n * sizeof fuzz_runs[0].ev[0]) == 0);
	FUZZ_CHECK(memcmp(fr->stats, fr->saved, fr->stats_size) == 0);
}

#endif
