/*
 * fdio.h - small file-descriptor helpers shared by the programs.
 */
#ifndef HM_COMMON_FDIO_H
#define HM_COMMON_FDIO_H

#include <stddef.h>

/* Writes all n bytes to fd: retries after EINTR and short writes, and on a
 * non-blocking fd waits for POLLOUT after EAGAIN.  0, or -errno (-EIO if
 * write() returned 0). */
int hm_write_all(int fd, const void *p, size_t n);

#endif
