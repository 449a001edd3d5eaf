// Elementwise kernels whose inner loops need vector code: plain C that clang vectorises at -O2,
// where Swift's generic SIMD types do not reliably compile to vector instructions.
#include "ckernels.h"
#include "vexp.h"

void yc_sigmoid(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + yc_expf(-x[i]));
}
