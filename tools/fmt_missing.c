/* Stand-ins for the back-ends not yet in the tree (meson compiles this
 * file only then, with -DPC_MISSING_<FILE> for each one missing): the
 * stack and hdf5 formats refuse to open, HDF5 inputs are refused. The
 * real files replace it. */
#include "h5input.h"
#include "outfmt.h"

#include <string.h>
#include <strings.h>

#if defined(PC_MISSING_FMT_STACK) || defined(PC_MISSING_FMT_HDF5)
static int not_built(const char *name)
{
    return pc_error(PC_EUSAGE, "format %s is not built", name);
}

static void no_names(const outfmt_spec *spec, char *buf, size_t n)
{
    (void)spec;
    if (n)
        buf[0] = 0;
}
#endif

#ifdef PC_MISSING_FMT_STACK
static int stack_open(void **ctx, const outfmt_spec *spec,
                      enum outfmt_mode mode)
{
    (void)spec, (void)mode;
    *ctx = NULL;
    return not_built("stack");
}

const outfmt outfmt_stack = {
    .name = "stack",
    .help = "one .npy of shape (N, K, R', C') (not built)",
    .open = stack_open,
    .final_names = no_names,
};
#endif

#ifdef PC_MISSING_FMT_HDF5
static int hdf5_open(void **ctx, const outfmt_spec *spec,
                     enum outfmt_mode mode)
{
    (void)spec, (void)mode;
    *ctx = NULL;
    return not_built("hdf5");
}

const outfmt outfmt_hdf5 = {
    .name = "hdf5",
    .help = "DIR/conv.h5, dataset /conv (not built)",
    .open = hdf5_open,
    .final_names = no_names,
};
#endif

#ifdef PC_MISSING_H5INPUT
bool h5_is_spec(const char *arg)
{
    const char *colon = strstr(arg, ":/");
    if (!colon)
        return false;
    size_t n = (size_t)(colon - arg);
    return (n > 3 && strncasecmp(colon - 3, ".h5", 3) == 0) ||
           (n > 5 && strncasecmp(colon - 5, ".hdf5", 5) == 0);
}

int h5_open(const char *spec, h5_input *in)
{
    memset(in, 0, sizeof *in);
    return pc_error(PC_EUSAGE, "%s: HDF5 inputs are not built", spec);
}

int h5_read_matrix(const h5_input *in, size_t index, pc_matrix *m)
{
    (void)in, (void)index, (void)m;
    return pc_error(PC_EUSAGE, "HDF5 inputs are not built");
}
#endif
