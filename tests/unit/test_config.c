/*
 * test_config.c - hm_config_load(): good files parse to the values written
 * in them (or the documented defaults), and each kind of bad file gives
 * exactly "file:line: message" with the line the mistake is on.
 *
 * Legend of the bad-file table: the file text, and the message expected
 * after "<path>:" (the line numbers were counted by hand in the text).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char dir[] = "/tmp/test_config.XXXXXX";
static char path[256];
static struct hm_config conf;
static char err[HM_CONF_ERR];

static void write_file(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int load(const char *text)
{
	write_file(text, 0640);
	err[0] = 0;
	return hm_config_load(&conf, path, err, sizeof err);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/hanmeterd.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void good_full(void **state)
{
	(void)state;
	static const char text[] = "# a comment\n"
	                           "; another\n"
	                           "[daemon]\n"
	                           "log_level = debug\n"
	                           "status_interval = 5\n"
	                           "\n"
	                           "[meter house]\n"
	                           "device = /dev/ttyUSB0\n"
	                           "baud = 9600\n"
	                           "parity = none\n"
	                           "profile = kamstrup\n"
	                           "scale = 0.25\n"
	                           "key = 5AD84121D9D20B364B7A11F3C1B5827F\n"
	                           "auth_key = afb3f93e3e7204edb3c27f96dbd51ae0\n"
	                           "retry_min = 500\n"
	                           "retry_max = 8000\n"
	                           "\n"
	                           "[meter barn]\n"
	                           "  tcp = [::1]:2001   ; indented, with an inline comment\n"
	                           "idle_timeout = 30\n"
	                           "[meter replay]\n"
	                           "file = /tmp/x.hex\n"
	                           "pace = 100\n"
	                           "loop = yes\n"
	                           "[mqtt]\n"
	                           "host = broker.lan\n"
	                           "tls = yes\n"
	                           "qos = 2\n"
	                           "retain = on\n"
	                           "topic_prefix = home/han\n"
	                           "username = u\n"
	                           "password = p\n"
	                           "client_id = me\n"
	                           "[domoticz]\n"
	                           "idx_power = 42\n"
	                           "idx_voltage_l2 = 7\n"
	                           "[journal]\n"
	                           "readings = 300\n"
	                           "[jsonl]\n"
	                           "path = /tmp/readings.jsonl\n";
	assert_int_equal(load(text), 0);
	assert_string_equal(err, "");
	assert_int_equal(conf.daemon.log_level, LOG_DEBUG);
	assert_int_equal(conf.daemon.status_interval_s, 5);
	assert_int_equal(conf.n_meters, 3);

	const struct hm_meter_conf *m = hm_config_meter(&conf, "house");
	assert_non_null(m);
	assert_int_equal(m->line, 7);
	assert_string_equal(m->device, "/dev/ttyUSB0");
	assert_string_equal(m->tcp_host, "");
	assert_int_equal(m->baud, 9600);
	assert_int_equal(m->parity, HM_PARITY_NONE);
	assert_string_equal(m->profile, "kamstrup");
	assert_int_equal(m->scale.m, 25); /* 0.25 = 25 * 10^-2, exactly */
	assert_int_equal(m->scale.e, -2);
	assert_true(m->has_key);
	static const uint8_t key[16] = {0x5A, 0xD8, 0x41, 0x21, 0xD9, 0xD2, 0x0B, 0x36,
	                                0x4B, 0x7A, 0x11, 0xF3, 0xC1, 0xB5, 0x82, 0x7F};
	assert_memory_equal(m->key, key, 16);
	assert_true(m->has_auth_key);
	assert_int_equal(m->auth_key[0], 0xAF);
	assert_int_equal(m->auth_key[15], 0xE0);
	assert_int_equal(m->retry_min_ms, 500);
	assert_int_equal(m->retry_max_ms, 8000);

	m = hm_config_meter(&conf, "barn");
	assert_non_null(m);
	assert_string_equal(m->tcp_host, "::1");
	assert_int_equal(m->tcp_port, 2001);
	assert_int_equal(m->idle_timeout_s, 30);
	assert_int_equal(m->baud, 2400); /* defaults per meter */
	assert_int_equal(m->parity, HM_PARITY_EVEN);

	m = hm_config_meter(&conf, "replay");
	assert_non_null(m);
	assert_string_equal(m->file, "/tmp/x.hex");
	assert_int_equal(m->pace_ms, 100);
	assert_true(m->loop);
	assert_null(hm_config_meter(&conf, "nosuch"));

	assert_true(conf.mqtt.enabled);
	assert_int_equal(conf.mqtt.line, 25);
	assert_string_equal(conf.mqtt.host, "broker.lan");
	assert_int_equal(conf.mqtt.port, 8883); /* tls = yes, port not given */
	assert_int_equal(conf.mqtt.qos, 2);
	assert_true(conf.mqtt.retain);
	assert_true(conf.mqtt.homeassistant);
	assert_string_equal(conf.mqtt.topic_prefix, "home/han");
	assert_string_equal(conf.mqtt.discovery_prefix, "homeassistant");
	assert_string_equal(conf.mqtt.client_id, "me");
	assert_string_equal(conf.mqtt.password, "p");
	assert_int_equal(conf.mqtt.keepalive_s, 60);

	assert_true(conf.domoticz.enabled);
	assert_string_equal(conf.domoticz.meter, "house"); /* the first meter */
	assert_string_equal(conf.domoticz.url, "http://127.0.0.1:8080");
	assert_int_equal(conf.domoticz.idx_power, 42);
	assert_int_equal(conf.domoticz.idx_voltage_l2, 7);
	assert_int_equal(conf.domoticz.idx_p1, 0);
	assert_int_equal(conf.domoticz.interval_s, 60);

	assert_true(conf.journal.enabled);
	assert_int_equal(conf.journal.interval_s, 300);
	assert_true(conf.jsonl.enabled);
	assert_string_equal(conf.jsonl.path, "/tmp/readings.jsonl");
	/* 0640 file: its secrets are not readable by others, no warning */
	assert_string_equal(conf.warning, "");
}

static void good_defaults(void **state)
{
	(void)state;
	assert_int_equal(load("\xEF\xBB\xBF[meter m]\ntcp = 127.0.0.1:2000\n"), 0); /* with a UTF-8 BOM */
	const struct hm_meter_conf *m = &conf.meter[0];
	assert_string_equal(m->name, "m");
	assert_string_equal(m->tcp_host, "127.0.0.1");
	assert_int_equal(m->tcp_port, 2000);
	assert_int_equal(m->baud, 2400);
	assert_int_equal(m->parity, HM_PARITY_EVEN);
	assert_string_equal(m->profile, "auto");
	assert_int_equal(m->scale.m, 1);
	assert_int_equal(m->scale.e, 0);
	assert_false(m->has_key);
	assert_int_equal(m->idle_timeout_s, 60);
	assert_int_equal(m->retry_min_ms, 1000);
	assert_int_equal(m->retry_max_ms, 60000);
	/* capacity_steps: the common Norwegian steps, kW -> W */
	static const uint32_t steps_w[] = {2000, 5000, 10000, 15000, 20000, 25000, 50000, 75000, 100000};
	assert_int_equal(m->n_capacity_steps, 9);
	assert_memory_equal(m->capacity_step_w, steps_w, sizeof steps_w);
	assert_int_equal(conf.daemon.log_level, LOG_INFO);
	assert_int_equal(conf.daemon.status_interval_s, 10);
	assert_false(conf.mqtt.enabled);
	assert_false(conf.domoticz.enabled);
	assert_false(conf.journal.enabled);
	assert_false(conf.jsonl.enabled);
	/* Sections absent, their defaults still in place for a reload that adds them. */
	assert_int_equal(conf.mqtt.port, 1883);
	assert_int_equal(conf.mqtt.qos, 1);
	assert_string_equal(conf.jsonl.path, "-");
}

/* capacity_steps: kW decimals (up to W resolution), commas or spaces, rising. */
static void capacity_steps(void **state)
{
	(void)state;
	assert_int_equal(load("[meter m]\ntcp = 127.0.0.1:2000\ncapacity_steps = 2.5, 4,10.001  1000000\n"), 0);
	static const uint32_t want[] = {2500, 4000, 10001, 1000000000};
	assert_int_equal(conf.meter[0].n_capacity_steps, 4);
	assert_memory_equal(conf.meter[0].capacity_step_w, want, sizeof want);
	static const char *const bad[] = {
	    "2 2", "5 3", "0", "1.0001", "x", "", "2 -3", "1000001", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "[meter m]\ntcp = 127.0.0.1:2000\ncapacity_steps = %s\n", bad[i]);
		if (load(text) != -EINVAL)
			fail_msg("capacity_steps = %s accepted", bad[i]);
		if (!strstr(err, ":3: capacity_steps: "))
			fail_msg("capacity_steps = %s: %s", bad[i], err);
	}
}

static void mqtt_defaults(void **state)
{
	(void)state;
	assert_int_equal(load("[meter a]\ndevice=/dev/ttyUSB0\n[mqtt]\n[jsonl]\n"), 0);
	assert_true(conf.mqtt.enabled);
	assert_int_equal(conf.mqtt.port, 1883);
	assert_string_equal(conf.mqtt.host, "127.0.0.1");
	assert_int_equal(strncmp(conf.mqtt.client_id, "hanmeterd-", 10), 0);
	assert_true(strlen(conf.mqtt.client_id) > 10);
	assert_true(conf.jsonl.enabled);
	assert_string_equal(conf.jsonl.path, "-");
}

struct bad {
	const char *text;    /* the file */
	const char *message; /* expected after "<path>" */
};

static const struct bad bads[] = {
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqttt]\nhost = x\n",
     ":3: unknown section [mqttt] (known: daemon, meter NAME, mqtt, domoticz, journal, jsonl)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nbaudrate = 2400\n", ":3: unknown key 'baudrate' in [meter]"},
    {"[mqtt]\nhost = a\n[meter a]\ndevice = /dev/ttyUSB0\n\n[mqtt]\nport = 1\n",
     ":6: duplicate section [mqtt] (first at line 1)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[meter a]\ndevice = /dev/ttyUSB1\n",
     ":3: duplicate section [meter a] (first at line 1)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nbaud = 2400\nbaud = 9600\n", ":4: baud given twice (first at line 3)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nretry_min = 5\n", ":3: retry_min: '5' is not a number in 10..3600000"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nparity = mark\n", ":3: parity: 'mark' is not none, even, odd or auto"},
    {"[meter a]\ntcp = ser2net.lan\n", ":2: tcp: 'ser2net.lan' is not HOST:PORT (IPv6: [ADDRESS]:PORT)"},
    {"[meter a]\ntcp = host:0\n", ":2: tcp: 'host:0' is not HOST:PORT (IPv6: [ADDRESS]:PORT)"},
    {"[meter a]\ntcp = ::1:2000\n", ":2: tcp: '::1:2000' is not HOST:PORT (IPv6: [ADDRESS]:PORT)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\nretain = maybe\n", ":4: retain: 'maybe' is not yes or no"},
    {"[daemon]\nlog_level = info\n\n[meter a]\nbaud = 2400\n",
     ":4: meter a has no source: set one of device, tcp, file, mqtt_topic"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nbaud = 2400\ntcp = 127.0.0.1:2000\n",
     ":4: meter a: tcp and device (line 2) both set; a meter has exactly one source"},
    {"# nothing but a comment\n[daemon]\nlog_level = debug\n", ": no [meter NAME] section: nothing to read"},
    {"device = /dev/ttyUSB0\n[meter a]\n", ":1: device: key outside any section"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nthis line has no equals sign\n",
     ":3: expected 'key = value', '[section]' or a comment"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nfile = /"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     ":3: line longer than 197 characters"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nretry_min = 9000\nretry_max = 8000\n",
     ":3: meter a: retry_min (9000 ms) exceeds retry_max (8000 ms)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nscale = -1\n", ":3: scale: '-1' is not a positive decimal up to 1000000"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nscale = 0.0\n", ":3: scale: '0.0' is not a positive decimal up to 1000000"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nscale = 1e3\n", ":3: scale: '1e3' is not a positive decimal up to 1000000"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nkey = 5AD84121D9D20B364B7A11F3C1B5827\n",
     ":3: key: expected 32 hex digits, got 31 characters"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nkey = 5AD84121D9D20B364B7A11F3C1B5827G\n",
     ":3: key: not a hex digit at position 32"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[domoticz]\nmeter = garage\nidx_power = 3\n", ":4: meter: no [meter garage]"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[domoticz]\nurl = http://x:8080\n",
     ":3: [domoticz] sets no idx_*: nothing to send"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[domoticz]\nmqtt = yes\nidx_power = 3\n",
     ":4: mqtt = yes needs an [mqtt] section"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\nqos = -1\n", ":4: qos: '-1' is not a number in 0..2"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\nport = 70000\n", ":4: port: '70000' is not a port (1..65535)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\ntopic_prefix = a/#\n",
     ":4: topic_prefix: 'a/#' is not a topic prefix (no '+', '#', empty or leading/trailing '/')"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[domoticz]\nurl = ftp://x\n",
     ":4: url: 'ftp://x' is not an http:// or https:// URL"},
    {"[meter house one]\ndevice = /dev/ttyUSB0\n", ":1: [meter house one]: a meter name is 1..63 of a-z A-Z 0-9 _ -"},
    {"[meter a\ndevice = /dev/ttyUSB0\n", ":1: section header without ']'"},
    {"[meter a]\ndevice = ttyUSB0\n", ":2: device: 'ttyUSB0' is not an absolute path"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nbaud = 2401\n",
     ":3: baud: '2401' is not a standard rate (2400 for HAN, 300..460800)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nbaud =\n", ":3: baud: '' is not a standard rate (2400 for HAN, 300..460800)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nloop = yes\n", ":3: meter a: pace and loop apply to a file source only"},
    {"[meter a]\nfile = /tmp/x\nloop = yes\n", ":3: meter a: loop = yes needs pace"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\npassword = x\n", ":4: password without username"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\ntls = no\ncafile = /etc/ssl/ca.pem\n",
     ":3: [mqtt]: cafile, capath, certfile and keyfile need tls = yes"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[journal]\nreadings = 1 ; once a second\nreadings = 2\n",
     ":5: readings given twice (first at line 4)"},
    {"[meter a]\ndevice = /dev/ttyUSB0\n[daemon]\nlog_level = loud\n",
     ":4: log_level: 'loud' is not err, warning, notice, info or debug"},
    {"[meter a]\ndevice = /dev/ttyUSB0\nprofile = landis\n", NULL /* message lists the profiles: prefix checked */},
};

static void bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char want[HM_CONF_ERR];
		int rc = load(bads[i].text);
		if (rc != -EINVAL)
			fail_msg("case %zu: rc %d, expected -EINVAL (%s)", i, rc, bads[i].text);
		if (!bads[i].message) {
			snprintf(want, sizeof want, "%s:3: profile: 'landis' is not auto or a known meter profile",
			         path);
			assert_int_equal(strncmp(err, want, strlen(want)), 0);
			continue;
		}
		snprintf(want, sizeof want, "%s%s", path, bads[i].message);
		if (strcmp(err, want) != 0)
			fail_msg("case %zu:\n got  '%s'\n want '%s'", i, err, want);
	}
}

/* The protocols block (int1): protocol, mqtt_topic / mqtt_broker, baud and
 * parity = auto.  Expected values are the ones written in each file or the
 * defaults documented in hanmeterd.conf(5). */
static void protocols(void **state)
{
	(void)state;
	const struct hm_meter_conf *m;

	assert_int_equal(load("[meter a]\nmqtt_topic = t/a,t/b\n[mqtt]\nport = 1884\n"), 0);
	m = &conf.meter[0];
	assert_string_equal(m->mqtt_topic, "t/a,t/b");
	assert_string_equal(m->mqtt_host, "127.0.0.1"); /* [mqtt]'s */
	assert_int_equal(m->mqtt_port, 1884);
	assert_true(m->mqtt_same_broker);
	assert_int_equal(m->protocol, HM_PROTO_AUTO);

	assert_int_equal(load("[meter a]\nmqtt_topic = t\nmqtt_broker = 10.0.0.2:1883\n[mqtt]\n"), 0);
	assert_string_equal(conf.meter[0].mqtt_host, "10.0.0.2");
	assert_false(conf.meter[0].mqtt_same_broker);

	assert_int_equal(load("[meter a]\nmqtt_topic = t\n"), 0); /* no [mqtt]: the usual local broker */
	assert_string_equal(conf.meter[0].mqtt_host, "127.0.0.1");
	assert_int_equal(conf.meter[0].mqtt_port, 1883);
	assert_false(conf.meter[0].mqtt_same_broker);

	assert_int_equal(load("[meter a]\nmqtt_topic = t\n[mqtt]\ntls = yes\n"), 0);
	assert_int_equal(conf.meter[0].mqtt_port, 8883); /* [mqtt]'s port follows tls */

	assert_int_equal(load("[meter a]\ndevice = /dev/ttyUSB0\nprotocol = MBUS\nbaud = auto\nparity = auto\n"
	                      "[meter b]\ntcp = 127.0.0.1:1\nprotocol = p1\n"
	                      "[meter c]\ntcp = 127.0.0.1:1\nprotocol = dlms\n"),
	                 0);
	assert_int_equal(conf.meter[2].protocol, HM_PROTO_DLMS);
	assert_int_equal(conf.meter[0].protocol, HM_PROTO_MBUS);
	assert_int_equal(conf.meter[0].baud, 0);
	assert_int_equal(conf.meter[0].parity, HM_PARITY_AUTO);
	assert_int_equal(conf.meter[1].protocol, HM_PROTO_P1);

	static const struct bad bad[] = {
	    {"[meter a]\ndevice = /dev/ttyUSB0\nprotocol = smarty\n",
	     ":3: protocol: 'smarty' is not auto, hdlc, mbus, p1 or dlms"},
	    {"[meter a]\ndevice = /dev/ttyUSB0\nmqtt_broker = 127.0.0.1:1883\n",
	     ":3: meter a: mqtt_broker needs mqtt_topic"},
	    {"[meter a]\nmqtt_topic = a,,b\n", ":2: meter a: mqtt_topic: empty topic or space in 'a,,b'"},
	    {"[meter a]\nmqtt_topic = a\ntcp = 127.0.0.1:1\n",
	     ":3: meter a: tcp and mqtt_topic (line 2) both set; a meter has exactly one source"},
	    {"[meter a]\ndevice = /dev/ttyUSB0\nbaud = auto\nparity = odd\n",
	     ":4: meter a: baud = auto tries even and none parity only"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[HM_CONF_ERR];
		if (load(bad[i].text) != -EINVAL)
			fail_msg("protocols bad case %zu accepted", i);
		snprintf(want, sizeof want, "%s%s", path, bad[i].message);
		if (strcmp(err, want) != 0)
			fail_msg("protocols bad case %zu:\n got  '%s'\n want '%s'", i, err, want);
	}
}

static void permissions(void **state)
{
	(void)state;
	char want[HM_CONF_ERR];
	static const char secret[] = "[meter a]\ndevice = /dev/ttyUSB0\n[mqtt]\nusername = u\npassword = secret\n";

	write_file("[meter a]\ndevice = /dev/ttyUSB0\n", 0666);
	assert_int_equal(hm_config_load(&conf, path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s: writable by anyone (mode 666): refused; chmod o-w", path);
	assert_string_equal(err, want);

	write_file(secret, 0644);
	assert_int_equal(hm_config_load(&conf, path, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s: holds a password or key and is readable by anyone (mode 644); chmod o-r",
	         path);
	assert_string_equal(conf.warning, want);

	write_file(secret, 0640);
	assert_int_equal(hm_config_load(&conf, path, err, sizeof err), 0);
	assert_string_equal(conf.warning, "");

	write_file("[meter a]\ndevice = /dev/ttyUSB0\n", 0644); /* no secret: no warning */
	assert_int_equal(hm_config_load(&conf, path, err, sizeof err), 0);
	assert_string_equal(conf.warning, "");

	char missing[300];
	snprintf(missing, sizeof missing, "%s/none.conf", dir);
	assert_int_equal(hm_config_load(&conf, missing, err, sizeof err), -ENOENT);
	snprintf(want, sizeof want, "%s: No such file or directory", missing);
	assert_string_equal(err, want);
}

/* A NUL byte (a binary file given by mistake) is an error on its line, and
 * line numbers stay right however long the NUL-filled line is. */
static void nul_byte(void **state)
{
	(void)state;
	static const char text[] = "[meter a]\ndevice = /dev/ttyUSB0\nba\0ud = 1\n";
	char want[HM_CONF_ERR];
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(hm_config_load(&conf, path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:3: NUL byte in the line: not a text file?", path);
	assert_string_equal(err, want);
}

/* Every key of the table: its default parses (a bad default would leave the
 * field zero: caught through the values above), and it is documented in
 * etc/hanmeterd.conf and man/hanmeterd.conf.5 of the source tree. */
static char example_text[64 * 1024], man_text[64 * 1024];

static char *slurp(const char *rel, char *buf, size_t cap)
{
	char p[512];
	const char *src = getenv("HM_SRCDIR");
	snprintf(p, sizeof p, "%s/%s", src ? src : ".", rel);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void keys_documented(void **state)
{
	(void)state;
	char *example = slurp("etc/hanmeterd.conf", example_text, sizeof example_text),
	     *man = slurp("man/hanmeterd.conf.5", man_text, sizeof man_text);
	const char *sec, *name, *def;
	unsigned n = 0;
	assert_non_null(example);
	assert_non_null(man);
	for (unsigned i = 0; hm_config_key(i, &sec, &name, &def) == 0; i++, n++) {
		char pat[128];
		/* etc: "name = " or "#name = " at a line start, after its section header */
		char hdr[64];
		snprintf(hdr, sizeof hdr, strcmp(sec, "meter") == 0 ? "[meter " : "[%s]", sec);
		const char *at = strstr(example, hdr);
		if (!at)
			fail_msg("etc/hanmeterd.conf has no section %s", hdr);
		snprintf(pat, sizeof pat, "\n#%s =", name);
		const char *k1 = strstr(at, pat);
		snprintf(pat, sizeof pat, "\n%s =", name);
		const char *k2 = strstr(at, pat);
		if (!k1 && !k2)
			fail_msg("etc/hanmeterd.conf does not document [%s] %s", sec, name);
		/* man: the key as a tagged paragraph ".B name" */
		snprintf(pat, sizeof pat, "\n.B %s\n", name);
		if (!strstr(man, pat))
			fail_msg("man/hanmeterd.conf.5 does not document %s (.B %s)", name, name);
	}
	assert_true(n > 40);
	assert_int_equal(hm_config_key(n, &sec, &name, &def), -ENOENT);
}

/* The shipped example is a valid configuration. */
static void example_parses(void **state)
{
	(void)state;
	char p[512];
	const char *src = getenv("HM_SRCDIR");
	snprintf(p, sizeof p, "%s/etc/hanmeterd.conf", src ? src : ".");
	int rc = hm_config_load(&conf, p, err, sizeof err);
	if (rc != 0)
		fail_msg("%s", err);
	assert_true(conf.n_meters >= 1);
}

/* Meters are allocated as sections come (the old fixed table held 16): a
 * block of 10,000 ser2net streams loads, every meter keeps its own values,
 * and errors still name the right line far down the file. */
static void many_meters(void **state)
{
	(void)state;
	enum { N = 10000, LINES = 3 }; /* header, tcp, blank */
	size_t cap = (size_t)N * 64 + 64;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t n = 0;
	for (unsigned i = 0; i < N; i++)
		n += (size_t)snprintf(text + n, cap - n, "[meter m%u]\ntcp = 127.0.0.1:%u\n\n", i, 10000 + i);
	assert_int_equal(load(text), 0);
	assert_int_equal(conf.n_meters, N);
	for (unsigned i = 0; i < N; i += 997) {
		char name[16];
		snprintf(name, sizeof name, "m%u", i);
		const struct hm_meter_conf *m = hm_config_meter(&conf, name);
		assert_non_null(m);
		assert_ptr_equal(m, &conf.meter[i]);
		assert_int_equal(m->tcp_port, 10000 + i);
		assert_int_equal(m->line, 1 + LINES * (int)i);
		assert_int_equal(m->idle_timeout_s, 60); /* defaults set per meter */
	}
	/* the last meter repeats the first one's name: line N*LINES+1 */
	snprintf(text + n, cap - n, "[meter m0]\ntcp = 127.0.0.1:1\n");
	assert_int_equal(load(text), -EINVAL);
	char want[HM_CONF_ERR];
	snprintf(want, sizeof want, "%s:%d: duplicate section [meter m0] (first at line 1)", path, N * LINES + 1);
	assert_string_equal(err, want);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(many_meters),     cmocka_unit_test(good_full),      cmocka_unit_test(good_defaults),
	    cmocka_unit_test(mqtt_defaults),   cmocka_unit_test(bad_files),      cmocka_unit_test(permissions),
	    cmocka_unit_test(keys_documented), cmocka_unit_test(example_parses), cmocka_unit_test(nul_byte),
	    cmocka_unit_test(capacity_steps),  cmocka_unit_test(protocols),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
