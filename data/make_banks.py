#!/usr/bin/python3
"""Write the example kernel banks and the test image used with parconv.

Usage: data/make_banks.py [OUTDIR]     (default: the folder it is in, data/)

Every bank is a float64, C-ordered, little-endian .npy of shape (K, R, C),
written with numpy.save.  The output is deterministic: no random numbers are
used, so running the script twice gives byte-identical files (for a given
numpy/scipy version).  See data/README.md for a description of each file and
data/banks.json for the name and parameters of every kernel, in order.

Sign conventions are chosen for *convolution* (scipy.signal.convolve2d, which
flips the kernel): the "x" gradient kernels give a positive response where the
intensity increases to the right (increasing column index), the "y" kernels
where it increases downward (increasing row index).  Angles (Gabor, motion
blur) are measured counter-clockwise from the +x (column) axis as seen on
screen, i.e. with y pointing *up* (decreasing row index).
"""

import json
import os
import re
import sys
import warnings

import numpy as np

GAUSS_SIGMAS = [1.0, 1.5, 2.0, 3.0, 4.0]
GAUSS_SIZE = 25            # odd, holds +-3 sigma of the largest sigma (4 -> +-12)
GABOR_THETAS = [22.5 * i for i in range(8)]
GABOR_LAMBDAS = [4.0, 8.0, 16.0]
GABOR_SIGMA_RATIO = 0.56   # sigma = 0.56 * wavelength (about one octave bandwidth)
GABOR_GAMMA = 0.5
GABOR_PSI = 0.0
GABOR_SIZE = 31
MOTION_LENGTH = 9
MOTION_ANGLES = [0, 45, 90, 135]
BOX_SIZES = [3, 5, 9]
BOX_MOTION_SIZE = 9


def grid(size):
    """x (column offset, right positive) and y (row offset, UP positive)."""
    h = size // 2
    r = np.arange(-h, h + 1, dtype=np.float64)
    y, x = np.meshgrid(-r, r, indexing="ij")   # row i -> y = h - i
    return x, y


def pad_centre(k, size):
    out = np.zeros((size, size), dtype=np.float64)
    r0 = (size - k.shape[0]) // 2
    c0 = (size - k.shape[1]) // 2
    out[r0:r0 + k.shape[0], c0:c0 + k.shape[1]] = k
    return out


def as_bank(kernels):
    b = np.ascontiguousarray(np.stack(kernels).astype("<f8"))
    assert b.ndim == 3
    return b


# ---- 1. 3x3 edge / Laplacian kernels --------------------------------------

def edges3x3():
    A = np.array
    ks = [
        ("sobel_x", A([[1, 0, -1], [2, 0, -2], [1, 0, -1]])),
        ("sobel_y", A([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])),
        ("scharr_x", A([[3, 0, -3], [10, 0, -10], [3, 0, -3]])),
        ("scharr_y", A([[3, 10, 3], [0, 0, 0], [-3, -10, -3]])),
        ("prewitt_x", A([[1, 0, -1], [1, 0, -1], [1, 0, -1]])),
        ("prewitt_y", A([[1, 1, 1], [0, 0, 0], [-1, -1, -1]])),
        ("laplacian_4", A([[0, 1, 0], [1, -4, 1], [0, 1, 0]])),
        ("laplacian_8", A([[1, 1, 1], [1, -8, 1], [1, 1, 1]])),
    ]
    meta = []
    for name, k in ks:
        d = {"name": name}
        if name.endswith("_x"):
            d["note"] = ("positive response under convolution to intensity "
                         "increasing to the right (column index)")
        elif name.endswith("_y"):
            d["note"] = ("positive response under convolution to intensity "
                         "increasing downward (row index)")
        else:
            d["note"] = "discrete Laplacian, negative centre, zero sum"
        d["values"] = k.astype(int).tolist()
        meta.append(d)
    return as_bank([k for _, k in ks]), meta


# ---- 2./3. Gaussian and Laplacian-of-Gaussian ------------------------------

def gaussians():
    x, y = grid(GAUSS_SIZE)
    r2 = x * x + y * y
    ks, meta = [], []
    for s in GAUSS_SIGMAS:
        g = np.exp(-r2 / (2.0 * s * s))
        g /= g.sum()
        ks.append(g)
        meta.append({"name": "gaussian_sigma%g" % s, "sigma": s,
                     "normalisation": "sum = 1"})
    return as_bank(ks), meta


def log_kernels():
    x, y = grid(GAUSS_SIZE)
    r2 = x * x + y * y
    ks, meta = [], []
    for s in GAUSS_SIGMAS:
        q = r2 / (2.0 * s * s)
        # Laplacian of the unit-integral Gaussian: negative at the centre.
        k = -(1.0 / (np.pi * s ** 4)) * (1.0 - q) * np.exp(-q)
        k -= k.mean()
        ks.append(k)
        meta.append({"name": "log_sigma%g" % s, "sigma": s,
                     "normalisation": "continuous LoG sampled, then mean "
                                      "subtracted (zero sum); centre negative"})
    return as_bank(ks), meta


# ---- 4. Gabor --------------------------------------------------------------

def gabor():
    x, y = grid(GABOR_SIZE)
    ks, meta = [], []
    for th in GABOR_THETAS:            # orientation-major
        t = np.deg2rad(th)
        xr = x * np.cos(t) + y * np.sin(t)
        yr = -x * np.sin(t) + y * np.cos(t)
        for lam in GABOR_LAMBDAS:
            s = GABOR_SIGMA_RATIO * lam
            k = (np.exp(-(xr * xr + GABOR_GAMMA ** 2 * yr * yr) / (2.0 * s * s))
                 * np.cos(2.0 * np.pi * xr / lam + GABOR_PSI))
            k -= k.mean()
            ks.append(k)
            meta.append({"name": "gabor_theta%g_lambda%g" % (th, lam),
                         "theta_deg": th, "wavelength_px": lam,
                         "sigma_px": s, "gamma": GABOR_GAMMA,
                         "psi": GABOR_PSI, "part": "real (cosine)",
                         "normalisation": "peak 1 before mean subtraction; "
                                          "mean subtracted (zero sum)"})
    return as_bank(ks), meta


# ---- 5. box and motion blurs -----------------------------------------------

def box_and_motion():
    n = BOX_MOTION_SIZE
    h = n // 2
    ks, meta = [], []
    for b in BOX_SIZES:
        ks.append(pad_centre(np.full((b, b), 1.0 / (b * b)), n))
        meta.append({"name": "box_%dx%d" % (b, b), "size": b,
                     "normalisation": "sum = 1",
                     "padding": "zero-padded, centred in %dx%d" % (n, n)})
    L = MOTION_LENGTH
    for a in MOTION_ANGLES:
        k = np.zeros((n, n))
        dx = int(round(np.cos(np.deg2rad(a))))
        dy = int(round(np.sin(np.deg2rad(a))))
        for t in range(-(L // 2), L // 2 + 1):
            k[h - t * dy, h + t * dx] = 1.0   # y up: row = h - y
        k /= k.sum()
        ks.append(k)
        meta.append({"name": "motion_len%d_angle%d" % (L, a), "length": L,
                     "angle_deg": a, "normalisation": "sum = 1"})
    return as_bank(ks), meta


# ---- test image -------------------------------------------------------------

def test_image():
    """scipy.misc.ascent() as uint8, or a deterministic synthetic fallback."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import scipy.misc
            img = scipy.misc.ascent()
        img = np.asarray(img)
        assert img.shape == (512, 512) and img.min() >= 0 and img.max() <= 255
        return "ascent.npy", np.ascontiguousarray(img.astype(np.uint8)), \
            "scipy.misc.ascent() (scipy %s)" % __import__("scipy").__version__
    except Exception:
        n = 512
        r, c = np.mgrid[0:n, 0:n].astype(np.float64)
        img = 64 + 32 * np.sin(2 * np.pi * c / 16.0)
        img += 32 * np.sin(2 * np.pi * (r + c) / 40.0)
        img[(r - 256) ** 2 + (c - 256) ** 2 < 100 ** 2] += 80
        img[40:140, 360:480] = 230
        img = np.clip(np.rint(img), 0, 255)
        return "synthetic512.npy", img.astype(np.uint8), \
            "deterministic synthetic 512x512 image (gratings + disc + square)"


def main(argv):
    if len(argv) > 2:
        sys.stderr.write("usage: %s [OUTDIR]\n" % argv[0])
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    out = argv[1] if len(argv) == 2 else here
    os.makedirs(out, exist_ok=True)

    banks = [
        ("edges3x3.npy", "3x3 gradient and Laplacian kernels", edges3x3),
        ("gaussian.npy", "normalised Gaussians", gaussians),
        ("log.npy", "Laplacian of Gaussian, zero sum", log_kernels),
        ("gabor.npy", "Gabor bank, real part, zero mean, orientation-major "
                      "(k = 3*i_theta + i_lambda)", gabor),
        ("box_and_motion.npy", "box blurs and linear motion blurs", box_and_motion),
    ]
    index = {"generator": "data/make_banks.py",
             "conventions": {
                 "x": "column offset, positive to the right",
                 "y": "row offset, positive UP (decreasing row index)",
                 "angles": "degrees, counter-clockwise from +x as seen on screen",
                 "gradient_sign": "positive response under convolution "
                                  "(scipy.signal.convolve2d) to intensity "
                                  "increasing along +column (x kernels) or "
                                  "+row (y kernels)"},
             "files": []}
    for fname, desc, fn in banks:
        arr, meta = fn()
        assert arr.shape[0] == len(meta)
        np.save(os.path.join(out, fname), arr)
        index["files"].append({"file": fname, "description": desc,
                               "dtype": "float64", "shape": list(arr.shape),
                               "kernels": [dict(index=i, **m)
                                           for i, m in enumerate(meta)]})
    iname, img, idesc = test_image()
    np.save(os.path.join(out, iname), img)
    index["files"].append({"file": iname, "description": idesc,
                           "dtype": "uint8", "shape": list(img.shape),
                           "kind": "input matrix"})
    text = json.dumps(index, indent=2)
    # Put short lists of numbers (shapes, kernel rows) on one line.
    text = re.sub(r"\[\s+(-?[0-9.e+-]+(?:,\s+-?[0-9.e+-]+)*)\s+\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)
    with open(os.path.join(out, "banks.json"), "w", newline="\n") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
