/*
 * file.c - the file source: replays a capture (file = PATH), for tests and
 * demonstrations.
 *
 * A file that is text made of hex digits, '#' comments and separators is a
 * hex capture (the format of ../shared/vectors: one frame or one read() per
 * line); anything else is raw bytes.  pace = N ms delivers one hex line (or
 * one CHUNK of a binary file) every N ms, as a meter would; pace = 0 delivers
 * the whole file at once.  loop = yes starts again from the top at the end;
 * otherwise the meter ends (no retry).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hexfile.h"
#include "daemon.h"
#include "log.h"

#define FILE_MAX (16u << 20) /* 16 MiB: days of 10 s lists; more is a mistake */
#define CHUNK    64          /* binary files: bytes per paced delivery (~0.25 s at 2400 baud) */

struct file_src {
	uint8_t *data;           /* the bytes to replay */
	size_t len;              /* bytes at data */
	struct hm_hexline *unit; /* hex: each line's extent; NULL for binary */
	size_t n_units;          /* units (lines, or chunks) */
	size_t next;             /* next unit to deliver */
	sd_event_source *timer;  /* paced delivery */
	sd_event_source *defer;  /* unpaced delivery, after open() returns */
};

static bool file_claims(const struct hm_meter_conf *mc)
{
	return mc->file[0] != 0;
}

static void file_close(struct hm_meter *m)
{
	struct file_src *fs = m->src;
	if (!fs)
		return;
	sd_event_source_disable_unref(fs->timer);
	sd_event_source_disable_unref(fs->defer);
	free(fs->data);
	free(fs->unit);
	free(fs);
	m->src = NULL;
}

static void unit_extent(const struct file_src *fs, size_t i, size_t *off, size_t *len)
{
	if (fs->unit) {
		*off = fs->unit[i].off;
		*len = fs->unit[i].len;
	} else {
		*off = i * CHUNK;
		*len = fs->len - *off < CHUNK ? fs->len - *off : CHUNK;
	}
}

/* Delivers up to n units; true when the file has ended (and not looped). */
static bool deliver(struct hm_meter *m, size_t n)
{
	struct file_src *fs = m->src;
	while (n-- > 0) {
		if (fs->next == fs->n_units) {
			if (!m->conf->loop || fs->n_units == 0)
				return true;
			fs->next = 0;
		}
		size_t off, len;
		unit_extent(fs, fs->next++, &off, &len);
		hm_meter_input(m, fs->data + off, len);
		if (m->src != fs) /* a sink cannot close us, but be safe */
			return false;
	}
	return false;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	if (deliver(m, 1)) {
		hm_meter_eof(m);
		return 0;
	}
	sd_event_source_set_time(s, usec + (uint64_t)m->conf->pace_ms * 1000u);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_defer(sd_event_source *s, void *userdata)
{
	struct hm_meter *m = userdata;
	struct file_src *fs = m->src;
	(void)s;
	/* Everything once (loop = yes needs pace, config.c says so). */
	deliver(m, fs->n_units);
	if (m->src == fs)
		hm_meter_eof(m);
	return 0;
}

static bool is_hex_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || p[i] >= 0x80 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t'))
			return false;
	return true;
}

static int load(struct hm_meter *m, struct file_src *fs)
{
	const char *path = m->conf->file;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > FILE_MAX) {
		int e = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		close(fd);
		return -e;
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *raw = malloc(n + 1);
	if (!raw) {
		close(fd);
		return -ENOMEM;
	}
	while (got < n) {
		ssize_t r = read(fd, raw + got, n - got);
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			free(raw);
			return -e;
		}
		got += (size_t)r;
	}
	close(fd);

	if (is_hex_text(raw, n)) {
		size_t lines = 1, out_len, n_lines;
		char err[128];
		for (size_t i = 0; i < n; i++)
			lines += raw[i] == '\n';
		fs->data = malloc(n / 2 + 1);
		fs->unit = malloc(lines * sizeof *fs->unit);
		if (!fs->data || !fs->unit) {
			free(raw);
			return -ENOMEM;
		}
		if (hm_hex_parse((const char *)raw, n, fs->data, n / 2 + 1, &out_len, fs->unit, lines, &n_lines, err,
		                 sizeof err) < 0) {
			hm_log_meter(LOG_ERR, m->conf->name, "file %s: %s", path, err);
			free(raw);
			return -EINVAL;
		}
		free(raw);
		fs->len = out_len;
		fs->n_units = n_lines;
	} else {
		fs->data = raw;
		fs->len = n;
		fs->n_units = (n + CHUNK - 1) / CHUNK;
	}
	return 0;
}

static int file_open(struct hm_meter *m)
{
	struct file_src *fs = calloc(1, sizeof *fs);
	if (!fs)
		return -ENOMEM;
	m->src = fs;
	int rc = load(m, fs);
	if (rc >= 0) {
		if (m->conf->pace_ms)
			rc = sd_event_add_time_relative(m->d->event, &fs->timer, CLOCK_MONOTONIC,
			                                (uint64_t)m->conf->pace_ms * 1000u, 0, on_tick, m);
		else
			rc = sd_event_add_defer(m->d->event, &fs->defer, on_defer, m);
	}
	if (rc < 0) {
		file_close(m);
		return rc;
	}
	hm_meter_online(m);
	return 0;
}

const struct hm_source_ops hm_source_file = {
    .name = "file",
    .claims = file_claims,
    .open = file_open,
    .close = file_close,
};
