// A vectorisable expf shared by the C kernels: Cephes' range reduction and polynomial, within about
// 1 ulp of libm over the float range.
#ifndef YOLO_COMPILE_VEXP_H
#define YOLO_COMPILE_VEXP_H
#include <stdint.h>
#include <string.h>

static inline float yc_expf(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    // Round to nearest by adding and subtracting 1.5 * 2^23 (baseline SSE2 has no round instruction).
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691e-4f;
    p = p * r + 1.3981999e-3f;
    p = p * r + 8.3334520e-3f;
    p = p * r + 4.1665796e-2f;
    p = p * r + 1.6666665e-1f;
    p = p * r + 5.0000001e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
