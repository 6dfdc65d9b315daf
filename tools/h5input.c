/* Matrices from an HDF5 dataset, "-m FILE.h5:/path/to/dataset": a 2-D
 * dataset is one matrix, a 3-D one a stack of them. HDF5 converts any
 * integer, float or enum (h5py's bool) type to double as it reads, a
 * matrix at a time (a hyperslab of one matrix), so a stack takes one
 * matrix of memory. h5_input holds names, not open handles: each read
 * opens the file again, which costs little next to a matrix's
 * convolutions and leaves nothing open between reads. HDF5's own error
 * stack is silenced; every refusal is one line naming FILE and dataset. */
#include "h5input.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Does name end in ".h5" or ".hdf5" (any case)? */
static bool h5_named(const char *name, size_t len)
{
    return (len > 3 && strncasecmp(name + len - 3, ".h5", 3) == 0) ||
           (len > 5 && strncasecmp(name + len - 5, ".hdf5", 5) == 0);
}

/* Is the file of that name (len bytes of s) an HDF5 file? */
static bool h5_file(const char *s, size_t len)
{
    char path[4096];
    struct stat sb;
    if (len >= sizeof path)
        return false;
    memcpy(path, s, len);
    path[len] = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && H5Fis_hdf5(path) > 0;
}

/* Where FILE ends in an "FILE:/PATH" spec: at the first ":/" after a name
 * that ends in .h5/.hdf5 or is an HDF5 file (a file name may hold ":/"
 * itself); NULL if none. */
static const char *spec_colon(const char *arg)
{
    for (const char *c = strstr(arg, ":/"); c; c = strstr(c + 1, ":/"))
        if (c > arg && (h5_named(arg, (size_t)(c - arg)) ||
                        h5_file(arg, (size_t)(c - arg))))
            return c;
    return NULL;
}

bool h5_is_spec(const char *arg)
{
    /* A bare FILE.h5 is one too: h5_open then asks for the dataset,
     * rather than the .npy reader calling it no .npy file. */
    return spec_colon(arg) || h5_named(arg, strlen(arg));
}

/* The stored type as numpy would name it ("f8", "i2", "u1"; "b1" for an
 * enum, as h5py stores bools), or "" if it is not a number. */
static void type_name(hid_t t, char *buf, size_t n)
{
    size_t size = H5Tget_size(t);
    buf[0] = 0;
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        snprintf(buf, n, "%c%zu", H5Tget_sign(t) == H5T_SGN_NONE ? 'u' : 'i',
                 size);
        break;
    case H5T_FLOAT:
        snprintf(buf, n, "f%zu", size);
        break;
    case H5T_ENUM: {
        hid_t base = H5Tget_super(t);
        if (base >= 0 && H5Tget_class(base) == H5T_INTEGER)
            snprintf(buf, n, "b%zu", size);
        H5Idec_ref(base);
        break;
    }
    default:
        break;
    }
}

/* What a class is called in a refusal. */
static const char *class_name(H5T_class_t c)
{
    static const struct {
        H5T_class_t c;
        const char *name;
    } names[] = {
        {H5T_STRING, "strings"},     {H5T_COMPOUND, "a compound type"},
        {H5T_BITFIELD, "bitfields"}, {H5T_OPAQUE, "an opaque type"},
        {H5T_REFERENCE, "references"}, {H5T_VLEN, "variable-length data"},
        {H5T_ARRAY, "arrays"},       {H5T_TIME, "times"},
        {H5T_ENUM, "an enum of non-integers"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].c == c)
            return names[i].name;
    return "a non-numeric type";
}

/* Opens in->file and its dataset: *file and *dset, both closed by the
 * caller (H5Idec_ref) when >= 0. */
static int open_dataset(const h5_input *in, hid_t *file, hid_t *dset)
{
    struct stat sb;
    *file = *dset = H5I_INVALID_HID;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (stat(in->file, &sb) != 0)
        return pc_error(PC_EINPUT, "cannot open '%s': %s", in->file,
                        strerror(errno));
    if (!S_ISREG(sb.st_mode) || H5Fis_hdf5(in->file) <= 0 ||
        (*file = H5Fopen(in->file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return pc_error(PC_EINPUT, "'%s' is not an HDF5 file (or is corrupt); "
                        "cannot read '%s' from it", in->file, in->dataset);
    /* H5Lexists fails on a path through a missing group: each level is
     * checked in turn. */
    char path[sizeof in->dataset];
    memcpy(path, in->dataset, sizeof path);
    for (char *s = strchr(path + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = 0;
        if (path[1] && H5Lexists(*file, path, H5P_DEFAULT) <= 0)
            return pc_error(PC_EINPUT, "'%s' has no dataset '%s'", in->file,
                            in->dataset);
        if (!s)
            break;
        *s = '/';
    }
    hid_t obj = H5Oopen(*file, in->dataset, H5P_DEFAULT);
    H5I_type_t kind = obj >= 0 ? H5Iget_type(obj) : H5I_BADID;
    if (kind == H5I_DATASET)
        *dset = obj;
    else if (obj >= 0)
        H5Idec_ref(obj);
    if (kind != H5I_DATASET)
        return pc_error(PC_EINPUT, "'%s': '%s' is %s, not a dataset", in->file,
                        in->dataset,
                        kind == H5I_GROUP     ? "a group"
                        : kind == H5I_DATATYPE ? "a named type"
                                               : "no object HDF5 can open");
    return PC_OK;
}

/* Checks the dataset's shape and type, filling in. */
static int describe(h5_input *in, hid_t dset)
{
    hsize_t dims[H5S_MAX_RANK];
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    int ndim = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    type_name(type, in->type, sizeof in->type);
    if (ndim >= 0)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Idec_ref(space);
    H5Idec_ref(type);
    if (!in->type[0])
        return pc_error(PC_EINPUT, "'%s': dataset '%s' holds %s, not numbers",
                        in->file, in->dataset, class_name(cls));
    if (ndim != 2 && ndim != 3)
        return pc_error(PC_EINPUT, "'%s': dataset '%s' has %d dimension%s; "
                        "-m takes 2 (a matrix) or 3 (a stack of matrices)",
                        in->file, in->dataset, ndim < 0 ? 0 : ndim,
                        ndim == 1 ? "" : "s");
    in->ndim = ndim;
    in->nmat = ndim == 3 ? (size_t)dims[0] : 1;
    in->rows = (size_t)dims[ndim - 2];
    in->cols = (size_t)dims[ndim - 1];
    if (in->nmat == 0 || in->rows == 0 || in->cols == 0)
        return pc_error(PC_EINPUT, "'%s': dataset '%s' is empty (%zu x %zu x "
                        "%zu)", in->file, in->dataset, in->nmat, in->rows,
                        in->cols);
    return PC_OK;
}

int h5_open(const char *spec, h5_input *in)
{
    memset(in, 0, sizeof *in);
    const char *colon = spec_colon(spec);
    size_t flen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!colon)
        return pc_error(PC_EINPUT, "'%s': name the dataset to read, as "
                        "%s:/path/to/dataset", spec, spec);
    if (flen >= sizeof in->file || strlen(colon + 1) >= sizeof in->dataset)
        return pc_error(PC_EINPUT, "'%.60s...': name too long", spec);
    memcpy(in->file, spec, flen);
    strcpy(in->dataset, colon + 1);
    hid_t file, dset;
    int st = open_dataset(in, &file, &dset);
    if (!st)
        st = describe(in, dset);
    struct stat sb;
    if (!st && stat(in->file, &sb) == 0)
        in->file_bytes = (size_t)sb.st_size;
    if (dset >= 0)
        H5Idec_ref(dset);
    if (file >= 0)
        H5Fclose(file);
    return st;
}

int h5_read_matrix(const h5_input *in, size_t index, pc_matrix *m)
{
    m->data = NULL;
    if (index >= in->nmat)
        return pc_error(PC_EUSAGE, "'%s': dataset '%s' has no matrix %zu",
                        in->file, in->dataset, index);
    hid_t file, dset;
    h5_input now = *in;
    int st = open_dataset(in, &file, &dset);
    if (!st)
        st = describe(&now, dset);
    if (!st && (now.nmat != in->nmat || now.rows != in->rows ||
                now.cols != in->cols))
        st = pc_error(PC_EINPUT, "'%s': dataset '%s' changed while it was "
                      "read", in->file, in->dataset);
    if (!st)
        st = pc_matrix_alloc(m, in->rows, in->cols);
    if (!st) {
        hsize_t start[3] = {index, 0, 0}, count[3] = {1, in->rows, in->cols};
        int off = in->ndim == 3 ? 0 : 1;
        hid_t fspace = H5Dget_space(dset);
        hid_t mspace = H5Screate_simple(2, count + 1, NULL);
        if (fspace < 0 || mspace < 0 ||
            H5Sget_simple_extent_ndims(fspace) != in->ndim ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start + off, NULL,
                                count + off, NULL) < 0 ||
            H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
                    m->data) < 0)
            st = pc_error(PC_EINPUT, "'%s': cannot read matrix %zu of dataset "
                          "'%s' (corrupt, or compressed by a filter this HDF5 "
                          "lacks)", in->file, index, in->dataset);
        H5Idec_ref(fspace);
        H5Idec_ref(mspace);
    }
    if (st)
        pc_matrix_free(m);
    if (dset >= 0)
        H5Idec_ref(dset);
    if (file >= 0)
        H5Fclose(file);
    return st;
}
