/*
 * fuzz_config.c - libFuzzer entry: /etc/hanmeterd.conf text through
 * hm_config_load() (inih plus the key table of config.c), from a temporary
 * file the entry rewrites for every input.
 *
 * Invariants checked, beyond "no crash":
 *  - the result is 0 or -errno; an error says "FILE:LINE: message" with
 *    FILE the path given and LINE within the file, or "FILE: message" when
 *    it is about the file as a whole,
 *    NUL-terminated within errlen also when errlen is tiny;
 *  - a loaded configuration is within its bounds: every string
 *    NUL-terminated inside its array, at most HM_CONF_METERS_MAX meters,
 *    meter names of [a-zA-Z0-9_-] and distinct, each found again by
 *    hm_config_meter(), qos 0..2, retry_min <= retry_max, baud > 0;
 *  - loading is repeatable: the same text gives the same verdict and message.
 *
 * needs: src/daemon/config.c
 */
#include <unistd.h>

#include "config.h"

#include "fuzz.h"

static char path[64];
static struct hm_config conf, conf2;

#define STR_OK(field) FUZZ_CHECK(memchr((field), 0, sizeof(field)) != NULL)

static void check_config(const struct hm_config *c)
{
	STR_OK(c->path);
	STR_OK(c->daemon.state_dir);
	FUZZ_CHECK(c->n_meters <= HM_CONF_METERS_MAX);
	for (unsigned i = 0; i < c->n_meters; i++) {
		const struct hm_meter_conf *m = &c->meter[i];
		STR_OK(m->name);
		STR_OK(m->device);
		STR_OK(m->tcp_host);
		STR_OK(m->file);
		STR_OK(m->profile);
		FUZZ_CHECK(m->name[0] != '\0');
		for (const char *s = m->name; *s; s++)
			FUZZ_CHECK((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			           *s == '_' || *s == '-');
		for (unsigned k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(c->meter[k].name, m->name) != 0);
		FUZZ_CHECK(hm_config_meter(c, m->name) == m);
		FUZZ_CHECK(m->baud > 0);
		FUZZ_CHECK(m->retry_min_ms <= m->retry_max_ms);
	}
	const struct hm_mqtt_conf *q = &c->mqtt;
	STR_OK(q->host);
	STR_OK(q->topic_prefix);
	STR_OK(q->discovery_prefix);
	STR_OK(q->client_id);
	STR_OK(q->username);
	STR_OK(q->password);
	STR_OK(q->cafile);
	STR_OK(q->capath);
	STR_OK(q->certfile);
	STR_OK(q->keyfile);
	if (q->enabled)
		FUZZ_CHECK(q->qos >= 0 && q->qos <= 2);
	const struct hm_domoticz_conf *d = &c->domoticz;
	STR_OK(d->meter);
	STR_OK(d->url);
	STR_OK(d->username);
	STR_OK(d->password);
	STR_OK(d->mqtt_topic);
	STR_OK(c->jsonl.path);
}

/* "PATH:LINE: message", LINE a number within the file. */
static void check_error(const char *err, size_t errlen, unsigned lines)
{
	FUZZ_CHECK(memchr(err, 0, errlen) != NULL);
	size_t pl = strlen(path);
	if (errlen <= pl + 4)
		return; /* cut short: only termination can be checked */
	FUZZ_CHECK(strncmp(err, path, pl) == 0 && err[pl] == ':');
	if (err[pl + 1] == ' ')
		return; /* "PATH: message": about the file as a whole */
	char *end;
	unsigned long line = strtoul(err + pl + 1, &end, 10);
	FUZZ_CHECK(end > err + pl + 1 && *end == ':' && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/hm-fuzz-config-%ld.conf", (long)getpid());
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(fwrite(data, 1, size, f) == size);
	FUZZ_CHECK(fclose(f) == 0);
	unsigned lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	char err[HM_CONF_ERR], err2[HM_CONF_ERR];
	memset(err, 0x55, sizeof err);
	int rc = hm_config_load(&conf, path, err, sizeof err);
	FUZZ_CHECK(rc == 0 || (rc < 0 && rc > -4096));
	if (rc == 0)
		check_config(&conf);
	else
		check_error(err, sizeof err, lines);

	/* Again: same verdict, same message. */
	int rc2 = hm_config_load(&conf2, path, err2, sizeof err2);
	FUZZ_CHECK(rc2 == rc);
	if (rc != 0)
		FUZZ_CHECK(strcmp(err, err2) == 0);

	/* A tiny message buffer (heap, exact size): still terminated, never overrun. */
	char *tiny = malloc(8);
	FUZZ_CHECK(tiny);
	rc2 = hm_config_load(&conf2, path, tiny, 8);
	FUZZ_CHECK(rc2 == rc);
	if (rc != 0)
		check_error(tiny, 8, lines);
	free(tiny);
	unlink(path);
	return 0;
}
