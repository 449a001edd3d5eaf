// Vectorisable float functions shared by the C kernels. Their polynomials use fmaf, a multiply-add
// rounded once: one instruction where the kernel's build has FMA (the AVX-512 and AVX2+FMA clones; the
// baseline build calls libm's fmaf, slower but with the same result), so every build of a kernel
// rounds alike and a fused kernel gives the bits of the unfused one on any CPU. Contraction is off
// in each body, so no other multiply and add fuse behind the code's back.
#ifndef YOLO_COMPILE_VMATH_H
#define YOLO_COMPILE_VMATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

// Relu: NaN stays NaN, -0 becomes +0 (the Relu kernel's and the output pass's).
__attribute__((always_inline)) static inline float yc_reluf(float v) { return v > 0 ? v : (v != v ? v : 0.0f); }

// expf: Cephes' range reduction and polynomial, within about 1 ulp of libm over the float range.
__attribute__((always_inline)) static inline float yc_expf(float x) {
#pragma clang fp contract(off)
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    // Round to nearest by adding and subtracting 1.5 * 2^23 (baseline SSE2 has no round instruction).
    float n = fmaf(x, 1.44269504f, 12582912.0f) - 12582912.0f;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691e-4f;
    p = fmaf(p, r, 1.3981999e-3f);
    p = fmaf(p, r, 8.3334520e-3f);
    p = fmaf(p, r, 4.1665796e-2f);
    p = fmaf(p, r, 1.6666665e-1f);
    p = fmaf(p, r, 5.0000001e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// 1 / (1 + exp(-x)), the Sigmoid kernel's and the output pass's.
__attribute__((always_inline)) static inline float yc_sigmoidf(float x) {
#pragma clang fp contract(off)
    return 1.0f / (1.0f + yc_expf(-x));
}

// erff, within 1.34 ulp of the exact erf (measured on every third float up to 6 in magnitude; libm's
// erff, which does not vectorise, is within 1). Polynomials fitted by tools/fit_erf.py: below 0.9, erf(a) = a * (2/sqrt(pi) + t * q(t))
// with t = a^2 (2/sqrt(pi) split in two floats); up to 3.95, erf(a) = 1 - exp(r(a - 2.4) - a^2) with r
// approximating log(erfc(a)) + a^2; beyond, 1 (erf rounds to 1 from 3.92). Odd; NaN stays NaN.
__attribute__((always_inline)) static inline float yc_erff(float x) {
#pragma clang fp contract(off)
    const float a = fabsf(x), t = a * a;
    float q = -6.127277156e-04f;
    q = fmaf(q, t, 5.020213313e-03f);
    q = fmaf(q, t, -2.678561024e-02f);
    q = fmaf(q, t, 1.128237844e-01f);
    q = fmaf(q, t, -3.761255741e-01f);
    const float small = fmaf(a, 1.128379226e+00f, a * fmaf(t, q, -5.8635383e-08f));
    const float s = a - 2.4f;
    float r = 1.395791628e-06f;
    r = fmaf(r, s, -1.453451932e-05f);
    r = fmaf(r, s, 8.817196795e-05f);
    r = fmaf(r, s, -4.696866381e-04f);
    r = fmaf(r, s, 2.385866130e-03f);
    r = fmaf(r, s, -1.176799461e-02f);
    r = fmaf(r, s, 5.949880928e-02f);
    r = fmaf(r, s, -3.642366230e-01f);
    r = fmaf(r, s, -1.520975113e+00f);
    const float y = a < 0.9f ? small : (a < 3.95f ? 1.0f - yc_expf(fmaf(-a, a, r)) : 1.0f);
    return x != x ? x : copysignf(y, x);
}

#endif
