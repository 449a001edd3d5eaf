#!/usr/bin/env python3
"""Fits the polynomials of yc_erff (Sources/CKernels/vmath.h) and prints them as C.

Two pieces, each a minimax fit by Lawson's iteration on Chebyshev nodes, its coefficients then rounded
to float one at a time from the constant term up (the rest refitted after each), so the rounding is
absorbed rather than added:
  - below 0.9: q(t), t = a^2, with erf(a) = a * (2/sqrt(pi) + t * q(t)), error weighted relative to erf;
  - from 0.9 to 3.95: r(a - 2.4) ~ log(erfc(a)) + a^2 (absolute error = relative error of erfc).
The reference is Python's math.erf / math.erfc in double. Needs numpy (tools/setup.sh's .venv has it).
"""
import math

import numpy as np


def f32(v):
    return float(np.float32(v))


def fit(target, weight, t, degree, iterations=200):
    V = np.vander(t, degree + 1, increasing=True)
    fixed = []
    for _ in range(degree + 1):
        rest = target - sum(c * t**i for i, c in enumerate(fixed))
        Vr = V[:, len(fixed):]
        lw = np.ones(len(t))
        for _ in range(iterations):
            c, *_ = np.linalg.lstsq(Vr * (np.sqrt(lw) * weight)[:, None], rest * np.sqrt(lw) * weight, rcond=None)
            e = np.abs((Vr @ c - rest) * weight)
            lw = lw * e
            lw /= lw.sum()
        fixed.append(f32(c[0]))
    c = np.array(fixed)
    return c, float(np.max(np.abs((V @ c - target) * weight)))


def chebyshev(center, half, n=20000):
    k = np.arange(n)
    return center + half * np.cos(np.pi * (k + 0.5) / n)


def main():
    x = chebyshev(0.45, 0.45)
    x = x[x > 1e-4]
    t = x * x
    erf_over_x = np.array([math.erf(v) for v in x]) / x
    q, eq = fit((erf_over_x - 2 / math.sqrt(math.pi)) / t, t / erf_over_x, t, 4)
    x = chebyshev(2.425, 1.525)
    r, er = fit(np.array([math.log(math.erfc(v)) + v * v for v in x]), np.ones_like(x), x - 2.4, 8)
    hi = f32(2 / math.sqrt(math.pi))
    print(f"// 2/sqrt(pi) = {hi:.9e}f + {2 / math.sqrt(math.pi) - hi:.7e}f")
    print(f"// q: largest weighted error {eq:.2e}")
    print("\n".join(f"{c:.9e}f" for c in q))
    print(f"// r: largest error {er:.2e}")
    print("\n".join(f"{c:.9e}f" for c in r))


if __name__ == "__main__":
    main()
