/*
 * state.h - the derived figures of each meter kept across restarts, one
 * small text file per meter under the state directory (systemd's
 * StateDirectory=, i.e. $STATE_DIRECTORY, or [daemon] state_dir).
 *
 * Saving is crash-safe: the text goes to a temporary file in the same
 * directory, which is fsync'ed and renamed over the old file, and then the
 * directory is fsync'ed.  kill -9 (or a power cut after the rename reached
 * the disk) at any moment leaves the old file or the new one, never a mix.
 * A file that is corrupt, truncated or from another version is refused by
 * its checksum trailer (hm_derived_load), logged, moved aside to
 * NAME.derived.corrupt for inspection, and the meter starts empty.
 */
#ifndef HANMETERD_STATE_H
#define HANMETERD_STATE_H

#include <stddef.h>

#include "hanmeter/derived.h"

/* "<dir>/<meter>.derived" into buf; 0, -EINVAL (a meter name that is no
 * plain file name) or -ENAMETOOLONG. */
int hm_state_path(char *buf, size_t cap, const char *dir, const char *meter);

/* Writes d's state for meter atomically.  0 or -errno (logged). */
int hm_state_save(const char *dir, const char *meter, const struct hm_derived *d);

/* Reads meter's state into d (whose configuration is kept).  0; -ENOENT if
 * there is none yet (d unchanged, not logged); any other -errno (logged,
 * d unchanged): the caller goes on with the state it has, normally empty.
 * A corrupt file is moved aside (-EINVAL, or -ENOTSUP for another version). */
int hm_state_load(const char *dir, const char *meter, struct hm_derived *d);

#endif
