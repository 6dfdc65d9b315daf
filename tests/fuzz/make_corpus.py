#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_npy.c: small .npy files, valid
and not, that between them reach every branch of the reader's header parser
and data conversion.

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [OUT_DIR]

OUT_DIR defaults to tests/fuzz/corpus next to this script; the *.npy files
already there are replaced. Needs numpy (Debian's /usr/bin/python3 has it).
The output is deterministic: no random numbers, fixed values, so running it
again gives the same bytes with the same numpy version (numpy >= 1.24 pads
headers for a growing first axis; older ones write shorter headers).

Valid files come from numpy.lib.format.write_array: every dtype the reader
accepts (both byte orders where that means something), C and Fortran order,
format versions 1.0, 2.0 and 3.0, 0-D to 4-D. Invalid ones are valid files
cut short or with one part of the header changed by hand.
"""
import os
import struct
import sys

import numpy as np
from numpy.lib import format as npformat

DTYPES = ['f8', 'f4', 'i8', 'i4', 'i2', 'i1', 'u8', 'u4', 'u2', 'u1', 'b1']


def values(shape, dt):
    """Fixed values that exercise the conversion: signs, extremes, NaN."""
    n = int(np.prod(shape)) if len(shape) else 1
    dt = np.dtype(dt)
    if dt.kind == 'b':
        a = (np.arange(n) % 3 == 1)
    elif dt.kind == 'f':
        base = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan,
                         np.finfo(dt).max, np.finfo(dt).tiny, 1e-45, 3.0,
                         -7.0], dtype=dt)
        a = np.resize(base, n)
    else:
        info = np.iinfo(dt)
        base = np.array([0, 1, info.max, info.min, info.max - 1,
                         info.min + 1, 2, 3], dtype=dt)
        if dt.kind == 'i':
            base = np.append(base, np.array([-1, -2], dtype=dt))
        a = np.resize(base, n)
    return a.astype(dt).reshape(shape)


def npy_bytes(arr, version=(1, 0), fortran=False):
    import io
    if fortran:
        arr = np.asfortranarray(arr)
    buf = io.BytesIO()
    npformat.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def raw(header, data=b'', version=1, pad=True):
    """A file with a hand-written header dict (padded to 64 as numpy does)."""
    h = header.encode('latin-1') if isinstance(header, str) else header
    lenbytes = 2 if version == 1 else 4
    if pad:
        total = 8 + lenbytes + len(h) + 1
        h = h + b' ' * ((64 - total % 64) % 64) + b'\n'
    magic = b'\x93NUMPY' + bytes([version, 0])
    length = struct.pack('<H' if lenbytes == 2 else '<I', len(h))
    return magic + length + h + data


def hdr(descr="'<f8'", fortran='False', shape='(2, 3)'):
    return ("{'descr': %s, 'fortran_order': %s, 'shape': %s, }"
            % (descr, fortran, shape))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith('.npy'):
            os.remove(os.path.join(out, name))

    files = {}

    # Every dtype, little-endian, 2-D and 3-D, C and Fortran order.
    for dt in DTYPES:
        for fortran in (False, True):
            o = 'F' if fortran else 'C'
            files['ok_v1_%s_%s_2d.npy' % (dt, o)] = npy_bytes(
                values((3, 4), '<' + dt), fortran=fortran)
            files['ok_v1_%s_%s_3d.npy' % (dt, o)] = npy_bytes(
                values((2, 3, 2), '<' + dt), fortran=fortran)
    # Big-endian for every multi-byte dtype.
    for dt in DTYPES:
        if dt[1] != '1':
            files['ok_v1_be_%s_C_2d.npy' % dt] = npy_bytes(
                values((2, 5), '>' + dt))
    files['ok_v1_be_f8_F_3d.npy'] = npy_bytes(values((2, 2, 3), '>f8'),
                                              fortran=True)
    # Format versions 2.0 and 3.0.
    for ver in ((2, 0), (3, 0)):
        for dt, o in (('f8', False), ('i2', True), ('u4', False)):
            files['ok_v%d_%s_%s_3d.npy' % (ver[0], dt, 'F' if o else 'C')] = \
                npy_bytes(values((2, 3, 4), '<' + dt), version=ver, fortran=o)
    # Other ranks: 0-D and 1-D and 4-D are valid files the reader refuses;
    # 1xN and Nx1 shapes, and one element.
    files['ok_v1_f8_0d.npy'] = npy_bytes(np.array(2.5))
    files['ok_v1_f8_1d.npy'] = npy_bytes(values((5,), '<f8'))
    files['ok_v1_i4_F_1d.npy'] = npy_bytes(values((5,), '<i4'), fortran=True)
    files['ok_v1_f4_C_4d.npy'] = npy_bytes(values((2, 1, 2, 2), '<f4'))
    files['ok_v1_u2_F_4d.npy'] = npy_bytes(values((2, 2, 1, 2), '<u2'),
                                           fortran=True)
    files['ok_v1_f8_1x7.npy'] = npy_bytes(values((1, 7), '<f8'))
    files['ok_v1_f8_F_7x1.npy'] = npy_bytes(values((7, 1), '<f8'),
                                            fortran=True)
    files['ok_v1_f8_1x1x1.npy'] = npy_bytes(values((1, 1, 1), '<f8'))
    files['zero_dim_2d.npy'] = npy_bytes(np.zeros((0, 3)))
    files['zero_dim_3d.npy'] = npy_bytes(np.zeros((2, 0, 3), dtype='<i1'))
    # Larger than the reader's 32768-element chunk, Fortran order, so that
    # the walk carries over from one chunk to the next (~33 KB).
    files['ok_v1_u1_F_chunks.npy'] = npy_bytes(
        (np.arange(2 * 129 * 128) % 251).astype('u1').reshape(2, 129, 128),
        fortran=True)
    # Trailing bytes after the data are ignored.
    files['ok_trailing_bytes.npy'] = npy_bytes(values((2, 2), '<f8')) + \
        b'extra'

    # Header syntax numpy accepts.
    ok_data = values((2, 3), '<f8').tobytes()
    for i, h in enumerate([
            '{"descr": "<f8", "fortran_order": False, "shape": (2, 3)}',
            "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
            "  { 'shape' :( 2 ,3 ) ,\n\t'descr':'<f8' ,\r\n "
            "'fortran_order' : False }",
            hdr(shape='(2L, 3L)'),
            hdr(shape='(2, 3,)'),
            hdr(descr="u'<f8'"),
            hdr(descr="'=f8'", shape='(+2, 3)'),
            hdr(descr="'f8'"),
            hdr(descr="'|f8'"),
            hdr(descr="'!f8'"),
            hdr(descr="b'<f8'"),
            hdr(descr="rb'<f8'"),
            "{'shape': (9, 9), 'descr': '<f8', 'fortran_order': False, "
            "'shape': (2, 3)}",
    ]):
        files['syntax_ok_%02d.npy' % i] = raw(h, ok_data)

    # Headers numpy or the reader refuse.
    for i, h in enumerate([
            hdr(shape='(3, x)'),
            hdr(shape='(2 3)'),
            hdr(shape='[2, 3]'),
            hdr(shape='(6)'),
            hdr(shape='(2, 3'),
            hdr(shape='(2.0, 3)'),
            hdr(shape='(,)'),
            hdr(shape='(2,, 3)'),
            hdr(shape='(-2, 3)'),
            hdr(shape='(-0, 3)'),
            hdr(shape='(99999999999999999999999, 3)'),
            hdr(shape='(4294967296, 4294967296)'),
            hdr(shape='(2305843009213693952, 1)'),
            hdr(shape='(' + '1, ' * 65 + ')'),
            hdr(shape='(' + '1, ' * 64 + ')'),
            hdr(fortran='true'),
            hdr(fortran='1'),
            hdr(descr="'<c16'"),
            hdr(descr="'<f2'"),
            hdr(descr="'O'"),
            hdr(descr="'<U3'"),
            hdr(descr="'<f8 '"),
            hdr(descr="'<ff8'"),
            hdr(descr="[('a', '<f8'), ('b', '<i4')]"),
            hdr(descr="[('a', '<f8', (2, [3])), ('b', {'x': (1,)})]"),
            hdr(descr='(' * 40 + ')' * 40),
            hdr(descr="[('a', '<f8')"),
            hdr(descr="[('a', '<f8'))"),
            hdr(descr="'<f8\\'"),
            hdr(descr="'<f\n8'"),
            hdr(descr="xy'<f8'"),
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'shape': (2, 3)}",
            "{'fortran_order': False, 'shape': (2, 3)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), "
            "'extra': 1}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x",
            "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3)}",
            "{'descr' '<f8', 'fortran_order': False, 'shape': (2, 3)}",
            "{descr: '<f8', 'fortran_order': False, 'shape': (2, 3)}",
            "['descr', '<f8']",
            "",
            "{",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)",
    ]):
        files['syntax_bad_%02d.npy' % i] = raw(h, ok_data)
    # Non-ASCII and NUL bytes in the header.
    files['syntax_bad_bytes.npy'] = raw(
        hdr(descr="'<f8\x00'").encode('latin-1') + b'\xff\xfe', ok_data)
    files['syntax_bad_utf8_v3.npy'] = raw(
        hdr(descr="'\xe9f8'"), ok_data, version=3)
    # Header without the padding and newline numpy writes.
    files['syntax_ok_unpadded.npy'] = raw(hdr(), ok_data, pad=False)

    # Broken framing.
    good = npy_bytes(values((3, 4), '<f8'))
    good3 = npy_bytes(values((2, 3, 4), '<i2'), version=(2, 0))
    files['bad_magic.npy'] = b'\x93NUMPZ' + good[6:]
    files['bad_magic_text.npy'] = b'not a numpy file at all\n'
    files['bad_version_4.npy'] = good[:6] + b'\x04\x00' + good[8:]
    files['bad_version_0.npy'] = good[:6] + b'\x00\x00' + good[8:]
    files['bad_version_1_1.npy'] = good[:6] + b'\x01\x01' + good[8:]
    files['bad_hlen_huge_v2.npy'] = (good3[:8] + struct.pack('<I', 0xffffffff)
                                     + good3[12:])
    files['bad_hlen_1mb_v2.npy'] = (good3[:8] + struct.pack('<I', 1 << 20)
                                    + good3[12:])
    files['bad_hlen_zero.npy'] = good[:8] + b'\x00\x00' + good[10:]
    files['bad_hlen_short.npy'] = good[:8] + b'\x10\x00' + good[10:]
    files['empty.npy'] = b''
    files['magic_only.npy'] = good[:6]
    files['trunc_in_len.npy'] = good[:9]
    files['trunc_in_len_v2.npy'] = good3[:10]
    files['trunc_in_header.npy'] = good[:40]
    files['trunc_after_header.npy'] = good[:128]
    files['trunc_in_data.npy'] = good[:-1]
    files['trunc_in_data_v2.npy'] = good3[:-7]
    files['trunc_data_F.npy'] = npy_bytes(values((3, 4), '<u2'),
                                          fortran=True)[:-3]

    total = 0
    for name in sorted(files):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(files[name])
        total += len(files[name])
    print('%d files, %d bytes in %s' % (len(files), total, out))


if __name__ == '__main__':
    main()
