/* Portable direct kernels: GCC vector extensions of 16 bytes (SSE2 on
 * x86-64, NEON on arm64), no FMA contraction. */
#include "plan.h"

/* 16 vector registers. */
#define PC_VREGS 16

#define PC_VB 16

#define PC_T double
#define PC_TSIZE 8
#define PC_FN(x) pc_generic_f64_##x
#include "direct_tmpl.h"
#undef PC_T
#undef PC_TSIZE
#undef PC_FN

#define PC_T float
#define PC_TSIZE 4
#define PC_FN(x) pc_generic_f32_##x
#include "direct_tmpl.h"
