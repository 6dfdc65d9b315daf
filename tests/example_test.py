#!/usr/bin/env python3
"""examples/bank.c against an installed libparconv, as a user would build it.

    example_test.py BUILD_DIR SOURCE_DIR PARCONV

Installs the build into a temporary directory (meson install --destdir),
compiles examples/bank.c with the flags pkg-config gives for that copy
(parconv.pc is relocatable), once against the shared library and once
statically, and runs both with omp and with procs (whose workers are the
example itself, through pc_worker_check). Each output stack must hold, bit
for bit, the planes the parconv program writes for the same inputs, and
match scipy.signal.convolve2d. Nothing is written outside the temporary
directory, which is removed at the end.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

try:
    from scipy.signal import convolve2d
except ImportError:  # the bit-for-bit comparison with parconv still runs
    convolve2d = None


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        sys.exit('failed (%d): %s\n%s%s' % (res.returncode, ' '.join(cmd),
                                           res.stdout, res.stderr))
    return res.stdout


def main():
    build, source, parconv = sys.argv[1:4]
    cc = os.environ.get('CC', 'cc')
    for tool in (cc, 'pkg-config'):
        if not shutil.which(tool):
            print('%s not found: skipped' % tool)
            sys.exit(77)
    tmp = tempfile.mkdtemp(prefix='parconv-example-')
    try:
        check(build, source, parconv, cc, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print('example: shared and static builds agree with parconv and scipy')


def sanitizer_flags(build):
    """The -fsanitize=... flags the library's sources were compiled with."""
    with open(os.path.join(build, 'compile_commands.json')) as f:
        commands = json.load(f)
    flags = []
    for c in commands:
        if '/src/' not in c['file'] and not c['file'].startswith('../src/'):
            continue
        for a in c.get('command', ' '.join(c.get('arguments', []))).split():
            if a.startswith('-fsanitize') and a not in flags:
                flags.append(a)
    return flags


def check(build, source, parconv, cc, tmp):
    dest = os.path.join(tmp, 'dest')
    run(['meson', 'install', '-C', build, '--no-rebuild', '--quiet',
         '--destdir', dest])
    pcs = glob.glob(os.path.join(dest, '**', 'pkgconfig', 'parconv.pc'),
                    recursive=True)
    if len(pcs) != 1:
        sys.exit('expected one installed parconv.pc, found %s' % pcs)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
    env.pop('PKG_CONFIG_LIBDIR', None)
    cflags = run(['pkg-config', '--cflags', 'parconv'], env=env).split()
    libs = run(['pkg-config', '--libs', 'parconv'], env=env).split()
    static_libs = run(['pkg-config', '--libs', '--static', 'parconv'],
                      env=env).split()
    # The flags must point into the temporary install, not at a copy
    # installed elsewhere on this machine.
    libdir = [f[2:] for f in libs if f.startswith('-L')]
    if not libdir or not os.path.realpath(libdir[0]).startswith(
            os.path.realpath(dest)):
        sys.exit('pkg-config points outside the temporary install: %s' % libs)
    libdir = libdir[0]
    for kind in ('so', 'a'):
        if not os.path.exists(os.path.join(libdir, 'libparconv.' + kind)):
            sys.exit('libparconv.%s was not installed in %s' % (kind, libdir))

    # A library built with sanitizers (scripts/test.sh's second build)
    # needs their runtimes in whatever links it: the same -fsanitize flags.
    sanitize = sanitizer_flags(build)
    cflags = cflags + sanitize
    example = os.path.join(source, 'examples', 'bank.c')
    shared_exe = os.path.join(tmp, 'bank')
    static_exe = os.path.join(tmp, 'bank-static')
    run([cc, '-std=c11', '-Wall', '-Wextra', example, '-o', shared_exe] +
        cflags + libs)
    # -lparconv would take the shared library; name the archive instead.
    static = ['-l:libparconv.a' if f == '-lparconv' else f
              for f in static_libs]
    run([cc, '-std=c11', '-Wall', '-Wextra', example, '-o', static_exe] +
        cflags + static)
    if 'libparconv' in run(['ldd', static_exe]):
        sys.exit('the static build still needs libparconv.so')

    # Inputs: a bank whose count is not a multiple of the vector lanes, so
    # both the set kernels and the single ones run.
    rng = np.random.default_rng(10)
    matrix = rng.uniform(-1, 1, (61, 47))
    bank = rng.uniform(-1, 1, (19, 6, 4))
    mpath = os.path.join(tmp, 'matrix.npy')
    bpath = os.path.join(tmp, 'bank.npy')
    np.save(mpath, matrix)
    np.save(bpath, bank)

    # The program's own planes for the same inputs.
    ref_dir = os.path.join(tmp, 'ref')
    run([parconv, '-q', '-m', mpath, '-b', bpath, '--method', 'direct',
         '-S', 'serial', '-o', ref_dir])
    ref = [np.load(os.path.join(ref_dir, 'conv_%05d.npy' % k))
           for k in range(len(bank))]

    run_env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    linked = [l for l in run(['ldd', shared_exe], env=run_env).splitlines()
              if 'libparconv' in l]
    if len(linked) != 1 or os.path.realpath(libdir) not in os.path.realpath(
            linked[0].split('=>')[1].split('(')[0].strip()):
        sys.exit('the shared build does not load the installed library: %s'
                 % linked)
    for exe, label in ((shared_exe, 'shared'), (static_exe, 'static')):
        for strategy in (None, 'procs', 'threads'):
            out = os.path.join(tmp, 'out-%s-%s.npy' % (label, strategy))
            cmd = [exe, mpath, bpath, out] + ([strategy] if strategy else [])
            print(run(cmd, env=run_env).strip())
            stack = np.load(out)
            what = '%s build, %s' % (label, strategy or 'omp')
            if stack.shape != (len(bank),) + ref[0].shape:
                sys.exit('%s: shape %s' % (what, stack.shape))
            for k in range(len(bank)):
                if stack[k].tobytes() != ref[k].tobytes():
                    sys.exit('%s: kernel %d differs from parconv' % (what, k))
                if convolve2d is not None:
                    want = convolve2d(matrix, bank[k])
                    if not np.allclose(stack[k], want, rtol=1e-12,
                                       atol=1e-12):
                        sys.exit('%s: kernel %d differs from scipy' %
                                 (what, k))

    # Wrong use: a usage line and status 2, not a crash.
    res = subprocess.run([shared_exe, mpath], capture_output=True, text=True,
                         env=run_env)
    if res.returncode != 2 or 'usage' not in res.stderr:
        sys.exit('bank with one argument: status %d, %r' %
                 (res.returncode, res.stderr))


if __name__ == '__main__':
    main()
