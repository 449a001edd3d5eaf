// A convolution's output pass: bias and activation over one output channel's row block while it is
// in cache. Every case is written as the unfused kernels compute it (the bias added first, then the
// same operations in the same order and precision, Swift's min/max spelled as its ternaries), so
// fusing changes no bit. Without a bias nothing is added (adding 0 would turn -0 into +0).
#include "ckernels.h"
#include "vmath.h"
#include <math.h>

#pragma clang fp contract(off)

// One loop per case and per bias/no bias, each simple enough to vectorise.
#define YC_LOOP(expr)                                                                  \
    if (add_bias) {                                                                    \
        for (size_t i = 0; i < n; i++) { float v = y[i] + bias; y[i] = (expr); }      \
    } else {                                                                           \
        for (size_t i = 0; i < n; i++) { float v = y[i]; y[i] = (expr); }             \
    }

static inline float relu(float v) { return yc_reluf(v); }
static inline float leaky_relu(float v, double a) { return v >= 0 ? v : (float)((double)v * a); }
static inline float sigmoid(float v) { return yc_sigmoidf(v); }
// ONNX's alpha * x + beta with alpha = 1/6 as a float: a multiply, where x / 6 was a division (a
// quarter of MobileNetV3's output passes).
static inline float hard_swish(float v) {
    float t = v * (1.0f / 6.0f) + 0.5f;
    t = 0.0f >= t ? 0.0f : t;  // Swift's max(t, 0)
    t = 1.0f < t ? 1.0f : t;   // Swift's min(t, 1)
    return v * t;
}
static inline float hard_sigmoid_mul(float v, double a, double b) {
    double t = a * (double)v + b;  // HardSigmoid computes in double and rounds once
    t = 0.0 >= t ? 0.0 : t;
    t = 1.0 < t ? 1.0 : t;
    return v * (float)t;
}
// Div(x, d) -> Erf -> Add(one) -> Mul(x, .) -> Mul(half): GELU as torch.onnx writes it, erf as the Erf kernel computes it.
__attribute__((always_inline)) static inline float gelu(float v, float d, float one, float half) { return (v * (yc_erff(v / d) + one)) * half; }
static inline float clip(float v, float lo, float hi) {
    float t = v < lo ? lo : v;
    return t > hi ? hi : t;
}

// Every activation, each case one loop written by LOOP (per element `v`, the bias already added).
#define YC_ACTIVATIONS(LOOP)                                                              \
    switch (act) {                                                                         \
    case YC_IDENTITY: LOOP(v) break;                                                       \
    case YC_RELU: LOOP(relu(v)) break;                                                     \
    case YC_LEAKY_RELU: { double a = alpha; LOOP(leaky_relu(v, a)) break; }               \
    case YC_SIGMOID: LOOP(sigmoid(v)) break;                                               \
    case YC_SILU: LOOP(v * sigmoid(v)) break;                                              \
    case YC_HARD_SWISH: LOOP(hard_swish(v)) break;                                         \
    case YC_HARD_SIGMOID_MUL: { double a = alpha, b = beta; LOOP(hard_sigmoid_mul(v, a, b)) break; } \
    case YC_CLIP: LOOP(clip(v, alpha, beta)) break;                                        \
    case YC_GELU: LOOP(gelu(v, alpha, beta, gamma)) break;                                 \
    }

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_bias_activation(float *y, size_t n, float bias, int add_bias, yc_activation act, float alpha, float beta, float gamma) {
    YC_ACTIVATIONS(YC_LOOP)
}

// The same over `rows` rows of `n`, the bias a vector along the row (a Linear layer's, after MatMul).
#define YC_ROWS(expr)                                                                                  \
    for (size_t r = 0; r < rows; r++) {                                                               \
        float *y = out + r * n;                                                                        \
        if (bias) {                                                                                    \
            for (size_t i = 0; i < n; i++) { float v = y[i] + bias[i]; y[i] = (expr); }               \
        } else {                                                                                       \
            for (size_t i = 0; i < n; i++) { float v = y[i]; y[i] = (expr); }                         \
        }                                                                                              \
    }

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
void yc_rows_bias_activation(float *out, size_t rows, size_t n, const float *bias, yc_activation act, float alpha, float beta,
                             float gamma) {
    YC_ACTIVATIONS(YC_ROWS)
}

void yc_output_pass_apply(const yc_output_pass *pass, long channel, float *y, size_t n) {
    if (pass->act == YC_IDENTITY && !pass->bias) return;
    yc_bias_activation(y, n, pass->bias ? pass->bias[channel] : 0.0f, pass->bias != NULL, pass->act, pass->alpha, pass->beta,
                       pass->gamma);
}
