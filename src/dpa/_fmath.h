/*
 * dpa's reproducible floating-point building blocks (docs/SPEC.md section 4), as dpa/fmath.py.
 *
 * Only correctly rounded IEEE operations, in SPEC.md's order; compile with
 * contraction off (-ffp-contract=off) so no multiply-add is fused. Constants
 * are C99 hexadecimal literals: the very doubles dpa/fmath.py holds.
 */
#ifndef DPA_FMATH_H
#define DPA_FMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static const double EXP_C[14] = {
    0x1.6124613a86d09p-33, 0x1.1eed8eff8d898p-29, 0x1.ae64567f544e4p-26, 0x1.27e4fb7789f5cp-22,
    0x1.71de3a556c734p-19, 0x1.a01a01a01a01ap-16, 0x1.a01a01a01a01ap-13, 0x1.6c16c16c16c17p-10,
    0x1.1111111111111p-7,  0x1.5555555555555p-5,  0x1.5555555555555p-3,  0x1.0000000000000p-1,
    0x1.0000000000000p+0,  0x1.0000000000000p+0};
static const double LOG_C[11] = {
    0x1.642c8590b2164p-4, 0x1.8618618618618p-4, 0x1.af286bca1af28p-4, 0x1.e1e1e1e1e1e1ep-4,
    0x1.1111111111111p-3, 0x1.3b13b13b13b14p-3, 0x1.745d1745d1746p-3, 0x1.c71c71c71c71cp-3,
    0x1.2492492492492p-2, 0x1.999999999999ap-2, 0x1.5555555555555p-1};
static const double ND_A[8] = {0x1.39a296f7d925ep+11, 0x1.052d26b2e45e4p+15, 0x1.06c1c55b78f20p+16,
                               0x1.66c3e869b752ap+15, 0x1.ad1d8cd4ee71dp+13, 0x1.ece5d2213c0ccp+10,
                               0x1.0a4888b1a436ep+7,  0x1.b18d91e9eef75p+1};
static const double ND_B[8] = {0x1.46a7eca984b69p+12, 0x1.c0e457cb1ae76p+14, 0x1.3317caa64f4bep+15,
                               0x1.4b772d5d65266p+14, 0x1.512322e75c89fp+12, 0x1.5797efdc8b3f7p+9,
                               0x1.5281b386e1ab5p+5,  0x1.0000000000000p+0};
static const double ND_C[8] = {0x1.9615ac0b7ace9p-11, 0x1.744eb6c45ec67p-6, 0x1.ef2abb9b85c37p-3,
                               0x1.453cc085375b2p+0,  0x1.d2ecb1a3d02c4p+1, 0x1.713f71462256ap+2,
                               0x1.2857748cab19bp+2,  0x1.6c665fde9526ap+0};
static const double ND_D[8] = {0x1.20d3f686439e4p-30, 0x1.1f18cbfdf2728p-11, 0x1.f207a7eab17bfp-7,
                               0x1.2f5123394f040p-3,  0x1.61292f23385c9p-1,  0x1.ad278e6526633p+0,
                               0x1.06cefbb46a449p+1,  0x1.0000000000000p+0};
static const double ND_E[8] = {0x1.afb74d693bf93p-23, 0x1.c6ec6cc59e02ap-16, 0x1.45c1908425345p-10,
                               0x1.b2b41193b4ee7p-6,  0x1.2fad9315255cfp-2,  0x1.c8ea6461fa445p+0,
                               0x1.5daea6e875003p+2,  0x1.aa1b1c13ee526p+2};
static const double ND_F[8] = {0x1.269bff1f8c190p-49, 0x1.31446f740b9e0p-23, 0x1.35c2c496374bfp-16,
                               0x1.9c8bc979dc5d7p-11, 0x1.e76f93215462ap-7,  0x1.186eb183443fbp-3,
                               0x1.331d34fc7d77fp-1,  0x1.0000000000000p+0};
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33
#define INV_LN2 0x1.71547652b82fep+0
#define SQRT_HALF 0x1.6a09e667f3bcdp-1

static inline double horner(const double *c, int n, double x)
{
    double p = c[0];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16 /* unrolled before vectorisation, so loops calling this stay straight-line */
#endif
    for (int k = 1; k < n; k++)
        p = p * x + c[k];
    return p;
}

static inline double dmin(double a, double b) { return b < a ? b : a; }
static inline double dmax(double a, double b) { return b > a ? b : a; }

static inline double as_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* A draw (< 2^32) as a double, exactly: 2^52 + x has x in its mantissa. Unlike
 * an integer conversion, this vectorises on every x86-64 level. */
static inline double u32d(uint64_t x) { return as_double(0x4330000000000000ULL | x) - 0x1.0p52; }

static inline double exp_poly(double x, double *k)
{
    *k = floor(x * INV_LN2 + 0.5);
    double r = (x - *k * LN2_HI) - *k * LN2_LO;
    return horner(EXP_C, 14, r);
}

/* SPEC.md's exp: ldexp(p, k). */
static inline double dpa_exp(double x)
{
    double k;
    double p = exp_poly(x, &k);
    return ldexp(p, (int)k);
}

/* The same for |x| <= 700 (so -1010 <= k <= 1010): p * 2^k with 2^k built from
 * its bits equals ldexp(p, k) there (one rounding of the same exact value),
 * and has no call, so loops over it vectorise. k + 1.5 * 2^52 holds k in its
 * low mantissa bits. */
#define FAST_EXP_LIMIT 700.0
static inline double dpa_exp_near(double x)
{
    double k;
    double p = exp_poly(x, &k);
    uint64_t kbits;
    double t = k + 0x1.8p52;
    memcpy(&kbits, &t, sizeof kbits);
    return p * as_double((kbits + 1023) << 52);
}

static inline double dpa_log(double x)
{
    int ei;
    double m;
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    if ((b >> 52) & 0x7FF) { /* a normal number: frexp from its bits (exact) */
        ei = (int)((b >> 52) & 0x7FF) - 1022;
        m = as_double((b & 0x800FFFFFFFFFFFFFULL) | (1022ULL << 52));
    } else {
        m = frexp(x, &ei);
    }
    if (m < SQRT_HALF) {
        m = m * 2.0;
        ei -= 1;
    }
    double e = (double)ei;
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double logm = 2.0 * s + s * z * horner(LOG_C, 11, z);
    return e * LN2_HI + (logm + e * LN2_LO);
}

static inline double dpa_ndtri(double p)
{
    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r1 = 0.180625 - q * q;
        return q * horner(ND_A, 8, r1) / horner(ND_B, 8, r1);
    }
    double r = sqrt(-dpa_log(dmin(p, 1.0 - p)));
    double tail;
    if (r <= 5.0) {
        double rn = r - 1.6;
        tail = horner(ND_C, 8, rn) / horner(ND_D, 8, rn);
    } else {
        double rf = r - 5.0;
        tail = horner(ND_E, 8, rf) / horner(ND_F, 8, rf);
    }
    return q < 0.0 ? -tail : tail;
}

#endif /* DPA_FMATH_H */
