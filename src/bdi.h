/* bdi: the kernel's per-mount "backing device" settings that libfuse has no call for. The
 * kernel starts every FUSE mount with 128 KiB of read-ahead whatever max_readahead the
 * filesystem asks for, so a sequential cat costs a request per 128 KiB; raising
 * /sys/class/bdi/MAJ:MIN/read_ahead_kb lets one request carry up to a MiB. */
#ifndef QEXTFS_BDI_H
#define QEXTFS_BDI_H

#include <stddef.h>

/* Sets the read-ahead of the mount at mountpoint (an absolute path, as it appears in
 * /proc/self/mountinfo) to kb KiB. Needs no request to the filesystem itself, so it is safe
 * from the FUSE init callback. Returns 0 or -errno (-ENOENT when the mount is not found,
 * -EACCES when not root). */
int bdi_set_read_ahead(const char *mountpoint, unsigned kb);

/* The device "MAJ:MIN" of the mount at mountpoint from a mountinfo text; 0 or -ENOENT.
 * Separate for the unit tests. */
int bdi_find_device(const char *mountinfo, const char *mountpoint, char *dev, size_t devsz);

#endif
