/* Reproducible inputs: pinned values of GSL's mt19937 stream, so a change
 * of generator or of draw order is caught; the matrix-then-kernels order;
 * and the refusal of bad ranges. */
#include "parconv.h"
#include "testutil.h"

#include <string.h>

int main(void)
{
    pc_gen_params g = {.seed = 42, .lo = 0, .hi = 100};
    pc_matrix m;
    pc_bank b;
    pc_matrix_alloc(&m, 3, 4);
    pc_bank_alloc(&b, 2, 2, 3);
    CHECK(pc_generate(&g, 3, 4, &m, &b) == 0, "generate failed");
    /* gsl_rng_uniform_int(mt19937 seeded 42, 100): 37, 79, 95, ... */
    CHECK(m.data[0] == 37 && m.data[1] == 79 && m.data[2] == 95,
          "first values %g %g %g, expected 37 79 95", m.data[0], m.data[1],
          m.data[2]);
    int in_range = 1;
    for (size_t i = 0; i < 12; i++)
        in_range &= m.data[i] >= 0 && m.data[i] < 100 && m.data[i] == (long)m.data[i];
    CHECK(in_range, "matrix values outside [0,100) or not integers");

    /* The bank does not depend on whether the matrix was generated. */
    pc_bank b2;
    pc_bank_alloc(&b2, 2, 2, 3);
    CHECK(pc_generate(&g, 3, 4, NULL, &b2) == 0, "generate (bank only) failed");
    CHECK(memcmp(b.data, b2.data, 12 * sizeof(double)) == 0,
          "bank differs when the matrix is not generated");

    /* Same seed, same numbers; another seed, others. */
    pc_matrix m2;
    pc_matrix_alloc(&m2, 3, 4);
    pc_generate(&g, 3, 4, &m2, NULL);
    CHECK(memcmp(m.data, m2.data, 12 * sizeof(double)) == 0, "not reproducible");
    g.seed = 43;
    pc_generate(&g, 3, 4, &m2, NULL);
    CHECK(memcmp(m.data, m2.data, 12 * sizeof(double)) != 0, "seed ignored");

    /* Negative ranges: values in [lo, hi). */
    g = (pc_gen_params){.seed = 7, .lo = -5, .hi = -2};
    pc_generate(&g, 3, 4, &m2, NULL);
    in_range = 1;
    for (size_t i = 0; i < 12; i++)
        in_range &= m2.data[i] >= -5 && m2.data[i] < -2;
    CHECK(in_range, "negative range not respected");

    /* The stream drawn piece by piece: matrix 0 of a stack is pc_generate's
     * matrix; after 3 matrices come the kernels, matrix 1 and 2 being the
     * values that follow matrix 0. */
    g = (pc_gen_params){.seed = 42, .lo = 0, .hi = 100};
    pc_gen_stream *gs;
    double stack[3 * 12], bank3[12], all[3 * 12 + 12];
    CHECK(pc_gen_open(&gs, &g) == 0, "gen_open: %s", pc_errmsg());
    pc_gen_draw(gs, 12, stack);
    pc_gen_draw(gs, 12, NULL);
    pc_gen_draw(gs, 12, stack + 24);
    pc_gen_draw(gs, 12, bank3);
    pc_gen_close(gs);
    CHECK(memcmp(stack, m.data, 12 * sizeof(double)) == 0,
          "matrix 0 of a stack is not pc_generate's matrix");
    CHECK(pc_gen_open(&gs, &g) == 0, "gen_open: %s", pc_errmsg());
    pc_gen_draw(gs, 48, all);
    pc_gen_close(gs);
    CHECK(memcmp(all + 24, stack + 24, 12 * sizeof(double)) == 0 &&
          memcmp(all + 36, bank3, 12 * sizeof(double)) == 0,
          "matrix 2 or the kernels after 3 matrices are not the stream's");
    CHECK(memcmp(all + 12, b.data, 12 * sizeof(double)) == 0,
          "the kernels after one matrix are not pc_generate's");

    g = (pc_gen_params){.seed = 1, .lo = 5, .hi = 5};
    CHECK(pc_gen_open(&gs, &g) == PC_EUSAGE && !gs, "stream: empty range");
    CHECK(pc_generate(&g, 3, 4, &m2, NULL) == PC_EUSAGE, "empty range accepted");
    CHECK(strstr(pc_errmsg(), "range") != NULL, "message '%s'", pc_errmsg());
    g = (pc_gen_params){.seed = 1, .lo = 0, .hi = 1LL << 40};
    CHECK(pc_generate(&g, 3, 4, &m2, NULL) == PC_EUSAGE, "too wide range accepted");

    pc_matrix_free(&m);
    pc_matrix_free(&m2);
    pc_bank_free(&b);
    pc_bank_free(&b2);
    return t_summary("test_inputs");
}
