/* md5: the archive checksum the service reports (hex MD5 of the archive bytes). A local
 * implementation because the fake links nothing that provides one. */
#ifndef FT_MD5_H
#define FT_MD5_H

#include <stddef.h>

/* Writes 32 lowercase hex digits and a NUL into hex[33]. */
void md5_hex(const void *data, size_t len, char hex[33]);

#endif
