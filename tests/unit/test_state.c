/*
 * test_state.c - the per-meter state file: round trip, refusal of corrupt,
 * truncated, oversized and foreign files (moved aside, state untouched),
 * file names, and atomicity under SIGKILL: a child saving two states in
 * turn is killed at random moments; every load afterwards must give one of
 * the two, never garbage and never nothing.
 *
 * SYNTHETIC states, built by feeding made-up hourly samples.  Runs in a
 * fresh directory under $TMPDIR (or /tmp), removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hanmeter/derived.h"
#include "state.h"

static char dir[256];

/* A state after `hours` hourly samples of 1.000 + i/1000 kWh from 2026-10-20 00:00. */
static void make_state(struct hm_derived *d, int hours)
{
	char t[32];
	int64_t reg = 1000000;
	hm_derived_init(d);
	for (int i = 0; i <= hours; i++) {
		snprintf(t, sizeof t, "2026-10-%02dT%02d:00:10", 20 + i / 24, i % 24);
		struct hm_num imp = {reg, -3}, exp = {i, -3};
		hm_derived_feed(d, t, imp, &exp, "7359992895913195");
		reg += 1000 + i;
	}
}

static void text_of(const struct hm_derived *d, char *buf)
{
	assert_true(hm_derived_save(d, buf, HM_DERIVED_TEXT_MAX) > 0);
}

static void write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test_state.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	DIR *dp = opendir(dir);
	struct dirent *e;
	char p[512];
	while (dp && (e = readdir(dp))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	if (dp)
		closedir(dp);
	return rmdir(dir);
}

static void round_trip(void **state)
{
	(void)state;
	static char a[HM_DERIVED_TEXT_MAX], b[HM_DERIVED_TEXT_MAX], path[512];
	struct hm_derived d, e;
	make_state(&d, 60);
	assert_true(d.have_last && d.hours_yesterday > 0);
	assert_int_equal(hm_state_save(dir, "house", &d), 0);
	assert_int_equal(hm_state_path(path, sizeof path, dir, "house"), 0);
	assert_true(exists(path));
	hm_derived_init(&e);
	assert_int_equal(hm_state_load(dir, "house", &e), 0);
	text_of(&d, a);
	text_of(&e, b);
	assert_string_equal(a, b);
	assert_int_equal(e.last.import_mwh, d.last.import_mwh);
	/* saved again with more hours: the newer wins */
	make_state(&d, 70);
	assert_int_equal(hm_state_save(dir, "house", &d), 0);
	assert_int_equal(hm_state_load(dir, "house", &e), 0);
	text_of(&d, a);
	text_of(&e, b);
	assert_string_equal(a, b);
	/* no temporary file is left behind */
	snprintf(path, sizeof path, "%s/.house.derived.tmp", dir);
	assert_false(exists(path));
	struct stat st;
	assert_int_equal(hm_state_path(path, sizeof path, dir, "house"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void missing(void **state)
{
	(void)state;
	struct hm_derived d, keep;
	hm_derived_init(&d);
	memcpy(&keep, &d, sizeof d);
	assert_int_equal(hm_state_load(dir, "nosuchmeter", &d), -ENOENT);
	assert_int_equal(memcmp(&d, &keep, sizeof d), 0);
}

/* Writes data as the meter's file, loads, expects err, the file moved
 * aside with the same bytes, and d untouched. */
static void refused(const char *meter, const char *data, size_t n, int err)
{
	static char path[512], bad[600], back[8192];
	struct hm_derived d, keep;
	assert_int_equal(hm_state_path(path, sizeof path, dir, meter), 0);
	snprintf(bad, sizeof bad, "%s.corrupt", path);
	write_file(path, data, n);
	make_state(&d, 5);
	memcpy(&keep, &d, sizeof d);
	assert_int_equal(hm_state_load(dir, meter, &d), err);
	assert_int_equal(memcmp(&d, &keep, sizeof d), 0);
	assert_false(exists(path));
	FILE *f = fopen(bad, "r");
	assert_non_null(f);
	size_t got = fread(back, 1, sizeof back, f);
	fclose(f);
	assert_int_equal(got, n);
	assert_memory_equal(back, data, n);
	/* the next start finds no file and is quiet about it */
	assert_int_equal(hm_state_load(dir, meter, &d), -ENOENT);
}

static void corrupt_files(void **state)
{
	(void)state;
	static char text[HM_DERIVED_TEXT_MAX], big[HM_DERIVED_TEXT_MAX + 100];
	struct hm_derived d;
	make_state(&d, 30);
	text_of(&d, text);
	size_t n = strlen(text);
	refused("half", text, n / 2, -EINVAL);  /* truncated */
	refused("short", text, n - 1, -EINVAL); /* the last LF missing */
	refused("empty", "", 0, -EINVAL);       /* created, never written */
	refused("garbage",
	        "\x7f"
	        "ELF\x02\x01\x01",
	        7, -EINVAL);
	refused("version", "hanmeter-derived 9\n", 19, -ENOTSUP);
	text[n / 3] ^= 0x04; /* one bit flipped */
	refused("flipped", text, n, -EINVAL);
	memset(big, 'x', sizeof big);
	memcpy(big, "hanmeter-derived 1\n", 19);
	refused("big", big, sizeof big, -EINVAL); /* longer than any state */
}

static void names(void **state)
{
	(void)state;
	char p[64];
	struct hm_derived d;
	hm_derived_init(&d);
	assert_int_equal(hm_state_save(dir, "../evil", &d), -EINVAL);
	assert_int_equal(hm_state_save(dir, "", &d), -EINVAL);
	assert_int_equal(hm_state_save(dir, "..", &d), -EINVAL);
	assert_int_equal(hm_state_load(dir, "a/b", &d), -EINVAL);
	assert_int_equal(hm_state_path(p, sizeof p, "/var/lib/hanmeterd", "house"), 0);
	assert_string_equal(p, "/var/lib/hanmeterd/house.derived");
	assert_int_equal(hm_state_path(p, 20, "/var/lib/hanmeterd", "house"), -ENAMETOOLONG);
	char nodir[600];
	snprintf(nodir, sizeof nodir, "%s/missing", dir);
	assert_int_equal(hm_state_save(nodir, "house", &d), -ENOENT);
	/* a left-over temporary file from a killed save is removed at load */
	snprintf(p, sizeof p, "%.40s/.left.derived.tmp", dir);
	if (strlen(dir) <= 40) {
		write_file(p, "partial", 7);
		assert_int_equal(hm_state_load(dir, "left", &d), -ENOENT);
		assert_false(exists(p));
	}
}

/* SIGKILL during saves, many times: the file is always one whole state. */
static void killed_mid_save(void **state)
{
	(void)state;
	static char ta[HM_DERIVED_TEXT_MAX], tb[HM_DERIVED_TEXT_MAX], got[HM_DERIVED_TEXT_MAX];
	static struct hm_derived a, b, d;
	make_state(&a, 40);
	make_state(&b, 47);
	text_of(&a, ta);
	text_of(&b, tb);
	assert_string_not_equal(ta, tb);
	assert_int_equal(hm_state_save(dir, "kill", &a), 0);

	enum { ROUNDS = 150 };
	unsigned seen_a = 0, seen_b = 0, saves_before_kill = 0;
	uint32_t x = 12345;
	for (int round = 0; round < ROUNDS; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			(void)!write(pfd[1], "r", 1); /* running */
			close(pfd[1]);
			for (unsigned i = 0;; i++)
				if (hm_state_save(dir, "kill", i % 2 ? &a : &b) < 0)
					_exit(3);
		}
		close(pfd[1]);
		char c;
		assert_int_equal(read(pfd[0], &c, 1), 1);
		close(pfd[0]);
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		struct timespec ts = {0, (long)(x % 40000) * 1000}; /* 0-40 ms: a save takes some ms (fsync) */
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* never failed on its own */
		saves_before_kill++;

		hm_derived_init(&d);
		int rc = hm_state_load(dir, "kill", &d);
		if (rc != 0)
			fail_msg("round %d: load gave %d", round, rc);
		text_of(&d, got);
		if (strcmp(got, ta) == 0)
			seen_a++;
		else if (strcmp(got, tb) == 0)
			seen_b++;
		else
			fail_msg("round %d: neither state", round);
	}
	print_message("killed %u times: %u loads gave state A, %u state B\n", saves_before_kill, seen_a, seen_b);
	assert_int_equal(seen_a + seen_b, ROUNDS);
	/* The kill landed at different points: both states were seen. */
	assert_true(seen_a > 0 && seen_b > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip), cmocka_unit_test(missing),         cmocka_unit_test(corrupt_files),
	    cmocka_unit_test(names),      cmocka_unit_test(killed_mid_save),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
