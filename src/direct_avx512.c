/* AVX-512F direct kernels (compiled with -mavx512f -mfma and contraction of
 * a*b+c into FMA, see src/meson.build). */
#include "plan.h"

/* 32 vector registers: 6 kernels x 4 vectors (see direct_tmpl.h). */
#define PC_ROW_M 6

#define PC_VB 64

#define PC_T double
#define PC_TSIZE 8
#define PC_FN(x) pc_avx512_f64_##x
#include "direct_tmpl.h"
#undef PC_T
#undef PC_TSIZE
#undef PC_FN

#define PC_T float
#define PC_TSIZE 4
#define PC_FN(x) pc_avx512_f32_##x
#include "direct_tmpl.h"
