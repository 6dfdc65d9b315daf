/* h5input.c: matrices from an HDF5 dataset, "-m FILE.h5:/path/to/dataset".
 * A dataset of 2 dimensions is one matrix, of 3 a stack of them (N x R x C);
 * any numeric type (integers, floats, bool-like enums of integers) is
 * converted to double as .npy inputs are. Read a matrix at a time, so the
 * memory a stack takes stays one matrix. */
#ifndef PC_H5INPUT_H
#define PC_H5INPUT_H

#include "parconv.h"

#include <stdbool.h>
#include <stddef.h>

/* What an HDF5 input is, for the shapes and the manifest's identity. */
typedef struct {
    char file[4096];    /* the part before ':' */
    char dataset[1024]; /* the part after it, starting with '/' */
    int ndim;           /* 2 or 3 */
    size_t nmat, rows, cols; /* nmat 1 for a 2-D dataset */
    char type[64];      /* the stored type, e.g. "f8", "i2", "u1" */
    size_t file_bytes;  /* the file's size */
} h5_input;

/* Whether an -m argument names an HDF5 dataset: "FILE:/PATH" where FILE
 * ends in .h5 or .hdf5 (case-insensitive) or is an HDF5 file. */
bool h5_is_spec(const char *arg);
/* Opens the dataset and fills in; PC_EINPUT (exit 2) with a one-line
 * message naming FILE and the dataset for a missing file or dataset, a
 * dataset of 1 or 4+ dimensions, a non-numeric type (strings, compounds),
 * or an empty one. Prints nothing (HDF5's own error stack is silenced). */
int h5_open(const char *spec, h5_input *in);
/* Matrix `index` (0 for a 2-D dataset) into m (allocated here, rows x
 * cols doubles; pc_matrix_free frees it). */
int h5_read_matrix(const h5_input *in, size_t index, pc_matrix *m);

#endif
