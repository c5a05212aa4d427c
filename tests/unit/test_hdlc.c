/*
 * test_hdlc.c - the HDLC framer against the real captures in $VECTORS and
 * against synthetic frames built here.
 *
 * Legend of what each vector test expects, and where the expectation comes from:
 *   positive hdlc-dlms*   every data line is one frame (MANIFEST integrity
 *                         "frameN:ok" counts them); messages = frames whose
 *                         segmentation bit is clear, each one byte-identical to
 *                         the information field(s) cut out of the lines here,
 *                         by the frame layout, not by the framer;
 *   negative hdlc-dlms*   no message; every rejection is expect_reject='s first
 *                         reason (crlf-mangled: length_mismatch, per brief);
 *   raw-serial-stream     fed read by read as captured: complete_frames= and
 *                         leading_garbage_bytes= from the manifest.
 * Synthetic frames (labelled so) are built with hm_crc16_x25, which
 * test_crc.c checks against a bitwise reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/crc.h"
#include "hanmeter/hdlc.h"
#include "vectors.h"

#define STREAM_MAX 16384
#define LINES_MAX  128
#define EV_MAX     8192
#define POOL_MAX   (1u << 21)

/* ---- event recorder ------------------------------------------------------ */

struct ev {
	enum hm_err err;
	size_t info_off, info_len; /* copy of the message in rec.pool */
	unsigned segments;
	size_t raw_len;
	uint32_t dst, src;
	uint16_t format;
};

static struct {
	struct ev ev[EV_MAX];
	size_t n, n_ok, n_err;
	uint8_t pool[POOL_MAX];
	size_t pool_len;
} rec;

static struct hm_hdlc fr; /* 12 KiB: static, as a daemon would embed it */

static void on_event(void *ctx, const struct hm_frame *f)
{
	(void)ctx;
	assert_true(rec.n < EV_MAX);
	struct ev *e = &rec.ev[rec.n++];
	memset(e, 0, sizeof *e);
	e->err = f->err;
	e->segments = f->segments;
	e->raw_len = f->raw_len;
	e->dst = f->dst;
	e->src = f->src;
	e->format = f->format;
	if (f->err != HM_ERR_OK) {
		rec.n_err++;
		assert_null(f->info);
		return;
	}
	rec.n_ok++;
	/* Invariants of every message: its last frame is whole and checks. */
	assert_non_null(f->raw);
	assert_non_null(f->info);
	assert_int_equal(f->raw[0], HM_HDLC_FLAG);
	assert_int_equal(f->raw_len, (size_t)f->declared_len + 1);
	assert_int_equal(f->declared_len, f->format & 0x07FF);
	assert_true(f->hcs_ok && f->fcs_ok);
	size_t l = f->declared_len;
	assert_int_equal(hm_crc16_x25(f->raw + 1, l - 2), f->raw[l - 1] | f->raw[l] << 8);
	assert_true(f->segments >= 1);
	assert_true(rec.pool_len + f->info_len <= POOL_MAX);
	e->info_off = rec.pool_len;
	e->info_len = f->info_len;
	memcpy(rec.pool + rec.pool_len, f->info, f->info_len);
	rec.pool_len += f->info_len;
}

static void rec_reset(void)
{
	rec.n = rec.n_ok = rec.n_err = rec.pool_len = 0;
	hm_hdlc_init(&fr);
}

/* Every byte is counted once, and the error counters match the events. */
static void check_accounting(void)
{
	const struct hm_hdlc_stats *s = &fr.stats;
	assert_int_equal(s->bytes, s->frame_bytes + s->flag_bytes + s->rejected_bytes + s->garbage_bytes);
	uint64_t errs = 0;
	for (int i = 0; i < HM_ERR_COUNT; i++)
		errs += s->errors[i];
	assert_int_equal(errs, rec.n_err);
	assert_int_equal(s->messages, rec.n_ok);
	assert_true(s->frames >= s->messages);
}

/* Feeds d in chunks of chunk bytes (0: all at once), then flushes. */
static void run(const uint8_t *d, size_t n, size_t chunk)
{
	rec_reset();
	if (chunk == 0)
		chunk = n ? n : 1;
	for (size_t o = 0; o < n; o += chunk)
		hm_hdlc_feed(&fr, d + o, n - o < chunk ? n - o : chunk, on_event, NULL);
	hm_hdlc_flush(&fr, on_event, NULL);
	check_accounting();
}

/* Feeds d as two chunks split at k, then flushes. */
static void run_split(const uint8_t *d, size_t n, size_t k)
{
	rec_reset();
	hm_hdlc_feed(&fr, d, k, on_event, NULL);
	hm_hdlc_feed(&fr, d + k, n - k, on_event, NULL);
	hm_hdlc_flush(&fr, on_event, NULL);
	check_accounting();
}

static const uint8_t *ev_info(size_t i)
{
	return rec.pool + rec.ev[i].info_off;
}

/* A run's events and counters, kept to compare another run with: read()
 * boundaries must change nothing, rejections and stats included. */
static struct {
	struct ev ev[EV_MAX];
	size_t n;
	uint8_t pool[POOL_MAX];
	size_t pool_len;
	struct hm_hdlc_stats stats;
} kept;

static void keep_run(void)
{
	memcpy(kept.ev, rec.ev, rec.n * sizeof rec.ev[0]);
	kept.n = rec.n;
	memcpy(kept.pool, rec.pool, rec.pool_len);
	kept.pool_len = rec.pool_len;
	kept.stats = fr.stats;
}

static void assert_same_as_kept(void)
{
	assert_int_equal(rec.n, kept.n);
	for (size_t i = 0; i < rec.n; i++) {
		assert_int_equal(rec.ev[i].err, kept.ev[i].err);
		assert_int_equal(rec.ev[i].segments, kept.ev[i].segments);
		assert_int_equal(rec.ev[i].raw_len, kept.ev[i].raw_len);
		assert_int_equal(rec.ev[i].info_len, kept.ev[i].info_len);
	}
	assert_int_equal(rec.pool_len, kept.pool_len);
	assert_memory_equal(rec.pool, kept.pool, rec.pool_len);
	assert_memory_equal(&fr.stats, &kept.stats, sizeof kept.stats);
}

static size_t count_err(enum hm_err err)
{
	size_t n = 0;
	for (size_t i = 0; i < rec.n; i++)
		n += rec.ev[i].err == err;
	return n;
}

/* ---- expectations cut from frames by the frame layout (not by the framer) -- */

/* Offset and length of the information field of the whole frame f[0..n). */
static void frame_info(const uint8_t *f, size_t n, size_t *off, size_t *len)
{
	assert_true(n >= 12 && f[0] == HM_HDLC_FLAG && (f[1] & 0xF0) == 0xA0);
	size_t l = (size_t)(f[1] & 0x07) << 8 | f[2];
	assert_int_equal(n, l + 2);
	size_t i = 3;
	while (!(f[i] & 1)) /* destination address */
		i++;
	i++;
	while (!(f[i] & 1)) /* source address */
		i++;
	i += 2;                   /* last address byte, control */
	*off = i + 2;             /* HCS */
	*len = (l - 1) - (i + 2); /* up to the FCS at l-1, l */
}

struct expect {
	size_t n;
	uint8_t *info[LINES_MAX];
	size_t len[LINES_MAX];
	unsigned segments[LINES_MAX];
};

static uint8_t expect_pool[STREAM_MAX];

/* Messages a stream of whole frames (lines) must yield: the information
 * fields of frames with the segmentation bit set are joined to the next. */
static void expect_from_lines(const uint8_t *d, const struct hm_hexline *lines, size_t n_lines, struct expect *x)
{
	size_t used = 0, cur = 0;
	unsigned segs = 0;
	x->n = 0;
	for (size_t li = 0; li < n_lines; li++) {
		const uint8_t *f = d + lines[li].off;
		size_t off, len;
		frame_info(f, lines[li].len, &off, &len);
		if (segs == 0)
			cur = used;
		memcpy(expect_pool + used, f + off, len);
		used += len;
		segs++;
		if (!(f[1] & 0x08)) {
			x->info[x->n] = expect_pool + cur;
			x->len[x->n] = used - cur;
			x->segments[x->n] = segs;
			x->n++;
			segs = 0;
		}
	}
}

static void assert_messages(const struct expect *x)
{
	assert_int_equal(rec.n_ok, x->n);
	assert_int_equal(rec.n_err, 0);
	for (size_t i = 0, m = 0; i < rec.n; i++) {
		if (rec.ev[i].err != HM_ERR_OK)
			continue;
		assert_int_equal(rec.ev[i].info_len, x->len[m]);
		assert_memory_equal(ev_info(i), x->info[m], x->len[m]);
		assert_int_equal(rec.ev[i].segments, x->segments[m]);
		m++;
	}
}

/* ---- manifest ------------------------------------------------------------ */

static const char *mcol(const struct vec_row *row, const char *name)
{
	for (int i = 0; i < vec_manifest_data.nheader; i++)
		if (strcmp(vec_manifest_data.header[i], name) == 0)
			return i < row->ncol ? row->col[i] : "";
	fail_msg("MANIFEST.tsv has no column %s", name);
	return "";
}

static int is_hdlc_format(const char *format)
{
	return strncmp(format, "hdlc-dlms", 9) == 0;
}

static uint8_t stream[STREAM_MAX];
static struct hm_hexline lines[LINES_MAX];
static size_t stream_len, n_lines;

static void load(const char *file)
{
	assert_int_equal(vec_hex(file, stream, sizeof stream, &stream_len, lines, LINES_MAX, &n_lines), 0);
	assert_true(n_lines <= LINES_MAX);
}

/* Frames a positive file's integrity column vouches for: "frameN:ok" tokens. */
static size_t integrity_ok_frames(const char *integrity)
{
	size_t n = 0;
	for (const char *p = integrity; (p = strstr(p, "frame")) != NULL; p++) {
		const char *q = p + 5;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q > p + 5 && strncmp(q, ":ok", 3) == 0)
			n++;
	}
	return n;
}

/* ---- vector tests -------------------------------------------------------- */

static size_t for_each_positive(void (*fn)(const char *file))
{
	size_t files = 0;
	assert_true(vec_manifest_load() > 0);
	for (int r = 0; r < vec_manifest_data.nrows; r++) {
		const struct vec_row *row = &vec_manifest_data.rows[r];
		if (!is_hdlc_format(mcol(row, "format")) || strcmp(mcol(row, "kind"), "positive") != 0)
			continue;
		fn(row->col[0]);
		files++;
	}
	return files;
}

static struct expect want;

static void positive_whole(const char *file)
{
	load(file);
	const struct vec_row *row = NULL;
	for (int r = 0; r < vec_manifest_data.nrows; r++)
		if (strcmp(vec_manifest_data.rows[r].col[0], file) == 0)
			row = &vec_manifest_data.rows[r];
	assert_non_null(row);
	assert_int_equal(integrity_ok_frames(mcol(row, "integrity")), n_lines);
	expect_from_lines(stream, lines, n_lines, &want);
	run(stream, stream_len, 0);
	assert_messages(&want);
	assert_int_equal(fr.stats.frames, n_lines);
	assert_int_equal(fr.stats.garbage_bytes, 0);
	/* Every line is one whole frame: opening flag to FCS counted as frame
	 * bytes, each closing flag as a flag. */
	assert_int_equal(fr.stats.frame_bytes, stream_len - n_lines);
	assert_int_equal(fr.stats.flag_bytes, n_lines);
}

static void vectors_positive_whole_stream(void **state)
{
	(void)state;
	vec_require();
	size_t files = for_each_positive(positive_whole);
	assert_true(files >= 25); /* the manifest lists ~30 HDLC captures */
}

static void vectors_segmented_iskra(void **state)
{
	(void)state;
	vec_require();
	load("iskra-am550-ch-segmented-3frames.hex");
	assert_int_equal(n_lines, 3);
	run(stream, stream_len, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_int_equal(rec.n_err, 0);
	assert_int_equal(rec.ev[0].segments, 3);
	assert_int_equal(fr.stats.frames, 3);
	/* The reassembled APDU starts with the first frame's LLC and ends with
	 * the last frame's information field (before its FCS). */
	assert_memory_equal(ev_info(0), "\xE6\xE7\x00\x0F", 4);
	size_t off, len;
	frame_info(stream + lines[2].off, lines[2].len, &off, &len);
	assert_memory_equal(ev_info(0) + rec.ev[0].info_len - len, stream + lines[2].off + off, len);
	/* Frame by frame, and each frame byte by byte: the same one message. */
	for (size_t chunk = 1; chunk <= 3; chunk++) {
		run(stream, stream_len, chunk);
		assert_int_equal(rec.n_ok, 1);
		assert_int_equal(rec.ev[0].segments, 3);
	}
}

static void positive_splits(const char *file)
{
	load(file);
	expect_from_lines(stream, lines, n_lines, &want);
	for (size_t k = 0; k <= stream_len; k++) {
		run_split(stream, stream_len, k);
		assert_messages(&want);
	}
	run(stream, stream_len, 1);
	assert_messages(&want);
	/* Each line as its own read, as a serial port might deliver it. */
	rec_reset();
	for (size_t li = 0; li < n_lines; li++)
		hm_hdlc_feed(&fr, stream + lines[li].off, lines[li].len, on_event, NULL);
	/* Messages are taken at the FCS, before the closing flag or flush. */
	assert_int_equal(rec.n_ok, want.n);
	hm_hdlc_flush(&fr, on_event, NULL);
	assert_messages(&want);
}

static void vectors_every_split_and_bytewise(void **state)
{
	(void)state;
	vec_require();
	for_each_positive(positive_splits);
}

/* xorshift32, fixed seed */
static uint32_t rng_state;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static size_t build_frame(uint8_t *out, int seg, const uint8_t *dst, size_t dl, const uint8_t *src, size_t sl,
                          uint8_t control, const uint8_t *info, size_t il);

/* Random junk: plain bytes, 7E, "7E Ax" starts, and headers with a valid
 * HCS and a random length (synthetic). */
static size_t make_junk(uint8_t *out, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t r = rng() % 8;
		if (r == 0) {
			out[i++] = HM_HDLC_FLAG;
		} else if (r == 1 && i + 2 <= n) {
			out[i++] = HM_HDLC_FLAG;
			out[i++] = (uint8_t)(0xA0 | (rng() & 0x0F));
		} else if (r == 2 && i + 9 <= n) {
			uint8_t *h = out + i;
			h[0] = HM_HDLC_FLAG;
			uint16_t l = (uint16_t)(9 + rng() % 600);
			h[1] = (uint8_t)(0xA0 | (rng() & 0x08) | (l >> 8));
			h[2] = (uint8_t)l;
			h[3] = 0x41;
			h[4] = 0x03;
			h[5] = 0x13;
			uint16_t hcs = hm_crc16_x25(h + 1, 5);
			h[6] = (uint8_t)hcs;
			h[7] = (uint8_t)(hcs >> 8);
			h[8] = (uint8_t)rng();
			i += 9;
		} else {
			out[i++] = (uint8_t)rng();
		}
	}
	return n;
}

static uint8_t work[3 * STREAM_MAX];

static void positive_garbage_front(const char *file)
{
	load(file);
	expect_from_lines(stream, lines, n_lines, &want);
	for (int trial = 0; trial < 8; trial++) {
		size_t g = 1 + rng() % 700;
		make_junk(work, g);
		memcpy(work + g, stream, stream_len);
		run(work, g + stream_len, 0);
		keep_run();
		run(work, g + stream_len, 1 + rng() % 64);
		assert_same_as_kept();
		/* Exactly the good messages; the junk ends up as garbage, flags or
		 * rejected candidates, never in a frame: frame bytes are the
		 * stream's frames (opening flag to FCS) alone. */
		assert_int_equal(rec.n_ok, want.n);
		for (size_t i = 0, m = 0; i < rec.n; i++)
			if (rec.ev[i].err == HM_ERR_OK) {
				assert_int_equal(rec.ev[i].info_len, want.len[m]);
				assert_memory_equal(ev_info(i), want.info[m], want.len[m]);
				m++;
			}
		assert_int_equal(fr.stats.frame_bytes, stream_len - n_lines);
		assert_int_equal(fr.stats.garbage_bytes + fr.stats.flag_bytes + fr.stats.rejected_bytes, g + n_lines);
	}
}

static void vectors_garbage_in_front(void **state)
{
	(void)state;
	vec_require();
	rng_state = 0x9E3779B9u;
	for_each_positive(positive_garbage_front);
}

/* frame, the same frame with one byte changed, frame: the neighbours are
 * found, nothing else is taken, and the damage is counted. */
static void flip_one(const uint8_t *f, size_t n)
{
	static const uint8_t masks[] = {0x01, 0x10, 0x80, 0xFF};
	size_t off, len;
	frame_info(f, n, &off, &len);
	for (size_t i = 0; i < n; i++) {
		for (size_t mi = 0; mi <= sizeof masks; mi++) {
			memcpy(work, f, n);
			memcpy(work + n, f, n);
			memcpy(work + 2 * n, f, n);
			uint8_t *b = work + n + i;
			if (mi == sizeof masks)
				*b = HM_HDLC_FLAG; /* a flag where there was none */
			else
				*b ^= masks[mi];
			int same = memcmp(work + n, f, n) == 0;
			run(work, 3 * n, 0);
			for (size_t e = 0; e < rec.n; e++)
				if (rec.ev[e].err == HM_ERR_OK) {
					assert_int_equal(rec.ev[e].info_len, len);
					assert_memory_equal(ev_info(e), f + off, len);
				}
			/* The middle copy still yields a message when only its
			 * closing flag was hit: that flag is not waited for. */
			size_t expect = (same || i == n - 1) ? 3 : 2;
			if (rec.n_ok != expect)
				fail_msg("flip at %zu of %zu (mask %zu): %zu messages, want %zu", i, n, mi, rec.n_ok,
				         expect);
			if (expect == 2)
				assert_true(rec.n_err + fr.stats.garbage_bytes > 0);
		}
	}
}

static void positive_flips(const char *file)
{
	load(file);
	for (size_t li = 0; li < n_lines; li++)
		if (stream[lines[li].off + 1] & 0x08)
			return; /* segmented: no line is a message alone */
	for (size_t li = 0; li < n_lines; li++)
		flip_one(stream + lines[li].off, lines[li].len);
}

static void vectors_each_byte_flipped(void **state)
{
	(void)state;
	vec_require();
	for_each_positive(positive_flips);
}

static enum hm_err err_by_name(const char *s)
{
	for (int i = 0; i < HM_ERR_COUNT; i++) {
		size_t n = strlen(hm_err_name(i));
		if (strncmp(s, hm_err_name(i), n) == 0 && (s[n] == 0 || s[n] == ' ' || s[n] == '+' || s[n] == ';'))
			return (enum hm_err)i;
	}
	fail_msg("unknown reject reason %s", s);
	return HM_ERR_COUNT;
}

static void vectors_negative(void **state)
{
	(void)state;
	vec_require();
	size_t files = 0;
	vec_manifest_load();
	for (int r = 0; r < vec_manifest_data.nrows; r++) {
		const struct vec_row *row = &vec_manifest_data.rows[r];
		if (!is_hdlc_format(mcol(row, "format")) || strcmp(mcol(row, "kind"), "negative") != 0)
			continue;
		char why[128];
		assert_true(vec_expect(mcol(row, "expected_values"), "expect_reject", why, sizeof why));
		enum hm_err want_err = err_by_name(why);
		load(row->col[0]);
		for (size_t chunk = 0; chunk < 3; chunk++) {
			run(stream, stream_len, chunk);
			if (rec.n_ok != 0 || rec.n_err < 1)
				fail_msg("%s: %zu messages, %zu rejections", row->col[0], rec.n_ok, rec.n_err);
			for (size_t e = 0; e < rec.n; e++)
				if (rec.ev[e].err != want_err)
					fail_msg("%s: rejected as %s, manifest says %s", row->col[0],
					         hm_err_name(rec.ev[e].err), hm_err_name(want_err));
			/* One rejection per damaged line. */
			assert_int_equal(rec.n_err, n_lines);
		}
		keep_run();
		for (size_t k = 0; k <= stream_len; k++) {
			run_split(stream, stream_len, k);
			assert_same_as_kept();
		}
		/* Between two good frames the damaged one still costs nothing else. */
		files++;
	}
	assert_true(files >= 9);
}

/* A damaged frame between good ones: the good ones survive, one rejection
 * with the manifest's reason, in stream order. */
static void vectors_negative_between_good(void **state)
{
	(void)state;
	vec_require();
	static const char *const pairs[][2] = {
	    {"aidon-6534-list3-no-truncated.hex", "aidon-6534-list3-no.hex"},
	    {"aidon-6534-list3-no-bad-fcs.hex", "aidon-6534-list3-no.hex"},
	    {"aidon-6534-list3-no-bad-hcs.hex", "aidon-6534-list3-no.hex"},
	    {"kaifa-ma304h3e-list3-no-bad-length.hex", "kaifa-ma304h3e-list3-no.hex"},
	    {"kaifa-ma304h3e-list3-no-bad-fcs.hex", "kaifa-ma304h3e-list3-no.hex"},
	    {"kaifa-ma304h4-se-list-bad-hcs.hex", "kaifa-ma304h4-se-list.hex"},
	    {"kamstrup-6841138-list1-no-bad-fcs.hex", "kamstrup-6841138-list1-no.hex"},
	    {"kamstrup-6841121-list2-no-bad-hcs.hex", "kamstrup-6841121-list2-no.hex"},
	};
	static uint8_t good[STREAM_MAX];
	for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
		char why[128];
		assert_true(vec_expect(vec_manifest(pairs[p][0], "expected_values"), "expect_reject", why, sizeof why));
		enum hm_err want_err = err_by_name(why);
		load(pairs[p][1]);
		size_t gl = stream_len, off, len;
		memcpy(good, stream, gl);
		frame_info(good, gl, &off, &len);
		load(pairs[p][0]);
		size_t n = 0;
		memcpy(work + n, good, gl), n += gl;
		memcpy(work + n, stream, stream_len), n += stream_len;
		memcpy(work + n, good, gl), n += gl;
		for (size_t chunk = 0; chunk < 4; chunk++) {
			run(work, n, chunk == 3 ? 41 : chunk);
			if (rec.n != 3 || rec.n_ok != 2)
				fail_msg("%s between good frames: %zu events, %zu messages", pairs[p][0], rec.n,
				         rec.n_ok);
			assert_int_equal(rec.ev[0].err, HM_ERR_OK);
			assert_int_equal(rec.ev[1].err, want_err);
			assert_int_equal(rec.ev[2].err, HM_ERR_OK);
			assert_memory_equal(ev_info(2), good + off, len);
		}
	}
}

static void vectors_raw_serial_streams(void **state)
{
	(void)state;
	vec_require();
	size_t files = 0;
	vec_manifest_load();
	for (int r = 0; r < vec_manifest_data.nrows; r++) {
		const struct vec_row *row = &vec_manifest_data.rows[r];
		if (strncmp(mcol(row, "format"), "raw-serial-stream", 17) != 0)
			continue;
		const char *x = mcol(row, "expected_values");
		char v[64];
		assert_true(vec_expect(x, "complete_frames", v, sizeof v));
		size_t frames = strtoul(v, NULL, 10);
		load(row->col[0]);
		/* read by read, as captured */
		rec_reset();
		for (size_t li = 0; li < n_lines; li++)
			hm_hdlc_feed(&fr, stream + lines[li].off, lines[li].len, on_event, NULL);
		hm_hdlc_flush(&fr, on_event, NULL);
		check_accounting();
		if (rec.n_ok != frames)
			fail_msg("%s: %zu messages, manifest says %zu", row->col[0], rec.n_ok, frames);
		assert_int_equal(fr.stats.frames, frames);
		if (vec_expect(x, "leading_garbage_bytes", v, sizeof v))
			assert_int_equal(fr.stats.garbage_bytes, strtoul(v, NULL, 10));
		keep_run();
		/* and split anywhere, as one stream, byte by byte: the same events */
		for (size_t k = 0; k <= stream_len; k++) {
			run_split(stream, stream_len, k);
			assert_same_as_kept();
		}
		run(stream, stream_len, 0);
		assert_same_as_kept();
		run(stream, stream_len, 1);
		assert_same_as_kept();
		files++;
	}
	assert_int_equal(files, 3);
}

/* The OSS dongle stream: starts after a lost opening flag, appends 0D 0A
 * after each closing flag, ends in the middle of a frame. */
static void vectors_oss_stream(void **state)
{
	(void)state;
	vec_require();
	load("aidon-6525-oss-raw-serial-reads.hex");
	run(stream, stream_len, 0);
	assert_int_equal(rec.n_ok, 3);
	/* active_power_import_w=1356,1336,1319 in order (manifest): the value is a
	 * double-long-unsigned, tag 06 then 4 bytes big-endian. */
	static const uint8_t p[3][5] = {
	    {0x06, 0x00, 0x00, 0x05, 0x4C}, {0x06, 0x00, 0x00, 0x05, 0x38}, {0x06, 0x00, 0x00, 0x05, 0x27}};
	for (size_t i = 0, m = 0; i < rec.n; i++) {
		if (rec.ev[i].err != HM_ERR_OK)
			continue;
		assert_true(rec.ev[i].info_len >= 5);
		assert_memory_equal(ev_info(i) + rec.ev[i].info_len - 11, p[m],
		                    5); /* ..., 06 xxxxxxxx, 02 02 0f 00 16 1b */
		m++;
	}
	/* "7E + 10 bytes" at the end: cut off with no later flag. */
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(rec.ev[rec.n - 1].err, HM_ERR_TRUNCATED);
	assert_int_equal(count_err(HM_ERR_TRUNCATED), 1);
	/* Garbage: the first read without its closing 7E (272 bytes) and 0D 0A
	 * after each of the three frames. */
	assert_int_equal(fr.stats.garbage_bytes, 272 + 3 * 2);
}

/* ---- synthetic frames ---------------------------------------------------- */

/* SYNTHETIC: builds 7E format dst src control HCS info FCS 7E; returns its length. */
static size_t build_frame(uint8_t *out, int seg, const uint8_t *dst, size_t dl, const uint8_t *src, size_t sl,
                          uint8_t control, const uint8_t *info, size_t il)
{
	size_t l = 2 + dl + sl + 1 + 2 + il + 2, i = 0;
	assert_true(l <= 2047);
	out[i++] = HM_HDLC_FLAG;
	out[i++] = (uint8_t)(0xA0 | (seg ? 0x08 : 0) | (l >> 8));
	out[i++] = (uint8_t)l;
	memcpy(out + i, dst, dl), i += dl;
	memcpy(out + i, src, sl), i += sl;
	out[i++] = control;
	uint16_t hcs = hm_crc16_x25(out + 1, i - 1);
	out[i++] = (uint8_t)hcs;
	out[i++] = (uint8_t)(hcs >> 8);
	if (il)
		memcpy(out + i, info, il);
	i += il;
	uint16_t fcs = hm_crc16_x25(out + 1, i - 1);
	out[i++] = (uint8_t)fcs;
	out[i++] = (uint8_t)(fcs >> 8);
	out[i++] = HM_HDLC_FLAG;
	assert_int_equal(i, l + 2);
	return i;
}

static const uint8_t dst1[] = {0x41}, src2[] = {0x08, 0x83};

/* SYNTHETIC: an unsegmented frame with info = LLC + n filler bytes (never 7E). */
static size_t simple_frame(uint8_t *out, size_t n, uint8_t fill)
{
	static uint8_t info[2048];
	info[0] = 0xE6, info[1] = 0xE7, info[2] = 0x00;
	for (size_t i = 0; i < n; i++)
		info[3 + i] = (uint8_t)(fill + i) == HM_HDLC_FLAG ? 0x00 : (uint8_t)(fill + i);
	return build_frame(out, 0, dst1, 1, src2, 2, 0x13, info, 3 + n);
}

static void synthetic_addresses(void **state)
{
	(void)state;
	static const uint8_t a1[] = {0x03}, a2[] = {0x02, 0x23}, a4[] = {0x00, 0x02, 0x00, 0x23};
	static const uint8_t a3[] = {0x00, 0x02, 0x23}; /* 3 bytes: not allowed */
	const uint8_t *as[] = {a1, a2, a4};
	const size_t al[] = {1, 2, 4};
	const uint32_t av[] = {0x03, 0x0223, 0x00020023};
	static const uint8_t info[] = {0xE6, 0xE7, 0x00, 0x0F, 0x01, 0x7E, 0x7D, 0x7E};
	uint8_t f[64];
	for (int d = 0; d < 3; d++)
		for (int s = 0; s < 3; s++) {
			size_t n = build_frame(f, 0, as[d], al[d], as[s], al[s], 0x13, info, sizeof info);
			run(f, n, 0);
			assert_int_equal(rec.n_ok, 1);
			assert_int_equal(rec.ev[0].dst, av[d]);
			assert_int_equal(rec.ev[0].src, av[s]);
			assert_int_equal(rec.ev[0].info_len, sizeof info);
			assert_memory_equal(ev_info(0), info, sizeof info);
			run(f, n, 1);
			assert_int_equal(rec.n_ok, 1);
		}
	/* A 3-byte address field is no frame start: no message, no rejection. */
	size_t n = build_frame(f, 0, a3, 3, a1, 1, 0x13, info, sizeof info);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.n_err, 0);
	/* An address without its last byte within 4: the same. */
	static const uint8_t a5[] = {0x00, 0x02, 0x00, 0x22, 0x01};
	n = build_frame(f, 0, a5, 5, a1, 1, 0x13, info, sizeof info);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.n_err, 0);
}

/* The LLC header opens a message: E6 E7 00 (response) or E6 E6 00 (command),
 * IEC 62056-46 / Green Book LLC; a lone frame without it is no message. */
static void synthetic_llc(void **state)
{
	(void)state;
	static const uint8_t rsp[] = {0xE6, 0xE7, 0x00, 0x0F}, cmd[] = {0xE6, 0xE6, 0x00, 0x0F};
	static const uint8_t none[] = {0xE6, 0xE5, 0x00, 0x0F}, bare[] = {0x0F, 0x00};
	uint8_t f[64];
	size_t n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, rsp, sizeof rsp);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 1);
	n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, cmd, sizeof cmd);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 1);
	n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, none, sizeof none);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(rec.ev[0].err, HM_ERR_BAD_FORMAT);
	assert_int_equal(fr.stats.frames, 1);
	n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, bare, sizeof bare);
	run(f, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.ev[0].err, HM_ERR_BAD_FORMAT);
	/* An empty information field (HCS and FCS both present): the same. */
	n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, NULL, 0);
	run(f, n, 0);
	assert_int_equal(fr.stats.frames, 1);
	assert_int_equal(rec.n_ok, 0);
}

static void synthetic_max_length(void **state)
{
	(void)state;
	static uint8_t f[2100];
	static uint8_t info[2047];
	size_t il = 2047 - (2 + 1 + 2 + 1 + 2 + 2); /* the whole 11-bit length */
	for (size_t i = 0; i < il; i++)
		info[i] = (uint8_t)(i * 7);
	info[0] = 0xE6, info[1] = 0xE7, info[2] = 0x00;
	size_t n = build_frame(f, 0, dst1, 1, src2, 2, 0x13, info, il);
	assert_int_equal(n, 2049);
	assert_int_equal(f[1], 0xA7);
	assert_int_equal(f[2], 0xFF);
	for (size_t chunk = 0; chunk < 8; chunk += 7) {
		run(f, n, chunk);
		assert_int_equal(rec.n_ok, 1);
		assert_int_equal(rec.ev[0].raw_len, 2048);
		assert_int_equal(rec.ev[0].info_len, il);
		assert_memory_equal(ev_info(0), info, il);
	}
	/* Twice in a row, sharing the flag, and after 2 KiB of junk. */
	static uint8_t s[3 * 2100];
	memcpy(s, f, n);
	memcpy(s + n - 1, f, n);
	run(s, 2 * n - 1, 0);
	assert_int_equal(rec.n_ok, 2);
	rng_state = 0x12345678u;
	make_junk(s, 2100);
	memcpy(s + 2100, f, n);
	run(s, 2100 + n, 100);
	assert_int_equal(rec.n_ok, 1);
	assert_memory_equal(ev_info(0), info, il);
}

/* SYNTHETIC: segments of a message with given info sizes (first has the LLC). */
static size_t build_segments(uint8_t *out, const size_t *sizes, size_t n, uint8_t fill, uint8_t *joined, size_t *jl)
{
	static uint8_t info[2048];
	size_t o = 0, j = 0;
	for (size_t s = 0; s < n; s++) {
		for (size_t i = 0; i < sizes[s]; i++)
			info[i] = (uint8_t)(fill + s + i);
		if (s == 0)
			info[0] = 0xE6, info[1] = 0xE7, info[2] = 0x00;
		else if (info[0] == 0xE6)
			info[0] = 0x01; /* continuations never begin like an LLC header */
		if (joined)
			memcpy(joined + j, info, sizes[s]);
		j += sizes[s];
		o += build_frame(out + o, s + 1 < n, dst1, 1, src2, 2, s + 1 < n ? 0x03 : 0x13, info, sizes[s]);
	}
	if (jl)
		*jl = j;
	return o;
}

static void synthetic_segmented(void **state)
{
	(void)state;
	static uint8_t s[STREAM_MAX * 2], joined[HM_MSG_MAX + 4096];
	size_t jl;
	/* 3 segments: one message of 3, also byte by byte and after junk. */
	const size_t three[] = {200, 300, 57};
	size_t n = build_segments(s, three, 3, 1, joined, &jl);
	for (size_t chunk = 0; chunk < 3; chunk++) {
		run(s, n, chunk);
		assert_int_equal(rec.n_ok, 1);
		assert_int_equal(rec.n_err, 0);
		assert_int_equal(rec.ev[0].segments, 3);
		assert_int_equal(rec.ev[0].info_len, jl);
		assert_memory_equal(ev_info(0), joined, jl);
	}
	/* Exactly HM_MSG_MAX fits. */
	const size_t fit[] = {2000, 2000, 2000, 2000, HM_MSG_MAX - 8000};
	n = build_segments(s, fit, 5, 2, joined, &jl);
	assert_int_equal(jl, HM_MSG_MAX);
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_int_equal(rec.ev[0].segments, 5);
	assert_memory_equal(ev_info(0), joined, jl);

	/* One byte over HM_MSG_MAX in the last segment: oversize, no message. */
	const size_t over1[] = {2000, 2000, 2000, 2000, HM_MSG_MAX - 8000 + 1};
	n = build_segments(s, over1, 5, 3, NULL, NULL);
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(rec.ev[0].err, HM_ERR_OVERSIZE);
	assert_int_equal(rec.ev[0].segments, 5);

	/* One byte over HM_MSG_MAX: rejected once as oversize, the rest of it
	 * (including its last segment) dropped, the next message taken. */
	const size_t over[] = {2000, 2000, 2000, 2000, HM_MSG_MAX - 8000 + 1, 30};
	n = build_segments(s, over, 6, 3, NULL, NULL);
	size_t m = n;
	n += simple_frame(s + n, 40, 9);
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(fr.stats.errors[HM_ERR_OVERSIZE], 1);
	assert_int_equal(rec.ev[0].err, HM_ERR_OVERSIZE);
	assert_int_equal(rec.ev[1].segments, 1);
	assert_int_equal(rec.ev[1].info_len, 43);
	assert_int_equal(fr.stats.frames, 7);

	/* Continuations without their start (capture began mid-message):
	 * one segment error, no message, then the next message is fine. */
	const size_t part[] = {100, 100, 100};
	size_t first_len = part[0] + 12; /* 7E A8xx 41 0883 03 HCS info FCS 7E */
	n = build_segments(s, part, 3, 4, NULL, NULL);
	memmove(s, s + first_len, n - first_len);
	n -= first_len;
	n += simple_frame(s + n, 10, 5);
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(rec.ev[0].err, HM_ERR_SEGMENT_ERROR);
	assert_int_equal(rec.ev[1].info_len, 13);

	/* A new start before the last segment: the first message is reported
	 * broken, the second is whole. */
	build_segments(s, part, 2, 6, NULL, NULL);
	n = part[0] + 12; /* keep the first segment alone: 7E A8xx 41 0883 03 HCS info FCS 7E */
	assert_int_equal(s[n - 1], HM_HDLC_FLAG);
	m = build_segments(s + n, three, 3, 7, joined, &jl);
	run(s, n + m, 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.ev[0].err, HM_ERR_SEGMENT_ERROR);
	assert_int_equal(rec.ev[1].err, HM_ERR_OK);
	assert_int_equal(rec.ev[1].segments, 3);
	assert_memory_equal(ev_info(1), joined, jl);

	/* A damaged middle segment: its rejection, the message dropped (never
	 * segments 1+3 joined), the next message fine. */
	n = build_segments(s, three, 3, 8, NULL, NULL);
	s[202 + 9 + 100] ^= 0x20; /* inside the second frame's information field */
	n += simple_frame(s + n, 10, 5);
	for (size_t chunk = 0; chunk < 2; chunk++) {
		run(s, n, chunk);
		assert_int_equal(rec.n_ok, 1);
		assert_int_equal(rec.ev[rec.n - 1].info_len, 13);
		assert_int_equal(fr.stats.errors[HM_ERR_FCS_MISMATCH], 1);
		assert_int_equal(fr.stats.errors[HM_ERR_SEGMENT_ERROR], 1);
	}

	/* Input ends inside a message: reported at flush as truncated. */
	build_segments(s, three, 3, 9, NULL, NULL);
	n = three[0] + 12 + three[1] + 12; /* the first two of three */
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 0);
	assert_int_equal(rec.n_err, 1);
	assert_int_equal(rec.ev[0].err, HM_ERR_TRUNCATED);
	assert_int_equal(rec.ev[0].segments, 2);
}

static void synthetic_flush(void **state)
{
	(void)state;
	uint8_t f[300], g[100];
	size_t n = simple_frame(f, 200, 0x10);
	size_t gn = simple_frame(g, 20, 0x40);
	for (size_t i = 1; i + 1 < n; i++)
		assert_int_not_equal(f[i], HM_HDLC_FLAG); /* the test below relies on it */
	for (size_t k = 1; k < n - 1; k++) {
		run(f, k, 0);
		assert_int_equal(rec.n_ok, 0);
		/* A lone 7E at the end is a flag; anything more is a frame cut off. */
		assert_int_equal(rec.n_err, k == 1 ? 0 : 1);
		if (k > 1) {
			assert_int_equal(rec.ev[0].err, HM_ERR_TRUNCATED);
			assert_int_equal(rec.ev[0].raw_len, k);
		}
		/* After flush the framer starts afresh. */
		hm_hdlc_feed(&fr, g, gn, on_event, NULL);
		assert_int_equal(rec.n_ok, 1);
		/* The same cut frame closed by a flag: length mismatch, and a good
		 * frame right after it is found at once. */
		if (k > 1) {
			memcpy(work, f, k);
			memcpy(work + k, g, gn);
			run(work, k + gn, 0);
			assert_int_equal(rec.n_ok, 1);
			assert_int_equal(rec.ev[rec.n - 1].err, HM_ERR_OK);
			assert_memory_equal(ev_info(rec.n - 1), g + 9, gn - 12);
			/* With its header (7E A0xx 41 0883 13 HCS: 9 bytes) in, the cut
			 * frame is a candidate and its length is what is wrong.  A cut
			 * header runs into g's bytes and may or may not look like one. */
			if (k >= 9) {
				assert_int_equal(rec.n, 2);
				assert_int_equal(rec.ev[0].err, HM_ERR_LENGTH_MISMATCH);
			} else {
				assert_true(rec.n <= 2);
			}
		}
	}
	/* The whole frame without its closing flag is good (taken at the FCS). */
	run(f, n - 1, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_int_equal(rec.n_err, 0);
}

static void synthetic_garbage_exact(void **state)
{
	(void)state;
	uint8_t f[100], s[400];
	size_t fl = simple_frame(f, 30, 0x20), n = 0;
	static const uint8_t junk1[] = {0x01, 0x02, 0x03}, crlf[] = {0x0D, 0x0A}, tail[] = {0xFF, 0x00};
	memcpy(s + n, junk1, 3), n += 3;
	memcpy(s + n, f, fl), n += fl;
	memcpy(s + n, crlf, 2), n += 2;
	memcpy(s + n, f, fl), n += fl;             /* after 0D 0A */
	memcpy(s + n, f + 1, fl - 1), n += fl - 1; /* sharing the flag */
	s[n++] = HM_HDLC_FLAG;                     /* "7E 7E": closing + opening ... */
	s[n++] = HM_HDLC_FLAG;                     /* ... and idle fill */
	memcpy(s + n, f, fl), n += fl;
	memcpy(s + n, tail, 2), n += 2;
	for (size_t chunk = 0; chunk < 4; chunk++) {
		run(s, n, chunk);
		assert_int_equal(rec.n_ok, 4);
		assert_int_equal(rec.n_err, 0);
		assert_int_equal(fr.stats.garbage_bytes, 3 + 2 + 2);
		assert_int_equal(fr.stats.frame_bytes, 4 * (fl - 1));
		/* closing flags of frames 1, 3, 4 (frame 2's is frame 3's opening) + 2 idle */
		assert_int_equal(fr.stats.flag_bytes, 3 + 2);
		assert_int_equal(fr.stats.rejected_bytes, 0);
		assert_int_equal(fr.stats.bytes, n);
	}
}

/* Every possible header at every position, all with a valid HCS and the
 * longest length, then one good frame: all rejected, the frame found, and
 * the work stays linear in the input (the test would time out otherwise). */
static void synthetic_hostile_headers(void **state)
{
	(void)state;
	static uint8_t s[1 << 16];
	size_t n = 0;
	while (n + 9 < sizeof s - 200) {
		uint8_t *h = s + n;
		h[0] = HM_HDLC_FLAG;
		h[1] = 0xA7;
		h[2] = 0xFF;
		h[3] = 0x03;
		h[4] = 0x03;
		h[5] = 0x13;
		uint16_t hcs = hm_crc16_x25(h + 1, 5);
		h[6] = (uint8_t)hcs;
		h[7] = (uint8_t)(hcs >> 8);
		n += 8;
	}
	size_t g = simple_frame(s + n, 50, 0x30);
	n += g;
	run(s, n, 0);
	assert_int_equal(rec.n_ok, 1);
	assert_true(rec.n_err >= 1);
	assert_int_equal(rec.ev[rec.n - 1].err, HM_ERR_OK);
	run(s, n, 1000);
	assert_int_equal(rec.n_ok, 1);
}

/* Intact frames (starts[i]) whose opening flag lies inside some other
 * 7E Ax span of s whose FCS checks: junk or damage that passes a 16-bit FCS
 * by chance (1 in 65536 spans) and may hide them.  Brute force over the
 * layout, independent of the framer. */
static size_t hideable(const uint8_t *s, size_t n, const size_t *starts, size_t n_intact)
{
	size_t hidden = 0;
	static bool mark[64];
	memset(mark, 0, sizeof mark);
	for (size_t p = 0; p + 3 < n; p++) {
		if (s[p] != HM_HDLC_FLAG || (s[p + 1] & 0xF0) != 0xA0)
			continue;
		size_t l = (size_t)(s[p + 1] & 0x07) << 8 | s[p + 2], k;
		if (l < 9 || p + l >= n)
			continue;
		for (k = 0; k < n_intact && starts[k] != p; k++)
			;
		if (k < n_intact)
			continue; /* an intact frame itself */
		if (hm_crc16_x25(s + p + 1, l - 2) != (s[p + l - 1] | s[p + l] << 8))
			continue;
		for (k = 0; k < n_intact; k++)
			if (starts[k] > p && starts[k] <= p + l && !mark[k])
				mark[k] = true, hidden++;
	}
	return hidden;
}

/* Random streams of good frames, damaged frames, junk, flags; random read
 * sizes.  Invariants: no crash (ASan/UBSan), every message is one of the
 * good ones and checks (on_event), stats add up, every good frame not
 * touched by damage is found. */
static void fuzz_random_streams(void **state)
{
	(void)state;
	enum { N_GOOD = 6 };
	static uint8_t good[N_GOOD][2100];
	static size_t gl[N_GOOD];
	static uint8_t s[64 * 1024];
	rng_state = 0xC0FFEE01u;
	for (int i = 0; i < N_GOOD; i++)
		gl[i] = simple_frame(good[i], 10 + (size_t)i * 377 % 1900, (uint8_t)(i * 31));
	size_t accidents = 0;
	for (int iter = 0; iter < 400; iter++) {
		size_t n = 0, intact = 0, starts[64];
		while (n < sizeof s - 2200) {
			uint32_t r = rng() % 6;
			if (r <= 2) {
				int k = (int)(rng() % N_GOOD);
				memcpy(s + n, good[k], gl[k]);
				starts[intact++] = n;
				n += gl[k];
			} else if (r == 3) {
				int k = (int)(rng() % N_GOOD);
				memcpy(s + n, good[k], gl[k]);
				size_t cut = rng() % 2 ? gl[k] : 1 + rng() % gl[k];
				for (int d = 0; d < 3; d++)
					s[n + rng() % cut] ^= (uint8_t)(1 + rng() % 255);
				n += cut;
			} else {
				n += make_junk(s + n, 1 + rng() % 300);
			}
			if (rng() % 8 == 0 || intact == 64)
				break;
		}
		rec_reset();
		for (size_t o = 0; o < n;) {
			size_t c = 1 + rng() % (rng() % 2 ? 16 : 3000);
			if (c > n - o)
				c = n - o;
			hm_hdlc_feed(&fr, s + o, c, on_event, NULL);
			o += c;
		}
		hm_hdlc_flush(&fr, on_event, NULL);
		check_accounting();
		assert_int_equal(fr.stats.bytes, n);
		for (size_t e = 0; e < rec.n; e++) {
			if (rec.ev[e].err != HM_ERR_OK)
				continue;
			int found = 0;
			for (int k = 0; k < N_GOOD && !found; k++) {
				size_t off, len;
				frame_info(good[k], gl[k], &off, &len);
				found = rec.ev[e].info_len == len && memcmp(ev_info(e), good[k] + off, len) == 0;
			}
			assert_true(found);
		}
		/* Damage in front of an intact frame hides it only until the
		 * rescan: every intact frame is found, unless a span that passes
		 * the FCS by chance covers its start. */
		size_t h = hideable(s, n, starts, intact);
		accidents += h;
		if (rec.n_ok > intact || rec.n_ok + h < intact)
			fail_msg("iteration %d: %zu messages from %zu intact frames (%zu hideable)", iter, rec.n_ok,
			         intact, h);
	}
	/* Chance FCS matches are rare, so the exact check above did bite. */
	assert_true(accidents < 20);
	print_message("fuzz: 400 streams, %zu intact frames hideable by chance FCS matches\n", accidents);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(vectors_positive_whole_stream),
	    cmocka_unit_test(vectors_segmented_iskra),
	    cmocka_unit_test(vectors_every_split_and_bytewise),
	    cmocka_unit_test(vectors_garbage_in_front),
	    cmocka_unit_test(vectors_each_byte_flipped),
	    cmocka_unit_test(vectors_negative),
	    cmocka_unit_test(vectors_negative_between_good),
	    cmocka_unit_test(vectors_raw_serial_streams),
	    cmocka_unit_test(vectors_oss_stream),
	    cmocka_unit_test(synthetic_addresses),
	    cmocka_unit_test(synthetic_llc),
	    cmocka_unit_test(synthetic_max_length),
	    cmocka_unit_test(synthetic_segmented),
	    cmocka_unit_test(synthetic_flush),
	    cmocka_unit_test(synthetic_garbage_exact),
	    cmocka_unit_test(synthetic_hostile_headers),
	    cmocka_unit_test(fuzz_random_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
