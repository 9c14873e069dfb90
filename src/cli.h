/* cli: the subcommands beside mounting: `qextfs status MNT`, `qextfs umount MNT` and
 * `qextfs trash ls|restore`. They talk to a running mount through the root's extended
 * attributes and to the staging area on disk; only `trash restore` talks to the service. */
#ifndef QEXTFS_CLI_H
#define QEXTFS_CLI_H

#include <stdbool.h>

/* True when argv[1] names a subcommand. */
bool cli_is_subcommand(int argc, char *argv[]);
/* Runs it; returns the process exit status. */
int cli_run(int argc, char *argv[]);

#endif
