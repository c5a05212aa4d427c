/*
 * serial.h - opening a meter's serial port, shared by hanmeterd and hanmeter.
 *
 * Real adapters (ttyUSB, ttyACM, ttyAMA, /dev/serial/by-id/...) are opened
 * with libserialport; pseudo-terminals (socat links, the simulator, tests),
 * which libserialport 0.1.1 refuses, with plain termios.  Either way the
 * result is a non-blocking fd in raw mode, 8 data bits, 1 stop bit (2 with
 * stop_bits = 2, as the KMP optical eye wants), the given baud and parity
 * (a pty has no line: parity and stop bits are not set on it).
 */
#ifndef HM_COMMON_SERIAL_H
#define HM_COMMON_SERIAL_H

#include <stddef.h>

enum hm_serial_parity { HM_SERIAL_PARITY_NONE, HM_SERIAL_PARITY_EVEN, HM_SERIAL_PARITY_ODD };

struct hm_serial; /* an open port: the fd plus what must be freed with it */

/* Opens path.  Returns the port (and *fd), or NULL with err set and errno. */
struct hm_serial *hm_serial_open(const char *path, unsigned baud, enum hm_serial_parity parity, unsigned stop_bits,
                                 int *fd, char *err, size_t errlen);
void hm_serial_close(struct hm_serial *s);

/* Prints the serial adapters (port, description, USB vendor:product, serial
 * number, /dev/serial/by-id link) to stdout; returns how many. */
int hm_serial_list(void);

#endif
