/* --format hdf5: the run's planes in DIR/conv.h5 (a shard's:
 * conv.shard-I-of-N.h5), dataset /conv of shape (N, K, R', C') in the
 * computed dtype (IEEE little-endian), one chunk per plane, so that a
 * plane is written, compressed and read on its own.
 *
 * Layout. Nothing is written for a plane not yet computed: the fill value
 * is never written (H5D_FILL_TIME_NEVER). Without compression every chunk
 * is allocated when the dataset is made (H5D_ALLOC_TIME_EARLY: space
 * reserved, not written, so the file is sparse as a stack is), which
 * fixes where each plane goes whatever the order planes come in: writing
 * a plane then changes no metadata, and an interrupted and resumed run
 * gives the same bytes as one run. Compressed (deflate:LEVEL, after HDF5's
 * shuffle filter, which groups the bytes of equal weight and so compresses
 * smooth floats better), chunks differ in size and are allocated as they
 * are written: the file's layout then follows the order planes came in,
 * its values do not. No object carries times (H5Pset_obj_track_times).
 *
 * At commit the manifest's checksums become /checksums (N, K) uint64 (0
 * for a plane this file does not hold), every scalar of the manifest's
 * "workload" an attribute of /conv, and the whole manifest the string
 * attribute /conv.attrs["manifest"].
 *
 * The temporary: outdir_file_open makes ".conv.h5.XXXXXX.tmp" (O_EXCL, an
 * unguessable name), its descriptor is closed and H5Fcreate(H5F_ACC_TRUNC)
 * opens that name again, which nobody else can have replaced by a link;
 * commit closes the HDF5 file and outdir_file_commit syncs and renames it.
 * HDF5's own error stack is silenced: errors are parconv's one line. */
#include "outdir.h"
#include "outfmt.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    outdir_file f;    /* final name, temporary's name; f.fd unused */
    const char *name; /* the file opened: f.tmp or f.path */
    size_t dir_len;   /* of "DIR/" in f.tmp, 0 while f.tmp is "" */
    bool writable;
    outfmt_spec spec; /* its numbers; dir and partial are not kept */
    hid_t file, dset;
} hdf_ctx;

static void hdf_final(const outfmt_spec *spec, char *buf, size_t n)
{
    int w = spec->shard_n > 1
                ? snprintf(buf, n, "conv.shard-%zu-of-%zu", spec->shard_i,
                           spec->shard_n)
                : snprintf(buf, n, "conv");
    if (w >= 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, ".h5");
}

static void hdf_final_names(const outfmt_spec *spec, char *buf, size_t n)
{
    hdf_final(spec, buf, n);
    size_t len = strlen(buf);
    if (n > len + 1)
        snprintf(buf + len, n - len, "\n");
}

static hid_t file_type(pc_dtype dt)
{
    return dt == PC_F64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
}

static hid_t mem_type(pc_dtype dt)
{
    return dt == PC_F64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
}

/* Closes an HDF5 object of any kind if open. */
static void hdf_drop(hid_t *id)
{
    if (*id >= 0)
        H5Idec_ref(*id);
    *id = H5I_INVALID_HID;
}

/* File access: every object closed with the file; file locking that a
 * file system without locks (NFS, Lustre) ignores rather than refuses;
 * and a metadata cache that never evicts (it grows instead), so that
 * HDF5 writes its metadata only when flushed: a run killed between
 * flushes leaves the file as the last flush made it (HDF5 keeps no
 * journal: one killed during a flush may be unreadable, and is then
 * refused as corrupt). */
static hid_t access_plist(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5AC_cache_config_t mdc = {.version = H5AC__CURR_CACHE_CONFIG_VERSION};
    if (fapl >= 0 && H5Pget_mdc_config(fapl, &mdc) >= 0) {
        mdc.evictions_enabled = false;
        mdc.incr_mode = H5C_incr__off;
        mdc.flash_incr_mode = H5C_flash_incr__off;
        mdc.decr_mode = H5C_decr__off;
        H5Pset_mdc_config(fapl, &mdc);
    }
    if (fapl >= 0)
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 12, 1) || \
    (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    if (fapl >= 0)
        H5Pset_file_locking(fapl, true, true);
#endif
    return fapl;
}

/* The creation properties of /conv (see the top of the file). */
static int conv_plist(const outfmt_spec *s, hid_t *dcpl)
{
    hsize_t chunk[4] = {1, 1, s->orows, s->ocols};
    *dcpl = H5Pcreate(H5P_DATASET_CREATE);
    bool ok = *dcpl >= 0 && H5Pset_chunk(*dcpl, 4, chunk) >= 0 &&
              H5Pset_fill_time(*dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
              H5Pset_obj_track_times(*dcpl, false) >= 0;
    if (ok && s->deflate >= 0)
        ok = H5Pset_alloc_time(*dcpl, H5D_ALLOC_TIME_INCR) >= 0 &&
             H5Pset_shuffle(*dcpl) >= 0 &&
             H5Pset_deflate(*dcpl, (unsigned)s->deflate) >= 0;
    else if (ok)
        ok = H5Pset_alloc_time(*dcpl, H5D_ALLOC_TIME_EARLY) >= 0;
    return ok ? PC_OK : pc_error(PC_ESYS, "hdf5: cannot set up /conv");
}

static int hdf_create(hdf_ctx *c)
{
    const outfmt_spec *s = &c->spec;
    if (s->deflate >= 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
        return pc_error(PC_EUSAGE, "this HDF5 library has no deflate filter");
    char path[sizeof c->f.path];
    memcpy(path, c->f.path, sizeof path);
    int st = outdir_file_open(&c->f, path, false);
    if (st)
        return st;
    close(c->f.fd);
    c->f.fd = -1;
    c->name = c->f.tmp;
    c->dir_len = strlen(c->f.tmp) - strlen(strrchr(c->f.tmp, '/') + 1);
    hsize_t dims[4] = {s->nmat, s->count, s->orows, s->ocols};
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = access_plist();
    hid_t dcpl = H5I_INVALID_HID, space = H5Screate_simple(4, dims, NULL);
    st = conv_plist(s, &dcpl);
    if (!st && (fcpl < 0 || H5Pset_obj_track_times(fcpl, false) < 0))
        st = pc_error(PC_ESYS, "hdf5: cannot set up the file");
    if (!st) {
        errno = 0;
        c->file = H5Fcreate(c->f.tmp, H5F_ACC_TRUNC, fcpl, fapl);
        if (c->file >= 0)
            c->dset = H5Dcreate2(c->file, "/conv", file_type(s->dtype), space,
                                 H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (c->dset < 0 || H5Fflush(c->file, H5F_SCOPE_GLOBAL) < 0)
            st = pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                          errno ? strerror(errno) : "HDF5 cannot create it");
    }
    hdf_drop(&fcpl);
    hdf_drop(&fapl);
    hdf_drop(&dcpl);
    hdf_drop(&space);
    if (st) {
        hdf_drop(&c->dset);
        hdf_drop(&c->file);
        outdir_file_discard(&c->f);
    }
    return st;
}

/* Is /conv what this spec makes: its shape, type and chunks, and (when
 * continuing it) its filters? */
static bool conv_matches(const hdf_ctx *c)
{
    const outfmt_spec *s = &c->spec;
    hsize_t want[4] = {s->nmat, s->count, s->orows, s->ocols}, dims[4];
    hsize_t chunk[4];
    hid_t space = H5Dget_space(c->dset), type = H5Dget_type(c->dset);
    hid_t dcpl = H5Dget_create_plist(c->dset);
    bool ok = space >= 0 && type >= 0 && dcpl >= 0 &&
              H5Sget_simple_extent_ndims(space) == 4 &&
              H5Sget_simple_extent_dims(space, dims, NULL) == 4 &&
              memcmp(dims, want, sizeof dims) == 0 &&
              H5Tequal(type, file_type(s->dtype)) > 0 &&
              H5Pget_layout(dcpl) == H5D_CHUNKED &&
              H5Pget_chunk(dcpl, 4, chunk) == 4 && chunk[0] == 1 &&
              chunk[1] == 1 && chunk[2] == s->orows && chunk[3] == s->ocols;
    if (ok && c->writable) {
        /* Resumed with the compression it was begun with, so that the
         * file is what one run with these options writes. */
        unsigned flags, level = 0;
        size_t nlevel = 1;
        int nf = H5Pget_nfilters(dcpl);
        ok = s->deflate < 0
                 ? nf == 0
                 : nf == 2 &&
                       H5Pget_filter_by_id2(dcpl, H5Z_FILTER_SHUFFLE, &flags,
                                            NULL, NULL, 0, NULL, NULL) >= 0 &&
                       H5Pget_filter_by_id2(dcpl, H5Z_FILTER_DEFLATE, &flags,
                                            &nlevel, &level, 0, NULL,
                                            NULL) >= 0 &&
                       nlevel >= 1 && level == (unsigned)s->deflate;
    }
    hdf_drop(&space);
    hdf_drop(&type);
    hdf_drop(&dcpl);
    return ok;
}

/* An existing file (the final one, or the temporary spec->partial), if it
 * is a regular file HDF5 opens with a /conv this spec makes. */
static int hdf_reopen(hdf_ctx *c)
{
    const outfmt_spec *s = &c->spec;
    struct stat sb;
    if (lstat(c->name, &sb) != 0)
        return pc_error(PC_EINPUT, "cannot open '%s': %s", c->name,
                        strerror(errno));
    hid_t fapl = access_plist();
    if (S_ISREG(sb.st_mode))
        c->file = H5Fopen(c->name, c->writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY,
                          fapl);
    hdf_drop(&fapl);
    if (c->file >= 0 && H5Lexists(c->file, "conv", H5P_DEFAULT) > 0 &&
        H5Oexists_by_name(c->file, "conv", H5P_DEFAULT) > 0)
        c->dset = H5Dopen2(c->file, "conv", H5P_DEFAULT);
    if (c->dset < 0)
        return pc_error(PC_EINPUT, "'%s' is corrupt or truncated, or not "
                        "parconv's: no HDF5 file with a dataset /conv in it",
                        c->name);
    if (!conv_matches(c))
        return pc_error(PC_EINPUT, "'%s' is not this run's: its /conv is not "
                        "%zu x %zu planes of %zu x %zu %s in chunks of a plane%s",
                        c->name, s->nmat, s->count, s->orows, s->ocols,
                        pc_dtype_name(s->dtype),
                        c->writable ? " compressed as --compress says" : "");
    return PC_OK;
}

static void hdf_close(void *ctx)
{
    hdf_ctx *c = ctx;
    if (!c)
        return;
    /* Without a commit the temporary stays for --resume. */
    hdf_drop(&c->dset);
    hdf_drop(&c->file);
    free(c);
}

static int hdf_open(void **ctx, const outfmt_spec *spec, enum outfmt_mode mode)
{
    char final[96];
    hdf_ctx *c = calloc(1, sizeof *c);
    *ctx = NULL;
    if (!c)
        return pc_error(PC_ENOMEM, "out of memory");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    c->f.fd = -1;
    c->file = c->dset = H5I_INVALID_HID;
    c->spec = *spec;
    c->spec.dir = c->spec.partial = NULL;
    c->writable = mode != OUTFMT_READ;
    c->name = c->f.path;
    hdf_final(spec, final, sizeof final);
    size_t plane = spec->orows * spec->ocols * pc_dtype_size(spec->dtype);
    int st = PC_OK;
    /* HDF5 chunks hold less than 4 GiB. */
    if (spec->orows == 0 || spec->ocols == 0 || plane / spec->ocols /
        pc_dtype_size(spec->dtype) != spec->orows || plane >= (1ull << 32))
        st = pc_error(PC_EUSAGE, "hdf5: planes of %zu x %zu %s do not fit "
                      "an HDF5 chunk (4 GiB); use --format stack",
                      spec->orows, spec->ocols, pc_dtype_name(spec->dtype));
    if (!st)
        st = outdir_path(c->f.path, sizeof c->f.path, spec->dir, final);
    if (!st && mode != OUTFMT_NEW && spec->partial) {
        /* Only a temporary of this final name in DIR, whatever a
         * manifest says. */
        size_t len = strlen(final);
        const char *p = spec->partial, *end = p + strlen(p);
        bool temp = p[0] == '.' && !strchr(p, '/') && end - p > (long)len + 6 &&
                    !strncmp(p + 1, final, len) && p[len + 1] == '.' &&
                    !strcmp(end - 4, ".tmp");
        st = temp ? outdir_path(c->f.tmp, sizeof c->f.tmp, spec->dir, p)
                  : pc_error(PC_EINPUT, "'%s' is not a temporary of '%s'", p,
                             final);
        c->name = c->f.tmp;
        c->dir_len = st ? 0 : strlen(c->f.tmp) - strlen(p);
    } else if (!st && mode == OUTFMT_RESUME) {
        st = pc_error(PC_EUSAGE, "hdf5: resuming needs the temporary's name");
    }
    if (!st)
        st = mode == OUTFMT_NEW ? hdf_create(c) : hdf_reopen(c);
    if (st) {
        hdf_close(c);
        return st;
    }
    *ctx = c;
    return PC_OK;
}

/* The temporary's name in DIR: after "DIR/". */
static const char *hdf_partial(void *ctx)
{
    return ((hdf_ctx *)ctx)->f.tmp + ((hdf_ctx *)ctx)->dir_len;
}

/* Plane (n, k) selected in *fspace, and a memory space of one plane. */
static int plane_spaces(const hdf_ctx *c, size_t n, size_t k, hid_t *fspace,
                        hid_t *mspace)
{
    const outfmt_spec *s = &c->spec;
    hsize_t start[4] = {n, k, 0, 0}, count[4] = {1, 1, s->orows, s->ocols};
    *fspace = *mspace = H5I_INVALID_HID;
    if (n >= s->nmat || k >= s->count || c->dset < 0)
        return pc_error(PC_EUSAGE, "hdf5: no plane (%zu, %zu) in '%s'", n, k,
                        c->name);
    *fspace = H5Dget_space(c->dset);
    *mspace = H5Screate_simple(2, count + 2, NULL);
    if (*fspace < 0 || *mspace < 0 ||
        H5Sselect_hyperslab(*fspace, H5S_SELECT_SET, start, NULL, count,
                            NULL) < 0)
        return pc_error(PC_ESYS, "hdf5: cannot select plane (%zu, %zu)", n, k);
    return PC_OK;
}

static int hdf_write_plane(void *ctx, size_t n, size_t k, const void *plane)
{
    hdf_ctx *c = ctx;
    hid_t fspace, mspace;
    int st = plane_spaces(c, n, k, &fspace, &mspace);
    if (!st && !c->writable)
        st = pc_error(PC_EUSAGE, "hdf5: '%s' is open for reading", c->name);
    errno = 0;
    if (!st && H5Dwrite(c->dset, mem_type(c->spec.dtype), mspace, fspace,
                        H5P_DEFAULT, plane) < 0)
        st = pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                      errno ? strerror(errno) : "HDF5 write failed");
    hdf_drop(&fspace);
    hdf_drop(&mspace);
    return st;
}

static int hdf_read_plane(void *ctx, size_t n, size_t k, void *plane)
{
    hdf_ctx *c = ctx;
    hid_t fspace, mspace;
    int st = plane_spaces(c, n, k, &fspace, &mspace);
    if (!st && H5Dread(c->dset, mem_type(c->spec.dtype), mspace, fspace,
                       H5P_DEFAULT, plane) < 0)
        st = pc_error(PC_EINPUT, "'%s' is corrupt or truncated: plane "
                      "(%zu, %zu) cannot be read", c->name, n, k);
    hdf_drop(&fspace);
    hdf_drop(&mspace);
    return st;
}

static int hdf_flush(void *ctx)
{
    hdf_ctx *c = ctx;
    int *fd = NULL;
    if (!c->writable)
        return PC_OK;
    errno = 0;
    if (H5Fflush(c->file, H5F_SCOPE_GLOBAL) < 0 ||
        H5Fget_vfd_handle(c->file, H5P_DEFAULT, (void **)&fd) < 0 || !fd ||
        fsync(*fd) != 0)
        return pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                        errno ? strerror(errno) : "HDF5 cannot flush it");
    return PC_OK;
}

/* ---- commit: checksums and attributes from the manifest ---------------- */

/* The shard's checksums (sums[q]: plane shard_i + q * shard_n) at their
 * planes' places of an (N, K) array; another shard's planes keep 0. */
static void place_sums(const outfmt_spec *s, const uint64_t *sums,
                       uint64_t *all)
{
    for (size_t q = 0, p = s->shard_i; p < s->nmat * s->count;
         q++, p += s->shard_n)
        all[p] = sums[q];
}

/* Writes attribute name of obj (replacing one of that name) from value,
 * of memory type mtype stored as ftype. */
static bool put_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                     const void *value)
{
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        return false;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = a >= 0 && H5Awrite(a, mtype, value) >= 0;
    hdf_drop(&a);
    hdf_drop(&space);
    return ok;
}

/* A scalar JSON value as an attribute: strings as UTF-8 strings, integers
 * as int64, reals as float64, booleans as h5py's bool (an enum of int8,
 * FALSE 0 and TRUE 1); anything else (objects, arrays, null) is left to
 * the manifest attribute. */
static bool json_attr(hid_t obj, const char *name, const json_t *v, hid_t str)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return put_attr(obj, name, str, str, &s);
    }
    if (json_is_integer(v)) {
        int64_t i = json_integer_value(v);
        return put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &i);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return put_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &d);
    }
    if (!json_is_boolean(v))
        return true;
    int8_t b = json_is_true(v), no = 0, yes = 1;
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    bool ok = t >= 0 && H5Tenum_insert(t, "FALSE", &no) >= 0 &&
              H5Tenum_insert(t, "TRUE", &yes) >= 0 &&
              put_attr(obj, name, t, t, &b);
    hdf_drop(&t);
    return ok;
}

/* /checksums (N, K) uint64, made or (a commit begun before) rewritten. */
static bool write_sums(const hdf_ctx *c, const uint64_t *sums)
{
    hsize_t dims[2] = {c->spec.nmat, c->spec.count};
    hid_t d = H5I_INVALID_HID, dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t space = H5Screate_simple(2, dims, NULL);
    if (H5Lexists(c->file, "checksums", H5P_DEFAULT) > 0)
        d = H5Dopen2(c->file, "checksums", H5P_DEFAULT);
    else if (dcpl >= 0 && H5Pset_obj_track_times(dcpl, false) >= 0)
        d = H5Dcreate2(c->file, "checksums", H5T_STD_U64LE, space,
                       H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bool ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL,
                                 H5P_DEFAULT, sums) >= 0;
    hdf_drop(&d);
    hdf_drop(&dcpl);
    hdf_drop(&space);
    return ok;
}

/* The manifest into the file: /checksums and /conv's attributes. */
static int write_manifest(hdf_ctx *c, const char *manifest_json,
                          const uint64_t *shard_sums)
{
    json_error_t jerr;
    json_t *root = json_loads(manifest_json ? manifest_json : "", 0, &jerr);
    uint64_t *sums = calloc(c->spec.nmat * c->spec.count, sizeof *sums);
    hid_t str = H5Tcopy(H5T_C_S1);
    if (!json_is_object(root) || !sums || str < 0) {
        json_decref(root);
        free(sums);
        hdf_drop(&str);
        return root ? pc_error(PC_ENOMEM, "out of memory")
                    : pc_error(PC_EUSAGE, "hdf5: the manifest is not JSON: %s",
                               jerr.text);
    }
    place_sums(&c->spec, shard_sums, sums);
    bool ok = H5Tset_size(str, H5T_VARIABLE) >= 0 &&
              H5Tset_cset(str, H5T_CSET_UTF8) >= 0 && write_sums(c, sums);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(root, "workload"), key, v) {
        if (ok)
            ok = json_attr(c->dset, key, v, str);
    }
    ok = ok && put_attr(c->dset, "manifest", str, str, &manifest_json);
    json_decref(root);
    free(sums);
    hdf_drop(&str);
    return ok ? PC_OK : pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                                 errno ? strerror(errno)
                                       : "HDF5 cannot store the manifest");
}

static int hdf_commit(void *ctx, const char *manifest_json,
                      const uint64_t *sums)
{
    hdf_ctx *c = ctx;
    if (!c->writable || c->file < 0)
        return pc_error(PC_EUSAGE, "hdf5: '%s' is not a temporary to commit",
                        c->name);
    errno = 0;
    int st = write_manifest(c, manifest_json, sums);
    hdf_drop(&c->dset);
    /* H5Fclose writes what HDF5 still holds; then the file is synced and
     * renamed (outdir_file_commit removes it if that fails). */
    if (H5Fclose(c->file) < 0 && !st)
        st = pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                      errno ? strerror(errno) : "HDF5 cannot close it");
    c->file = H5I_INVALID_HID;
    if (!st)
        st = outdir_file_commit(&c->f);
    if (!c->f.tmp[0])
        c->dir_len = 0; /* renamed, or removed as the commit failed */
    c->name = c->f.path;
    return st;
}

const outfmt outfmt_hdf5 = {
    .name = "hdf5", .help = "one HDF5 file per run, dataset /conv (N, K, R', C') in chunks "
            "of a plane, --compress deflate[:LEVEL] with shuffle",
    .open = hdf_open, .partial = hdf_partial, .close = hdf_close,
    .write_plane = hdf_write_plane, .read_plane = hdf_read_plane,
    .flush = hdf_flush, .commit = hdf_commit, .final_names = hdf_final_names,
};
