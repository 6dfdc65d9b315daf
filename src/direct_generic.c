/* Portable direct kernels: GCC vector extensions of 16 bytes (SSE2 on
 * x86-64, NEON on arm64), no FMA contraction. */
#include "plan.h"

/* The x86 kernels get -fno-predictive-commoning from src/meson.build; this
 * file is built with the library's own flags, so it asks here: otherwise
 * GCC carries source vectors from one tap to the next through the stack
 * (generic f64 lost 20%). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-predictive-commoning")
#endif

/* 16 vector registers: 2 kernels x 6 vectors. Without FMA each product
 * needs a register of its own, and SSE2 broadcasts a weight with two
 * instructions: fewer kernels per block measured best (f64 20.2 GFLOP/s
 * against 18.8 with 4 x 2, the set kernel's 20.5). */
#define PC_VREGS 16
#define PC_ROW_M 2

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
