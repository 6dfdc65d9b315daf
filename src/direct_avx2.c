/* AVX2 + FMA direct kernels (compiled with -mavx2 -mfma and contraction of
 * a*b+c into FMA, see src/meson.build). */
#include "plan.h"

/* 16 vector registers. */
#define PC_VREGS 16

#define PC_VB 32

#define PC_T double
#define PC_TSIZE 8
#define PC_FN(x) pc_avx2_f64_##x
#include "direct_tmpl.h"
#undef PC_T
#undef PC_TSIZE
#undef PC_FN

#define PC_T float
#define PC_TSIZE 4
#define PC_FN(x) pc_avx2_f32_##x
#include "direct_tmpl.h"
