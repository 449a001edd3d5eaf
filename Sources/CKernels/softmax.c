// Softmax over the last axis: the exp loop is the cost, and it vectorises with the shared expf.
#include "ckernels.h"
#include "vmath.h"

#pragma clang fp contract(off)

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_softmax_rows(float *x, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * n;
        // The maximum over sixteen lanes, each lane's first element its start, then the lanes in order.
        // Without NaN this is the row's maximum (up to the sign of a zero, which exp ignores); with NaN
        // every output is NaN whichever maximum is taken, as with one lane.
        float mx = row[0];
        size_t i0 = 1;
        if (n >= 32) {
            float lane[16];
            for (size_t k = 0; k < 16; k++) lane[k] = row[k];
            for (i0 = 16; i0 + 16 <= n; i0 += 16)
                for (size_t k = 0; k < 16; k++) lane[k] = row[i0 + k] > lane[k] ? row[i0 + k] : lane[k];
            mx = lane[0];
            for (size_t k = 1; k < 16; k++) mx = lane[k] > mx ? lane[k] : mx;
        }
        for (size_t i = i0; i < n; i++) mx = row[i] > mx ? row[i] : mx;
        for (size_t i = 0; i < n; i++) row[i] = yc_expf(row[i] - mx);
        // Eight partial sums: a fixed order (the same result every run) that the compiler can vectorise.
        float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (size_t k = 0; k < 8; k++) part[k] += row[i + k];
        float sum = 0;
        for (size_t k = 0; k < 8; k++) sum += part[k];
        for (; i < n; i++) sum += row[i];
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++) row[j] *= inv;
    }
}
