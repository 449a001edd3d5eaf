"""The committed constants that scripts in tools/ derive: rerunning the script gives them back."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_erf_polynomials_are_what_fit_erf_prints():
    # vmath.h's yc_erff coefficients, in the order they appear (q from its highest power down, then r
    # likewise), against tools/fit_erf.py's (each list from the constant term up).
    out = subprocess.run([sys.executable, str(ROOT / "tools/fit_erf.py")], capture_output=True, text=True, check=True).stdout
    sections = re.split(r"^// [qr]:.*$", out, flags=re.M)
    q = re.findall(r"^(\S+)f$", sections[1], flags=re.M)
    r = re.findall(r"^(\S+)f$", sections[2], flags=re.M)
    assert (len(q), len(r)) == (5, 9)
    header = (ROOT / "Sources/CKernels/vmath.h").read_text()
    body = header[header.index("yc_erff(float x)"):]
    def used(var):
        first = re.search(rf"float {var} = (\S+)f;", body).group(1)
        rest = re.findall(rf"{var} = fmaf\({var}, \w, (\S+)f\);", body)
        return [first] + rest
    assert used("q") == q[::-1]
    assert used("r") == r[::-1]
    hi, lo = re.search(r"2/sqrt\(pi\) = (\S+)f \+ (\S+)f", out).groups()
    assert f"fmaf(a, {hi}f, a * fmaf(t, q, {lo}f))" in body
