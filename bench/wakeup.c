/* wakeup: what one thread waking another costs on this machine (issue #4).
 *
 * Two threads pass a token back and forth through two eventfds, each
 * blocking in read() until the other writes: every pass is one wake-up of a
 * sleeping thread, the step every hand-off in engage pays (a request to the
 * writer, a commit to the completer, a resume to an HTTP thread, an answer
 * to the client). Run once with the threads pinned to two different CPUs
 * and once with both on the first CPU, it prints the wall time and the CPU
 * time (both threads, CLOCK_PROCESS_CPUTIME_ID) per wake-up.
 *
 *   cc -O2 -o wakeup bench/wakeup.c -lpthread
 *   wakeup [PASSES]   ->  "cross wall_us=W cpu_us=C" and "same wall_us=W cpu_us=C"
 *
 * On a virtual machine a wake-up across CPUs can cost far more than on one:
 * the sleeping CPU has halted and is woken by an inter-processor interrupt,
 * which the hypervisor delivers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct pair {
    int to_peer, to_main; /* eventfds */
    long passes;
    int cpu; /* the peer's CPU */
};

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(pthread_t t, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(t, sizeof(set), &set) != 0) {
        fprintf(stderr, "wakeup: cannot pin a thread to CPU %d\n", cpu);
        exit(1);
    }
}

static void pass(int from, int to)
{
    uint64_t v;
    if (read(from, &v, sizeof(v)) != sizeof(v))
        exit(1);
    v = 1;
    if (write(to, &v, sizeof(v)) != sizeof(v))
        exit(1);
}

static void *peer(void *arg)
{
    struct pair *p = arg;
    pin(pthread_self(), p->cpu);
    for (long i = 0; i < p->passes; i++)
        pass(p->to_peer, p->to_main);
    return NULL;
}

/* The wall and CPU microseconds per wake-up, main on CPU 0, peer on cpu. */
static void measure(long passes, int cpu, double *wall_us, double *cpu_us)
{
    struct pair p = {eventfd(0, 0), eventfd(0, 0), passes, cpu};
    if (p.to_peer < 0 || p.to_main < 0) {
        perror("wakeup: eventfd");
        exit(1);
    }
    pin(pthread_self(), 0);
    pthread_t t;
    if (pthread_create(&t, NULL, peer, &p) != 0) {
        fprintf(stderr, "wakeup: pthread_create failed\n");
        exit(1);
    }
    usleep(20000); /* let the peer reach its first read */
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t v = 1;
    for (long i = 0; i < passes; i++) {
        if (write(p.to_peer, &v, sizeof(v)) != sizeof(v) ||
            read(p.to_main, &v, sizeof(v)) != sizeof(v))
            exit(1);
        v = 1;
    }
    double w1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    pthread_join(t, NULL);
    close(p.to_peer);
    close(p.to_main);
    /* two wake-ups per round trip */
    *wall_us = (w1 - w0) / (double)passes / 2 * 1e6;
    *cpu_us = (c1 - c0) / (double)passes / 2 * 1e6;
}

int main(int argc, char **argv)
{
    long passes = argc > 1 ? atol(argv[1]) : 50000;
    if (passes <= 0) {
        fprintf(stderr, "usage: wakeup [PASSES]\n");
        return 2;
    }
    double w, c;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        measure(passes, 1, &w, &c);
        printf("cross wall_us=%.2f cpu_us=%.2f\n", w, c);
    }
    measure(passes, 0, &w, &c);
    printf("same wall_us=%.2f cpu_us=%.2f\n", w, c);
    return 0;
}
