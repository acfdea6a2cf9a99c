/* A clock for a test redis-server, loaded with LD_PRELOAD: wall-clock time (what TIME answers
 * and scripts read) starts at QG_CLOCK_START_MS and runs QG_CLOCK_RATE times as fast as the
 * machine's, from the moment the server first asks. So a test reaches a minute boundary in
 * seconds instead of waiting for one. A rate of 0 stops the clock, which scripts/script-costs
 * uses so that a call's decision instant stays Redis time however slowly callgrind runs it.
 *
 * A test steps the clock: with QG_CLOCK_STEP_FILE, the file's first 8 bytes (a little-endian
 * count of milliseconds the test writes, tests/it/support/redis.rs's `Stepped`) are mapped
 * into the server and added to every reading, so a test moves Redis's time past a TTL or a
 * window at once instead of sleeping until it passes. Several servers (a cluster's) can share
 * one file, and so one clock.
 *
 * The real time is read with the raw system call, never through dlsym: the allocator asks
 * for the time before the dynamic loader could answer dlsym (that is what keeps libfaketime
 * from starting Debian's redis-server), and getenv allocates nothing. Monotonic clocks are
 * left alone, so timeouts inside the server keep their real lengths. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int ready = 0;
static long long start_ms = -1; /* the fake time at the anchor, -1 for the real time */
static long long anchor_ms;     /* the real time when the server first asked */
static long long rate = 1;
static volatile long long *step_ms = 0; /* the test's step, mapped from its file */

static long long real_ms_plus(struct timespec *ts) {
    syscall(SYS_clock_gettime, CLOCK_REALTIME, ts);
    return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* Reads the settings once, at the server's first reading of the time. */
static void setup(long long real_ms) {
    const char *start = getenv("QG_CLOCK_START_MS");
    const char *r = getenv("QG_CLOCK_RATE");
    const char *file = getenv("QG_CLOCK_STEP_FILE");
    if (start) {
        start_ms = atoll(start);
        rate = r ? atoll(r) : 1;
        if (rate < 0) {
            rate = 0;
        }
        anchor_ms = real_ms;
    }
    if (file) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_RDONLY);
        if (fd >= 0) {
            void *at = mmap(0, sizeof(long long), PROT_READ, MAP_SHARED, fd, 0);
            if (at != MAP_FAILED) {
                step_ms = (volatile long long *)at;
            }
            syscall(SYS_close, fd);
        }
    }
    ready = 1;
}

/* The fake wall-clock time in nanoseconds since the epoch. */
static long long fake_ns(void) {
    struct timespec ts;
    long long real_ms = real_ms_plus(&ts);
    long long real_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (!ready) {
        setup(real_ms);
    }
    long long ns = real_ns;
    if (start_ms >= 0) {
        ns = start_ms * 1000000LL + (real_ns - anchor_ms * 1000000LL) * rate;
    }
    if (step_ms) {
        ns += *step_ms * 1000000LL;
    }
    return ns;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (clock != CLOCK_REALTIME && clock != CLOCK_REALTIME_COARSE) {
        return (int)syscall(SYS_clock_gettime, clock, ts);
    }
    long long ns = fake_ns();
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    if (tv) {
        long long ns = fake_ns();
        tv->tv_sec = ns / 1000000000LL;
        tv->tv_usec = (ns % 1000000000LL) / 1000;
    }
    return 0;
}

time_t time(time_t *out) {
    time_t t = (time_t)(fake_ns() / 1000000000LL);
    if (out) {
        *out = t;
    }
    return t;
}
