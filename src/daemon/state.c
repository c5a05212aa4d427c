/*
 * state.c - the per-meter state file of the derived figures (state.h).
 *
 * The classic atomic replace (as rename(2) in POSIX promises, and as ext4
 * and the other Linux file systems order it once fsync has returned):
 *
 *   1. write DIR/.METER.derived.tmp (O_TRUNC: a left-over from a crash is
 *      simply overwritten), fsync it, close it;
 *   2. rename it over DIR/METER.derived: readers see old or new, nothing else;
 *   3. fsync DIR, so the rename itself survives a power cut.
 *
 * The file's own CRC trailer (derived.c) catches what this cannot: a disk
 * or an editor that damaged it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "common/fdio.h"

#define SUFFIX     ".derived"
#define TMP_SUFFIX ".derived.tmp"
#define BAD_SUFFIX ".derived.corrupt"
#define STATE_MODE 0644 /* energy figures: not secret, like /var/lib/dpkg */

static int build(char *buf, size_t cap, const char *dir, const char *pre, const char *meter, const char *suffix)
{
	if (!meter[0] || strchr(meter, '/') || strcmp(meter, ".") == 0 || strcmp(meter, "..") == 0)
		return -EINVAL;
	int n = snprintf(buf, cap, "%s/%s%s%s", dir, pre, meter, suffix);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int hm_state_path(char *buf, size_t cap, const char *dir, const char *meter)
{
	return build(buf, cap, dir, "", meter, SUFFIX);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* The state file's name and its temporary twin (PATH_MAX each); 0 or -errno, logged. */
static int paths(const char *dir, const char *meter, char *path, char *tmp)
{
	int rc = build(path, PATH_MAX, dir, "", meter, SUFFIX);
	if (rc == 0)
		rc = build(tmp, PATH_MAX, dir, ".", meter, TMP_SUFFIX);
	if (rc < 0)
		hm_log_meter(LOG_ERR, meter, "state: no file name in %s: %s", dir, strerror(-rc));
	return rc;
}

int hm_state_save(const char *dir, const char *meter, const struct hm_derived *d)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[HM_DERIVED_TEXT_MAX];
	int rc = paths(dir, meter, path, tmp);
	if (rc < 0)
		return rc;
	int n = hm_derived_save(d, text, sizeof text);
	if (n < 0) { /* HM_DERIVED_TEXT_MAX is sized for the longest: our bug */
		hm_log_meter(LOG_ERR, meter, "state: text longer than %zu bytes", sizeof text);
		return -ENOSPC;
	}

	const char *step = "open", *what = tmp;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, STATE_MODE);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	step = "write";
	rc = hm_write_all(fd, text, (size_t)n);
	if (rc == 0 && fsync(fd) < 0) {
		step = "fsync";
		rc = -errno;
	}
	if (close(fd) < 0 && rc == 0) {
		step = "close";
		rc = -errno;
	}
	if (rc < 0) {
		unlink(tmp);
		goto fail;
	}
	step = "rename";
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		goto fail;
	}
	step = "fsync";
	what = dir;
	rc = fsync_dir(dir);
	if (rc < 0) /* the new file is in place; only its durability is in doubt */
		goto fail;
	return 0;
fail:
	hm_log_meter(LOG_ERR, meter, "state: %s %s: %s", step, what, strerror(-rc));
	return rc;
}

/* Moves a refused file aside so that the next save does not destroy the
 * evidence, and so that it is not refused again at every start. */
static void move_aside(const char *dir, const char *meter, const char *path)
{
	char bad[PATH_MAX];
	if (build(bad, sizeof bad, dir, "", meter, BAD_SUFFIX) < 0 || rename(path, bad) < 0)
		hm_log_meter(LOG_WARNING, meter, "state: cannot move %s aside: %s", path, strerror(errno));
	else
		hm_log_meter(LOG_WARNING, meter, "state: kept as %s", bad);
}

int hm_state_load(const char *dir, const char *meter, struct hm_derived *d)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	char text[HM_DERIVED_TEXT_MAX + 1]; /* one more: longer than any state is refused */
	int rc = paths(dir, meter, path, tmp);
	if (rc < 0)
		return rc;
	unlink(tmp); /* a save that was killed before its rename */

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			hm_log_meter(LOG_ERR, meter, "state: open %s: %s; starting empty", path, strerror(-rc));
		return rc;
	}
	size_t n = 0;
	while (n < sizeof text) {
		ssize_t r = read(fd, text + n, sizeof text - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			close(fd);
			hm_log_meter(LOG_ERR, meter, "state: read %s: %s; starting empty", path, strerror(-rc));
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	rc = n > HM_DERIVED_TEXT_MAX ? -EINVAL : hm_derived_load(d, text, n);
	if (rc < 0) {
		hm_log_meter(LOG_WARNING, meter, "state: %s is %s (%zu bytes); starting empty", path,
		             rc == -ENOTSUP ? "of another version" : "corrupt or truncated", n);
		move_aside(dir, meter, path);
		return rc;
	}
	hm_log_meter(LOG_INFO, meter, "state: loaded %s", path);
	return 0;
}
