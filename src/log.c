/* log: owns the process-wide log sink (stderr or syslog) and the debug switch.
 * These two settings are the only process-wide state outside the FUSE context: they are
 * set once at start-up, before any thread exists, and only read afterwards. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static bool log_to_syslog;
static bool log_debug;

void log_init(const char *ident, bool use_syslog, bool debug)
{
    log_to_syslog = use_syslog;
    log_debug = debug;
    if (use_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

bool log_debug_enabled(void)
{
    return log_debug;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    static const char *const tag[] = {"error", "warning", "info", "debug"};
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    if (log_to_syslog) {
        syslog(prio[level], "%s", line);
        /* Errors go to stderr too: before fuse_daemonize it is still the user's terminal
         * (a refused start-up says why there), after it /dev/null. */
        if (level != QLOG_ERR)
            return;
    }
    /* One fprintf per line so lines from different threads do not interleave. */
    fprintf(stderr, "qextfs: %s: %s\n", tag[level], line);
}
