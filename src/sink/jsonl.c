/*
 * jsonl.c - the JSON-lines sink: one object per reading, one line each,
 * flushed per line, to standard output (path = -) or appended to a file.
 *
 *   {"meter":"house","active_power_import_w":2531,...}
 *
 * The members after "meter" are hm_json_members(): the reading's own field
 * names, plain decimals in the unit the name ends with.  The hourly list
 * that changes the derived figures also carries "derived":{...} (derived.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hanmeter/json.h"

#include "daemon.h"
#include "log.h"

/* One line: every numeric field (~25 bytes each), every text field (up to
 * HM_TEXT_MAX escaped as \u00XX: 6x), the extras: 16 KiB is ample. */
#define LINE_MAX_BYTES 16384

struct jsonl {
	FILE *f;                   /* stdout or the opened file */
	bool own;                  /* f is ours to close */
	char path[HM_CONF_STR];    /* for messages */
	struct hm_ratelimit rl;    /* write errors */
	char line[LINE_MAX_BYTES]; /* the line being built */
};

static bool jsonl_enabled(const struct hm_config *c)
{
	return c->jsonl.enabled;
}

static int jsonl_start(struct hm_daemon *d, void **state)
{
	struct jsonl *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	snprintf(j->path, sizeof j->path, "%s", d->conf->jsonl.path);
	j->rl = (struct hm_ratelimit)HM_RATELIMIT_INIT(60, 3);
	if (strcmp(j->path, "-") == 0) {
		j->f = stdout;
	} else {
		j->f = fopen(j->path, "ae");
		if (!j->f) {
			int e = errno;
			hm_log(LOG_ERR, "jsonl: %s: %s", j->path, strerror(e));
			free(j);
			return -e;
		}
		j->own = true;
	}
	*state = j;
	return 0;
}

static void write_error(struct jsonl *j, const char *what)
{
	unsigned dropped;
	if (hm_ratelimit_ok(&j->rl, &dropped))
		hm_log(LOG_ERR, "jsonl: %s: %s%s", j->path, what, dropped ? " (and earlier ones)" : "");
}

static void jsonl_reading(void *state, struct hm_meter *m, const struct hm_reading *r)
{
	struct jsonl *j = state;
	size_t cap = sizeof j->line;
	int n = snprintf(j->line, cap, "{\"meter\":");
	int s = hm_json_string(m->conf->name, strlen(m->conf->name), j->line + n, cap - (size_t)n);
	if (s < 0) {
		write_error(j, "line too long");
		return;
	}
	n += s;
	j->line[n++] = ',';
	int k = hm_json_members(r, j->line + n, cap - (size_t)n - 3);
	if (k < 0) {
		write_error(j, "reading too long for one line");
		return;
	}
	n += k;
	if (k == 0)
		n--; /* no members: drop the comma */
	if (m->derived_len > 0) {
		/* an hourly list: its derived figures ride along (daemon.h) */
		static const char key[] = ",\"derived\":{";
		size_t add = sizeof key - 1 + (size_t)m->derived_len + 1;
		if ((size_t)n + add + 2 < cap) {
			memcpy(j->line + n, key, sizeof key - 1);
			memcpy(j->line + n + sizeof key - 1, m->derived_json, (size_t)m->derived_len);
			n += (int)add;
			j->line[n - 1] = '}';
		} else {
			write_error(j, "derived figures do not fit the line: left out");
		}
	}
	j->line[n++] = '}';
	j->line[n++] = '\n';
	if (fwrite(j->line, 1, (size_t)n, j->f) != (size_t)n || fflush(j->f) != 0) {
		write_error(j, strerror(errno));
		clearerr(j->f);
	}
}

static void jsonl_stop(void *state)
{
	struct jsonl *j = state;
	if (j->own)
		fclose(j->f);
	else
		fflush(j->f);
	free(j);
}

const struct hm_sink_ops hm_sink_jsonl = {
    .name = "jsonl",
    .enabled = jsonl_enabled,
    .start = jsonl_start,
    .reading = jsonl_reading,
    .availability = NULL,
    .frame = NULL,
    .stop = jsonl_stop,
};
