// Elementwise kernels whose inner loops need vector code: plain C that clang vectorises at -O2,
// where Swift's generic SIMD types do not reliably compile to vector instructions. Each hot loop is
// also compiled for AVX-512 and for AVX2 with FMA (chosen at load time by what the CPU has); the
// multiply-adds are vmath.h's explicit fmaf and contraction stays off otherwise, so every build rounds
// exactly as the baseline does.
#include "ckernels.h"
#include "vmath.h"

#pragma clang fp contract(off)

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_sigmoid(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = yc_sigmoidf(x[i]);
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_erf(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = yc_erff(x[i]);
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_relu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = yc_reluf(x[i]);
}
