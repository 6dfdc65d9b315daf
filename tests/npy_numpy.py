#!/usr/bin/python3
"""Checks parconv's .npy reader against files that numpy itself writes.

Usage: /usr/bin/python3 tests/npy_numpy.py PARCONV_EXE SCRATCH_DIR

For every dtype parconv reads, in C and Fortran order, little- and
big-endian, in .npy versions 1.0 (np.save), 2.0 and 3.0, it saves a matrix,
runs

    parconv run -m FILE -b ONE -S serial --mode valid -o OUTDIR -q

with ONE the 1x1 kernel [[1.0]], and checks that OUTDIR/conv_00000.npy is
the matrix converted to float64, exactly. Kernel banks (3-D, and 2-D taken as
one kernel) are checked the same way with the matrix [[1.0]] and mode full,
where output k is kernel k. Then it checks that bad inputs make parconv exit
with status 2 (a missing file too: it is bad input) and one line on stderr.

Prints one line per case and "N passed, M failed"; exits 1 if any failed.
Needs Debian's python3 (it has numpy). Files go into SCRATCH_DIR and are
removed afterwards unless a case failed.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
from numpy.lib import format as npformat

import pctest
from pctest import case

DTYPES = ['f8', 'f4', 'i8', 'i4', 'i2', 'i1', 'u8', 'u4', 'u2', 'u1', 'b1']
VERSIONS = [(1, 0), (2, 0), (3, 0)]
TIMEOUT = 120


class Runner:
    def __init__(self, scratch):
        self.scratch = scratch
        self.serial = 0

    def path(self, stem):
        self.serial += 1
        return os.path.join(self.scratch, f'{self.serial:04d}_{stem}')

    def run(self, args):
        return pctest.run(args, TIMEOUT, stdin=subprocess.DEVNULL)


def save(path, arr, version):
    """Saves arr as numpy would, in the given format version."""
    if version == (1, 0):
        np.save(path, arr)
    else:
        with open(path, 'wb') as f:
            npformat.write_array(f, arr, version=version)


def header_of(path):
    """(version, (shape, fortran_order, dtype)) as numpy reads them back."""
    with open(path, 'rb') as f:
        version = npformat.read_magic(f)
        if version == (1, 0):
            return version, npformat.read_array_header_1_0(f)
        return version, npformat.read_array_header_2_0(f)


def test_values(code, shape, rng, finite=False):
    """An array of dtype code (native order) holding the type's extremes
    and specials first, then random values."""
    dt = np.dtype(code)
    n = int(np.prod(shape))
    if dt.kind == 'f':
        fi = np.finfo(dt)
        special = [0.0, -0.0, 1.0, -1.5, fi.max, -fi.max, fi.tiny,
                   fi.smallest_subnormal, 0.1]
        if not finite:
            special += [np.nan, np.inf, -np.inf]
        a = (rng.standard_normal(n) * 1000).astype(dt)
    elif dt.kind in 'iu':
        ii = np.iinfo(dt)
        special = [ii.min, ii.max, 0, 1, ii.max - 1, ii.max // 2 + 1]
        if dt.kind == 'i':
            special += [-1, ii.min + 1]
        a = rng.integers(ii.min, ii.max, n, dtype=dt, endpoint=True)
    else:
        special = [False, True]
        a = rng.integers(0, 2, n).astype(dt)
    a[:len(special)] = np.array(special, dtype=dt)
    return a.reshape(shape)


def variants(code, shape, rng, finite=False):
    """(name, array, version) for C/Fortran order, byte orders, versions."""
    base = test_values(code, shape, rng, finite)
    orders = ['<', '>'] if base.dtype.itemsize > 1 else ['|']
    for bo in orders:
        typed = base.astype(base.dtype.newbyteorder(bo)) if bo != '|' else base
        for order in 'CF':
            arr = np.asfortranarray(typed) if order == 'F' else \
                np.ascontiguousarray(typed)
            for version in VERSIONS:
                name = f'{typed.dtype.str} {order} v{version[0]}.0 ' \
                       f'{shape}'
                yield name, arr, version


def check_setup(path, arr, version):
    """Makes sure numpy wrote what the case claims (else the test lies)."""
    got_version, (shape, fortran, dtype) = header_of(path)
    want_fortran = arr.flags.f_contiguous and not arr.flags.c_contiguous
    if (got_version != version or shape != arr.shape or
            fortran != want_fortran or dtype != arr.dtype):
        return (f'numpy wrote version {got_version}, shape {shape}, '
                f'fortran_order {fortran}, dtype {dtype.str}')
    return None


def compare(outdir, k, want):
    path = os.path.join(outdir, f'conv_{k:05d}.npy')
    if not os.path.exists(path):
        return f'{path} was not written'
    out = np.load(path)
    expect = want.astype(np.float64)
    if out.dtype != np.float64:
        return f'output dtype {out.dtype.str}, want <f8'
    if out.shape != expect.shape:
        return f'output shape {out.shape}, want {expect.shape}'
    if not np.array_equal(out, expect, equal_nan=True):
        bad = np.argwhere(~((out == expect) |
                            (np.isnan(out) & np.isnan(expect))))[0]
        i = tuple(int(x) for x in bad)
        return f'output[{i}] = {out[i]!r}, want {expect[i]!r}'
    return None


def t_input(r, one, role, arr, version, mode, wants):
    """Saves arr as the role ('matrix' or 'bank') in the given .npy version,
    runs parconv with ONE as the other input in the given mode, and checks
    that output k is wants[k] converted to float64, exactly."""
    f = r.path(f'{role}.npy')
    outdir = r.path('out')
    os.mkdir(outdir)
    save(f, arr, version)
    err = check_setup(f, arr, version)
    pctest.expect(not err, err)
    m, b = (f, one) if role == 'matrix' else (one, f)
    p = r.run(['run', '-m', m, '-b', b, '-S', 'serial',
               '--mode', mode, '-o', outdir, '-q'])
    pctest.expect(p.returncode == 0,
                  f'exit {p.returncode}: {p.stderr.strip()}')
    for k, want in enumerate(wants):
        err = compare(outdir, k, want)
        if err and role == 'bank':
            err = f'kernel {k}: {err}'
        pctest.expect(not err, err)


def matrix_cases(r, one, rng):
    """Every dtype as the matrix; [[1.0]] as the kernel, mode valid."""
    for code in DTYPES:
        for name, arr, version in variants(code, (4, 7), rng):
            case('matrix ' + name, t_input, r, one, 'matrix', arr, version,
                 'valid', [arr])


def bank_cases(r, one, rng):
    """Every dtype as the bank; [[1.0]] as the matrix, mode full, where
    output k equals kernel k (finite values only: the zero padding of
    'full' would turn inf into nan)."""
    for code in DTYPES:
        for shape in [(3, 2, 5), (3, 4)]:
            for name, arr, version in variants(code, shape, rng, finite=True):
                if version != (1, 0) and shape != (3, 2, 5):
                    continue
                kernels = arr if arr.ndim == 3 else arr[None]
                case('bank ' + name, t_input, r, one, 'bank', arr, version,
                     'full', kernels)


def t_bad(r, one, f, status):
    p = r.run(['run', '-m', f, '-b', one, '-S', 'serial', '-q'])
    pctest.expect(p.returncode == status,
                  f'exit {p.returncode}, want {status} '
                  f'(stderr: {p.stderr.strip()!r})')
    pctest.expect(len(p.stderr.splitlines()) == 1 and
                  p.stderr.endswith('\n'),
                  f'stderr is not exactly one line: {p.stderr!r}')


def bad_cases(r, one):
    """Bad matrices: exit status 2 (bad input) or 1 (I/O), one stderr line."""
    cases = []

    f = r.path('complex.npy')
    np.save(f, np.zeros((3, 3), dtype=np.complex128))
    cases.append(('complex128 matrix', f, 2))

    f = r.path('one_d.npy')
    np.save(f, np.arange(5.0))
    cases.append(('1-D matrix', f, 2))

    f = r.path('object.npy')
    np.save(f, np.array([[1, 'a'], [None, 2.5]], dtype=object),
            allow_pickle=True)
    cases.append(('object matrix (pickled)', f, 2))

    f = r.path('truncated.npy')
    np.save(f, np.arange(30.0).reshape(5, 6))
    with open(f, 'r+b') as fh:
        fh.truncate(os.path.getsize(f) - 8)
    cases.append(('truncated matrix', f, 2))

    f = r.path('structured.npy')
    np.save(f, np.zeros((2, 2), dtype=[('a', '<f8'), ('b', '<i4')]))
    cases.append(('structured matrix', f, 2))

    f = r.path('missing.npy')
    cases.append(('missing matrix', f, 2))

    for name, f, status in cases:
        case('bad ' + name, t_bad, r, one, f, status)


def main():
    exe, scratch = pctest.arguments(__doc__.strip().splitlines()[2])
    if not os.access(exe, os.X_OK):
        print(f'npy_numpy.py: {exe} is not executable', file=sys.stderr)
        return 2
    scratch = os.path.join(scratch, 'npy_numpy')
    shutil.rmtree(scratch, ignore_errors=True)
    os.mkdir(scratch)

    r = Runner(scratch)
    one = os.path.join(scratch, 'one.npy')
    np.save(one, np.array([[1.0]]))
    rng = np.random.default_rng(20240601)

    matrix_cases(r, one, rng)
    bank_cases(r, one, rng)
    bad_cases(r, one)

    if pctest.summary():
        print(f'files kept in {scratch}')
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
