"""The stack and hdf5 formats as numpy and h5py read them: the files
test_formats leaves (--keep) open with numpy.load(mmap_mode='r') and
h5py, and hold the planes test_formats wrote (plane (n, k)'s element
(i, j) = 100 n + k + i/64 + j/4096; zeros for another shard's planes),
/checksums and /conv's attributes.

Usage: formats_numpy.py TEST_FORMATS SCRATCH_DIR (exit 77 without h5py).
"""
import json
import subprocess
import sys

import numpy as np

try:
    import h5py
except ImportError:
    print('h5py is missing: skipped')
    sys.exit(77)


def expected(e):
    n, k, i, j = np.ogrid[:e['nmat'], :e['count'], :e['rows'], :e['cols']]
    want = (n * 100 + k) + i / 64.0 + j / 4096.0
    want = want.astype(np.float64 if e['dtype'] == 'f64' else np.float32)
    shard_i, shard_n = e['shard']
    p = np.arange(e['nmat'] * e['count']).reshape(e['nmat'], e['count'])
    want[p % shard_n != shard_i] = 0
    return want


def main():
    exe, scratch = sys.argv[1], sys.argv[2]
    subprocess.run([exe, '--keep', scratch], check=True)
    with open(scratch + '/expect.json') as f:
        files = json.load(f)
    failed = 0
    for e in files:
        want = expected(e)
        dt = np.dtype('<f8' if e['dtype'] == 'f64' else '<f4')
        if e['format'] == 'stack':
            a = np.load(e['path'], mmap_mode='r')
            if e['nmat'] == 1:
                want = want[0]
            ok = (isinstance(a, np.memmap) and a.dtype == dt and
                  a.shape == want.shape and np.array_equal(a, want))
        else:
            with h5py.File(e['path'], 'r') as f:
                d = f['conv']
                sums = f['checksums'][()]
                listed = {(p['matrix'], p['kernel']): int(p['checksum'], 16)
                          for p in e['manifest']['planes']}
                want_sums = np.zeros((e['nmat'], e['count']), np.uint64)
                for (n, k), s in listed.items():
                    want_sums[n, k] = s
                work = e['manifest']['workload']
                ok = (d.dtype == dt and d.shape == want.shape and
                      d.chunks == (1, 1, e['rows'], e['cols']) and
                      (d.compression == 'gzip') == (e['deflate'] >= 0) and
                      (e['deflate'] < 0 or
                       (d.shuffle and d.compression_opts == e['deflate'])) and
                      np.array_equal(d[()], want) and
                      np.array_equal(d[1 % e['nmat'], 0], want[1 % e['nmat'], 0]) and
                      sums.dtype == np.uint64 and
                      np.array_equal(sums, want_sums) and
                      json.loads(d.attrs['manifest']) == e['manifest'] and
                      d.attrs['mode'] == work['mode'] and
                      d.attrs['rows'] == work['rows'] and
                      d.attrs['fillvalue'] == work['fillvalue'] and
                      d.attrs['swapped'] is np.False_ and
                      'inputs' not in d.attrs)
        print(('ok  ' if ok else 'FAIL') + ' ' + e['format'] + ' ' + e['path'])
        failed += not ok
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
