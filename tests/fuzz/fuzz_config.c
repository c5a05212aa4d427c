/*
 * fuzz_config.c - libFuzzer entry: any bytes as /etc/hanmeterd.conf through
 * hm_config_load() (inih with the daemon's own line reader and key table).
 *
 * Invariants checked, beyond "no crash":
 *  - the result is 0 or -EINVAL, never anything half-way;
 *  - an error is "PATH:LINE: message" with 1 <= LINE <= the lines in the
 *    input, or "PATH: message" (about the file as a whole), one line;
 *  - a configuration that loads satisfies the checks the daemon relies on:
 *    1..HM_CONF_METERS_MAX meters with unique valid names, each with exactly
 *    one source, retry_min <= retry_max, a positive scale, a TCP port when
 *    TCP, NUL-terminated strings;
 *  - loading is a function of the bytes: a second load gives the same result.
 *
 * needs: src/daemon/config.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "fuzz.h"

static struct hm_config c1, c2;

static void check_loaded(const struct hm_config *c)
{
	FUZZ_CHECK(c->n_meters >= 1 && c->n_meters <= HM_CONF_METERS_MAX);
	for (unsigned i = 0; i < c->n_meters; i++) {
		const struct hm_meter_conf *m = &c->meter[i];
		size_t n = strnlen(m->name, sizeof m->name);
		FUZZ_CHECK(n > 0 && n < sizeof m->name);
		FUZZ_CHECK(strspn(m->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n);
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(m->name, c->meter[j].name) != 0);
		FUZZ_CHECK(strnlen(m->device, sizeof m->device) < sizeof m->device);
		FUZZ_CHECK(strnlen(m->tcp_host, sizeof m->tcp_host) < sizeof m->tcp_host);
		FUZZ_CHECK(strnlen(m->file, sizeof m->file) < sizeof m->file);
		FUZZ_CHECK((m->device[0] != 0) + (m->tcp_host[0] != 0) + (m->file[0] != 0) == 1);
		FUZZ_CHECK(!m->tcp_host[0] || m->tcp_port != 0);
		FUZZ_CHECK(m->retry_min_ms <= m->retry_max_ms && m->retry_min_ms > 0);
		FUZZ_CHECK(m->scale.m > 0);
		FUZZ_CHECK(!m->loop || (m->file[0] && m->pace_ms));
	}
	FUZZ_CHECK(c->daemon.status_interval_s >= 1);
	FUZZ_CHECK(!c->mqtt.enabled || (c->mqtt.port && c->mqtt.host[0] && c->mqtt.qos >= 0 && c->mqtt.qos <= 2));
	FUZZ_CHECK(!c->domoticz.enabled || hm_config_meter(c, c->domoticz.meter));
	FUZZ_CHECK(!c->jsonl.enabled || c->jsonl.path[0]);
}

static void check_error(const char *path, const char *err, const uint8_t *data, size_t size)
{
	size_t pl = strlen(path);
	unsigned lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	FUZZ_CHECK(strncmp(err, path, pl) == 0 && err[pl] == ':');
	FUZZ_CHECK(!strchr(err, '\n'));
	const char *p = err + pl + 1;
	if (*p == ' ') /* about the file as a whole */
		return;
	unsigned line = 0;
	while (*p >= '0' && *p <= '9')
		line = line * 10 + (unsigned)(*p++ - '0');
	FUZZ_CHECK(*p == ':' && p[1] == ' ');
	FUZZ_CHECK(line >= 1 && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err1[HM_CONF_ERR], err2[HM_CONF_ERR];
	snprintf(path, sizeof path, "/tmp/fuzz_config.%d.conf", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		perror(path);
		abort();
	}
	close(fd);

	int rc1 = hm_config_load(&c1, path, err1, sizeof err1);
	int rc2 = hm_config_load(&c2, path, err2, sizeof err2);
	unlink(path);
	FUZZ_CHECK(rc1 == 0 || rc1 == -EINVAL);
	FUZZ_CHECK(rc1 == rc2);
	if (rc1 == 0) {
		check_loaded(&c1);
		FUZZ_CHECK(c1.n_meters == c2.n_meters);
		for (unsigned i = 0; i < c1.n_meters; i++)
			FUZZ_CHECK(memcmp(&c1.meter[i], &c2.meter[i], sizeof c1.meter[i]) == 0);
	} else {
		check_error(path, err1, data, size);
		FUZZ_CHECK(strcmp(err1, err2) == 0);
	}
	return 0;
}
