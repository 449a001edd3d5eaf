// OpenBLAS, loaded at first use rather than linked, so that its kernels can be chosen first.
//
// OpenBLAS picks its kernels (its "core") once, when the library loads, from the CPU's model number.
// A CPU newer than the OpenBLAS build (Debian 12 ships 0.3.21; an Emerald Rapids Xeon is model 207)
// is not in its table and gets the Prescott (SSE3) kernels: three times slower than the AVX-512
// ones on the same machine. When OPENBLAS_CORETYPE is not set, this sets it from the CPU's features
// (AVX-512: SkylakeX; AVX2 and FMA: Haswell) before loading the library, so the choice follows what
// the CPU can do rather than its model number. A user's OPENBLAS_CORETYPE is left alone.
#include "ckernels.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
typedef void (*threads_fn)(int);
typedef char *(*corename_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn sgemm;
static dgemm_fn dgemm;
static corename_fn corename;
static char error[512];

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static const char *core_for_this_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

static void load(void) {
    const char *core = core_for_this_cpu();
    if (core && !getenv("OPENBLAS_CORETYPE")) setenv("OPENBLAS_CORETYPE", core, 0);
    // OpenBLAS starts its thread pool as it loads, sized by this variable (or the core count), and
    // each pool thread spins in sched_yield for about a tenth of a second after loading and after every
    // threaded call. openblas_set_num_threads(1) below keeps the calls on one thread but leaves the pool
    // spinning: on a 2-vCPU machine that stole a core from the interpreter's own workers (a 1 ms kernel
    // took 8 ms). Every call runs on its caller's thread, so the pool is never wanted.
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(error, sizeof error, "OpenBLAS could not be loaded (%s); install libopenblas0 (tools/setup.sh does)", dlerror());
        return;
    }
    sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    dgemm = (dgemm_fn)dlsym(lib, "cblas_dgemm");
    threads_fn threads = (threads_fn)dlsym(lib, "openblas_set_num_threads");
    corename = (corename_fn)dlsym(lib, "openblas_get_corename");
    if (!sgemm || !dgemm || !threads) {
        snprintf(error, sizeof error, "libopenblas.so.0 lacks cblas_sgemm, cblas_dgemm or openblas_set_num_threads");
        sgemm = NULL;
        dgemm = NULL;
        return;
    }
    // The interpreter splits its own work across threads; each BLAS call runs on its caller's.
    threads(1);
}

const char *yc_blas_load(void) {
    pthread_once(&once, load);
    return sgemm ? NULL : error;
}

const char *yc_blas_core(void) {
    pthread_once(&once, load);
    return corename ? corename() : "";
}

static void require(void) {
    if (yc_blas_load()) {
        fprintf(stderr, "yolo-compile: %s\n", error);
        abort();
    }
}

void yc_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc) {
    require();
    sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void yc_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb,
              double beta, double *c, int ldc) {
    require();
    dgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
