/*
 * Standard normal noise fields (docs/SPEC.md section 9; dpa.noise, dpa.apply.noise_field).
 *
 * Element k of sample id's field is ndtri((d + 0.5) * 2**-32) for draw k of
 * the stream with key `key` in the epoch: draw 2j is the high half of
 *
 *   word_j = xxh64_pair(id, counter_base | j, key),
 *
 * draw 2j + 1 its low half. The same bits as dpa.noise's numpy and torch
 * paths: the open unit is exact, and ndtri_select() computes every branch of
 * dpa_ndtri (_fmath.h) with the same operations and selects one, so a loop
 * over it vectorises (a noise field is ~90% normal quantiles; numpy's
 * version spends its time there).
 *
 * This header knows nothing of Python.
 */
#ifndef DPA_NOISE_H
#define DPA_NOISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "_fmath.h"
#include "_xxh64.h"

/* Words per pass: their counters' rounds are shared by every id; the pass's doubles stay in L1. */
#define NOISE_WORDS 512

/* dpa_log for a normal x (exponent bits not 0): the same operations, no frexp fallback, no branch. */
static inline double log_normal(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    double e = (double)((int64_t)((b >> 52) & 0x7FF) - 1022);
    double m = as_double((b & 0x800FFFFFFFFFFFFFULL) | (1022ULL << 52));
    const int small = m < SQRT_HALF;
    m = small ? m * 2.0 : m;
    e = small ? e - 1.0 : e;
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double logm = 2.0 * s + s * z * horner(LOG_C, 11, z);
    return e * LN2_HI + (logm + e * LN2_LO);
}

/* dpa_ndtri(p) for p in [2**-33, 1 - 2**-33] (so min(p, 1 - p) is normal): every branch, then a select. */
static inline double ndtri_select(double p)
{
    double q = p - 0.5;
    double r1 = 0.180625 - q * q;
    double central = q * horner(ND_A, 8, r1) / horner(ND_B, 8, r1);
    double r = sqrt(-log_normal(dmin(p, 1.0 - p)));
    double rn = r - 1.6, rf = r - 5.0;
    double near = horner(ND_C, 8, rn) / horner(ND_D, 8, rn);
    double far = horner(ND_E, 8, rf) / horner(ND_F, 8, rf);
    double tail = r <= 5.0 ? near : far;
    tail = q < 0.0 ? -tail : tail;
    return fabs(q) <= 0.425 ? central : tail;
}

/* Draws of the words k2[0..nw) of one id (its ra) as open-unit doubles: u[2j] high half, u[2j + 1] low. */
DPA_CLONES
static void noise_units(uint64_t ra, uint64_t c, const uint64_t *restrict k2, ptrdiff_t nw, double *restrict u)
{
    for (ptrdiff_t j = 0; j < nw; j++) {
        const uint64_t w = xxh_finish(ra, c, k2[j]);
        u[2 * j] = u32d(w >> 32) * 0x1.0p-32 + 0x1.0p-33;
        u[2 * j + 1] = u32d(w & 0xFFFFFFFFULL) * 0x1.0p-32 + 0x1.0p-33;
    }
}

DPA_CLONES
static void noise_quantiles(const double *restrict u, ptrdiff_t m, double *restrict out)
{
    for (ptrdiff_t i = 0; i < m; i++)
        out[i] = ndtri_select(u[i]);
}

/* out[i * per + k] = element k of id ids[i]'s field, for k < per; c = seed_const(key). */
static void noise_fill(const uint64_t *ids, ptrdiff_t n, uint64_t c, uint64_t counter_base, ptrdiff_t per,
                       double *out)
{
    uint64_t k2[NOISE_WORDS];
    double u[2 * NOISE_WORDS];
    const ptrdiff_t words = (per + 1) / 2;
    for (ptrdiff_t lo = 0; lo < words; lo += NOISE_WORDS) {
        const ptrdiff_t nw = words - lo < NOISE_WORDS ? words - lo : NOISE_WORDS;
        const ptrdiff_t m = (2 * (lo + nw) < per ? 2 * (lo + nw) : per) - 2 * lo;
        for (ptrdiff_t j = 0; j < nw; j++)
            k2[j] = xxh_round(counter_base | (uint64_t)(lo + j));
        for (ptrdiff_t i = 0; i < n; i++) {
            noise_units(rotl64(xxh_round(ids[i]), 27), c, k2, nw, u);
            noise_quantiles(u, m, out + i * per + 2 * lo);
        }
    }
}

#endif /* DPA_NOISE_H */
