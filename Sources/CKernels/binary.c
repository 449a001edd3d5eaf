// Float32 Add, Sub, Mul and Div over one run of a broadcast: each operand either steps along the run
// (stride 1) or holds one value for it (stride 0). One loop per case, so each vectorises (AVX-512, AVX2
// or baseline, picked at load time); the arithmetic is the one IEEE operation per element Swift does.
#include "ckernels.h"

#pragma clang fp contract(off)

#define YC_RUNS(OP)                                                                         \
    if (sa && sb) {                                                                         \
        for (long i = 0; i < n; i++) y[i] = a[i] OP b[i];                                   \
    } else if (sa) {                                                                        \
        const float v = b[0];                                                               \
        for (long i = 0; i < n; i++) y[i] = a[i] OP v;                                      \
    } else if (sb) {                                                                        \
        const float v = a[0];                                                               \
        for (long i = 0; i < n; i++) y[i] = v OP b[i];                                      \
    } else {                                                                                \
        const float v = a[0] OP b[0];                                                       \
        for (long i = 0; i < n; i++) y[i] = v;                                              \
    }

__attribute__((target_clones("avx512f", "avx2", "default")))
void yc_binary_floats(yc_binary op, const float *a, long sa, const float *b, long sb, float *y, long n) {
    switch (op) {
    case YC_ADD: YC_RUNS(+) break;
    case YC_SUB: YC_RUNS(-) break;
    case YC_MUL: YC_RUNS(*) break;
    case YC_DIV: YC_RUNS(/) break;
    }
}
