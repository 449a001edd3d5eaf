// One channel of a depthwise convolution over its stride phases (yc_conv_phases), where every tap of
// an output row reads one contiguous run. Each output is one chain of fused multiply-adds over the
// taps in order from zero, as the direct convolution computes it (conv.c), with fmaf: one instruction
// in the AVX-512 and AVX2+FMA builds, libm's in the baseline one, the same bits on every CPU. A block
// of an output row's columns is accumulated in registers over all the taps and stored once.
#include "ckernels.h"
#include <math.h>

#pragma clang fp contract(off)

#define BLOCK 64  // output columns accumulated at once: four AVX-512 vectors
#define NARROW 16 // and at a row's end, one vector at a time

// Output rows [r0, r1): out[oy][ox] = the chain over p of weights[p] * phases[off[p] + oy * wq + ox].
// A row's last block computes all NARROW columns, reading up to NARROW floats past the phases' end
// (the caller's zeroed tail), and stores those inside the row.
__attribute__((always_inline)) static inline void rows(const float *phases, long wq, const long *off, const float *weights,
                                                       long taps, long r0, long r1, long ow, float *dst) {
    for (long oy = r0; oy < r1; oy++) {
        const float *row = phases + oy * wq;
        float *out = dst + oy * ow;
        long x0 = 0;
        for (; x0 + BLOCK <= ow; x0 += BLOCK) {
            float acc[BLOCK] = {0};
            for (long p = 0; p < taps; p++) {
                const float wv = weights[p], *s = row + off[p] + x0;
                for (int j = 0; j < BLOCK; j++) acc[j] = fmaf(wv, s[j], acc[j]);
            }
            for (int j = 0; j < BLOCK; j++) out[x0 + j] = acc[j];
        }
        for (; x0 < ow; x0 += NARROW) {
            float acc[NARROW] = {0};
            for (long p = 0; p < taps; p++) {
                const float wv = weights[p], *s = row + off[p] + x0;
                for (int j = 0; j < NARROW; j++) acc[j] = fmaf(wv, s[j], acc[j]);
            }
            const long n = ow - x0 < NARROW ? ow - x0 : NARROW;
            for (long j = 0; j < n; j++) out[x0 + j] = acc[j];
        }
    }
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_depthwise_phases(const float *phases, long wq, const long *off, const float *weights, long taps, long oh, long ow,
                         float *dst, const yc_output_pass *pass) {
    // The output pass after each few rows, while they are in L1.
    const long chunk = ow > 0 && ow < 4096 ? 4096 / ow : 1;
    for (long r0 = 0; r0 < oh; r0 += chunk) {
        const long r1 = r0 + chunk < oh ? r0 + chunk : oh;
        rows(phases, wq, off, weights, taps, r0, r1, ow, dst);
        if (pass->act != YC_IDENTITY || pass->bias)
            yc_bias_activation(dst + r0 * ow, (size_t)((r1 - r0) * ow), pass->bias ? pass->bias[0] : 0.0f, pass->bias != NULL,
                               pass->act, pass->alpha, pass->beta, pass->gamma);
    }
}
