/* status: what the mount tells about itself through extended attributes on its root
 * (user.qextfs.status: a JSON document; user.qextfs.pid; user.qextfs.state_dir), so that
 * `qextfs status` and `qextfs umount` need no extra files in the tree. */
#ifndef QEXTFS_STATUS_H
#define QEXTFS_STATUS_H

#include "qextfs.h"

#include <stddef.h>

/* getxattr/listxattr for the root directory; same conventions as tenant_getxattr. */
int status_getxattr(struct qfs *q, const char *name, char *buf, size_t size);
int status_listxattr(struct qfs *q, char *buf, size_t size);

/* The status document, malloc'd compact JSON; NULL on ENOMEM. */
char *status_json(struct qfs *q);

#endif
