/* A clock for a test redis-server, loaded with LD_PRELOAD: wall-clock time (what TIME answers
 * and scripts read) starts at QG_CLOCK_START_MS and runs QG_CLOCK_RATE times as fast as the
 * machine's, from the moment the server first asks. So a test reaches a minute boundary in
 * seconds instead of waiting for one. A rate of 0 stops the clock, which scripts/script-costs
 * uses so that a call's decision instant stays Redis time however slowly callgrind runs it.
 *
 * The real time is read with the raw system call, never through dlsym: the allocator asks
 * for the time before the dynamic loader could answer dlsym (that is what keeps libfaketime
 * from starting Debian's redis-server), and getenv allocates nothing. Monotonic clocks are
 * left alone, so timeouts inside the server keep their real lengths. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long start_ms = -1; /* the fake time at the anchor */
static long long anchor_ms;     /* the real time when the server first asked */
static long long rate = 1;

static long long real_ms_plus(struct timespec *ts) {
    syscall(SYS_clock_gettime, CLOCK_REALTIME, ts);
    return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* The fake wall-clock time in nanoseconds since the epoch. */
static long long fake_ns(void) {
    struct timespec ts;
    long long real_ms = real_ms_plus(&ts);
    long long real_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (start_ms < 0) {
        const char *start = getenv("QG_CLOCK_START_MS");
        const char *r = getenv("QG_CLOCK_RATE");
        if (!start) {
            return real_ns;
        }
        start_ms = atoll(start);
        rate = r ? atoll(r) : 1;
        if (rate < 0) {
            rate = 0;
        }
        anchor_ms = real_ms;
    }
    long long anchor_ns = anchor_ms * 1000000LL;
    return start_ms * 1000000LL + (real_ns - anchor_ns) * rate;
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
