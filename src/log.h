/* log: the one place qextfs writes diagnostics. stderr in the foreground, syslog otherwise.
 * Nothing that reaches here may contain a secret: callers never pass headers or keys. */
#ifndef QEXTFS_LOG_H
#define QEXTFS_LOG_H

#include <stdbool.h>

enum log_level { QLOG_ERR, QLOG_WARN, QLOG_INFO, QLOG_DEBUG };

/* use_syslog: send to syslog (daemon mode); debug: also print QLOG_DEBUG lines. */
void log_init(const char *ident, bool use_syslog, bool debug);
bool log_debug_enabled(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(QLOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(QLOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(QLOG_INFO, __VA_ARGS__)
#define log_dbg(...)                                                                               \
    do {                                                                                           \
        if (log_debug_enabled())                                                                   \
            log_msg(QLOG_DEBUG, __VA_ARGS__);                                                      \
    } while (0)

#endif
