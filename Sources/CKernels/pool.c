// The interpreter's worker threads. A kernel hands out numbered tasks; the calling thread and the
// workers take them one at a time until none are left. Workers spin for a short while after a job
// before they sleep: the next kernel follows within microseconds, and waking a sleeping thread costs
// a futex call and a trip through the scheduler (on a 2-vCPU virtual machine, hundreds of
// microseconds), which made splitting a 1 ms elementwise kernel slower than not splitting it.
#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define MAX_WORKERS 255
#define SPIN_NANOSECONDS 2000000  // 2 ms of spinning after a job before a worker sleeps

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;   // one job at a time
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static size_t started;                         // workers running, ids 1...started
static _Atomic unsigned long generation;       // one more per job
static yc_task_fn job_fn;
static void *job_ctx;
static size_t job_tasks, job_threads;
static _Atomic size_t next_task;
static _Atomic size_t pending;                 // workers yet to finish the current job
static _Thread_local int inside_job;           // a task that asks for threads runs its tasks inline

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long nanoseconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void take_tasks(size_t worker) {
    inside_job = 1;
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&next_task, 1, memory_order_relaxed);
        if (t >= job_tasks) break;
        job_fn(job_ctx, worker, t);
    }
    inside_job = 0;
}

static unsigned long first_seen[MAX_WORKERS + 1];  // the generation before each worker's first job

static void *worker_main(void *arg) {
    size_t id = (size_t)arg;
    // Not the generation now: the job this worker was started for may already have been published.
    unsigned long seen = first_seen[id];
    for (;;) {
        unsigned long g = atomic_load_explicit(&generation, memory_order_acquire);
        if (g == seen) {
            long long until = nanoseconds() + SPIN_NANOSECONDS;
            int spins = 0;
            while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
                relax();
                if (++spins % 1024 == 0 && nanoseconds() > until) {
                    pthread_mutex_lock(&sleep_lock);
                    while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) pthread_cond_wait(&wake, &sleep_lock);
                    pthread_mutex_unlock(&sleep_lock);
                    break;
                }
            }
        }
        seen = g;
        if (id < job_threads) take_tasks(id);
        atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
    }
    return NULL;
}

void yc_parallel_for(size_t tasks, size_t threads, yc_task_fn fn, void *ctx) {
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads <= 1 || tasks <= 1 || inside_job) {
        for (size_t t = 0; t < tasks; t++) fn(ctx, 0, t);
        return;
    }
    pthread_mutex_lock(&job_lock);
    while (started + 1 < threads) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        first_seen[started + 1] = atomic_load_explicit(&generation, memory_order_relaxed);
        int failed = pthread_create(&th, &attr, worker_main, (void *)(started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;  // fewer threads than asked: the tasks still all run
        started++;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_tasks = tasks;
    job_threads = threads;
    atomic_store_explicit(&next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pending, started, memory_order_relaxed);
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    take_tasks(0);
    while (atomic_load_explicit(&pending, memory_order_acquire) != 0) relax();
    pthread_mutex_unlock(&job_lock);
}
