/* Names of the enums, as the command line and the reports spell them. */
#include "parconv.h"

#include <string.h>

static const char *const dtype_names[] = {[PC_F64] = "f64", [PC_F32] = "f32"};
static const char *const mode_names[] = {
    [PC_FULL] = "full", [PC_SAME] = "same", [PC_VALID] = "valid"};
static const char *const boundary_names[] = {
    [PC_FILL] = "fill", [PC_WRAP] = "wrap", [PC_SYMM] = "symm"};
static const char *const method_names[] = {
    [PC_DIRECT] = "direct", [PC_FFT] = "fft", [PC_AUTO] = "auto"};
static const char *const isa_names[] = {
    [PC_ISA_AUTO] = "auto",
    [PC_ISA_GENERIC] = "generic",
    [PC_ISA_AVX2] = "avx2",
    [PC_ISA_AVX512] = "avx512",
};
static const char *const strategy_names[] = {
    [PC_SERIAL] = "serial",
    [PC_PROCS] = "procs",
    [PC_THREADS] = "threads",
    [PC_OMP] = "omp",
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

static int parse(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (s && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *pc_dtype_name(pc_dtype d) { return name_of(dtype_names, COUNT(dtype_names), d); }
const char *pc_mode_name(pc_mode m) { return name_of(mode_names, COUNT(mode_names), m); }
const char *pc_boundary_name(pc_boundary b) { return name_of(boundary_names, COUNT(boundary_names), b); }
const char *pc_method_name(pc_method m) { return name_of(method_names, COUNT(method_names), m); }
const char *pc_strategy_name(pc_strategy s) { return name_of(strategy_names, COUNT(strategy_names), s); }
const char *pc_isa_name(pc_isa i) { return name_of(isa_names, COUNT(isa_names), i); }

int pc_dtype_parse(const char *s)
{
    /* numpy's and C's spellings are accepted too; "float" is not: numpy
     * reads it as float64, C as float32. */
    if (s && (strcmp(s, "float64") == 0 || strcmp(s, "double") == 0))
        return PC_F64;
    if (s && (strcmp(s, "float32") == 0 || strcmp(s, "single") == 0))
        return PC_F32;
    return parse(dtype_names, COUNT(dtype_names), s);
}
int pc_mode_parse(const char *s) { return parse(mode_names, COUNT(mode_names), s); }
int pc_boundary_parse(const char *s)
{
    /* scipy's synonyms: pad = fill, circular = wrap, symmetric = symm. */
    if (s && strcmp(s, "pad") == 0)
        return PC_FILL;
    if (s && strcmp(s, "circular") == 0)
        return PC_WRAP;
    if (s && strcmp(s, "symmetric") == 0)
        return PC_SYMM;
    return parse(boundary_names, COUNT(boundary_names), s);
}
int pc_method_parse(const char *s) { return parse(method_names, COUNT(method_names), s); }
int pc_strategy_parse(const char *s) { return parse(strategy_names, COUNT(strategy_names), s); }
int pc_isa_parse(const char *s) { return parse(isa_names, COUNT(isa_names), s); }

size_t pc_dtype_size(pc_dtype d)
{
    return d == PC_F32 ? sizeof(float) : sizeof(double);
}
