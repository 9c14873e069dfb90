/* fs_ops: the FUSE high-level operations table. Thin by design: each operation takes the
 * context from fuse_get_context() and forwards to node.c. */
#ifndef QEXTFS_FS_OPS_H
#define QEXTFS_FS_OPS_H

#include <fuse.h>

extern const struct fuse_operations fs_ops;

#endif
