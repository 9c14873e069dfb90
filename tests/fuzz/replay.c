/* replay: owns running a fuzz target without libFuzzer. Linked with one fuzz_<target>.c
 * (FUZZ_TARGET names it), it feeds every regular file of each directory given on the command
 * line to LLVMFuzzerTestOneInput, in name order, each in a buffer of exactly its size so
 * AddressSanitizer sees any read past the end. Prints TAP, one line per directory:
 *   ok 1 - fuzz_archive: 57 corpus files
 * A sanitizer report, an abort (FUZZ_CHECK), a leak (checked after every file when LeakSanitizer
 * is linked in) or an input running longer than FUZZ_REPLAY_TIMEOUT seconds (default 60) prints
 * "not ok" naming the file; the exit status is then non-zero. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_TARGET
#define FUZZ_TARGET "fuzz"
#endif

/* From the sanitizer runtimes when linked in (weak: the driver also links without them). */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* UBSan ends the process without the death callback: make it abort, so on_signal reports. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1:abort_on_error=1";
}

/* The line printed when the current input kills the process, formatted before each run so
 * the signal handler and the sanitizer's death callback only write(2) it. */
static char crash_line[1024];
static size_t crash_len;
static char timeout_line[1024];
static size_t timeout_len;

static volatile sig_atomic_t died;

static void on_death(void)
{
    if (died++) /* an abort after a sanitizer report: one line is enough */
        return;
    if (write(STDOUT_FILENO, crash_line, crash_len) < 0)
        return;
}

static void on_signal(int sig)
{
    on_death();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_alarm(int sig)
{
    (void)sig;
    if (write(STDOUT_FILENO, timeout_line, timeout_len) < 0)
        _exit(3);
    _exit(3);
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    size_t off = 0;
    uint8_t *buf;

    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    while (buf && off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

        if (n <= 0) {
            free(buf);
            buf = NULL;
        } else {
            off += (size_t)n;
        }
    }
    close(fd);
    if (!buf)
        return -EIO;
    *out = buf;
    *size = off;
    return 0;
}

/* A leak was reported: the exit-time leak check would report it again. */
static bool leaked;

static int is_input(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

/* Runs every file of dir; returns the number of files, or -1 after printing "not ok". */
static int replay_dir(int num, const char *dir, unsigned timeout)
{
    struct dirent **list;
    bool leak_checks = __lsan_do_recoverable_leak_check != NULL;
    int n = scandir(dir, &list, is_input, alphasort), files = 0, failed = 0;

    if (n < 0) {
        printf("not ok %d - %s: cannot read %s: %s\n", num, FUZZ_TARGET, dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        uint8_t *data;
        size_t size;
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        free(list[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (read_file(path, &data, &size) != 0) {
            printf("# %s: cannot read %s\n", FUZZ_TARGET, path);
            failed++;
            continue;
        }
        crash_len = (size_t)snprintf(crash_line, sizeof(crash_line),
                                     "not ok %d - %s: crashed on %s\n", num, FUZZ_TARGET, path);
        timeout_len = (size_t)snprintf(timeout_line, sizeof(timeout_line),
                                       "not ok %d - %s: %s ran longer than %u s\n", num,
                                       FUZZ_TARGET, path, timeout);
        crash_len = crash_len < sizeof(crash_line) ? crash_len : sizeof(crash_line) - 1;
        timeout_len = timeout_len < sizeof(timeout_line) ? timeout_len : sizeof(timeout_line) - 1;
        fflush(stdout);
        alarm(timeout);
        LLVMFuzzerTestOneInput(data, size);
        alarm(0);
        crash_len = (size_t)snprintf(crash_line, sizeof(crash_line),
                                     "not ok %d - %s: died between inputs\n", num, FUZZ_TARGET);
        free(data);
        files++;
        if (leak_checks && __lsan_do_recoverable_leak_check()) {
            printf("# %s: leak after %s\n", FUZZ_TARGET, path);
            failed++;
            leaked = true;
            leak_checks = false; /* the same blocks would be reported again for later files */
        }
    }
    free(list);
    if (failed) {
        printf("not ok %d - %s: %d of %d corpus files failed\n", num, FUZZ_TARGET, failed, files);
        return -1;
    }
    printf("ok %d - %s: %d corpus files\n", num, FUZZ_TARGET, files);
    return files;
}

int main(int argc, char **argv)
{
    const char *t = getenv("FUZZ_REPLAY_TIMEOUT");
    unsigned timeout = t && atoi(t) > 0 ? (unsigned)atoi(t) : 60;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(on_death);
    signal(SIGABRT, on_signal);
    signal(SIGALRM, on_alarm);
    printf("1..%d\n", argc - 1);
    for (int i = 1; i < argc; i++)
        if (replay_dir(i, argv[i], timeout) < 0)
            rc = 1;
    fflush(stdout);
    if (leaked)
        _exit(rc);
    return rc;
}
