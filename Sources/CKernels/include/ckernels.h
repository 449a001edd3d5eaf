#ifndef YOLO_COMPILE_CKERNELS_H
#define YOLO_COMPILE_CKERNELS_H
#include <stddef.h>

/// y[i] = 1 / (1 + exp(-x[i])), with a vectorisable expf (Cephes' range reduction and polynomial,
/// within about 1 ulp of libm over the float range). x and y may alias.
void yc_sigmoid(const float *x, float *y, size_t n);

/// Softmax of each of `rows` contiguous rows of `n` floats, in place: exp(x - max) / sum.
void yc_softmax_rows(float *x, size_t rows, size_t n);

#endif
