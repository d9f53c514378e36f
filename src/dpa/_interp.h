/*
 * dpa's spec-program interpreter (docs/SPEC.md section 5; dpa/program.py).
 *
 * A config's spec programs arrive lowered by dpa/_cplan.py into fixed-width
 * instructions over the primitives of dpa.program, with operands that name
 * where a block of values lives: a scratch register, an output array, a
 * hash row (a word, or one of its two draws), or an immediate constant.
 * run_block() executes every instruction over a block of ids, one tight
 * loop per instruction, so each loop is one vectorised pass over data in
 * L1/L2 cache. Every loop applies exactly the IEEE operation its primitive
 * names, so the results are those of the Python, numpy and torch backends.
 *
 * This header knows nothing of Python: Kernel holds validated code, and
 * kernel_check() refuses any instruction that could read or write outside
 * its buffers whatever the code says (tests feed it broken code).
 */
#ifndef DPA_INTERP_H
#define DPA_INTERP_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_fmath.h"

#define TWO_M32 0x1.0000000000000p-32
#define TWO_M33 0x1.0000000000000p-33
#define M32 0xFFFFFFFFULL

/* Opcodes: the order of dpa/_cplan.py's OPCODES. */
enum {
    OP_TO_FLOAT_D, OP_TO_FLOAT_I, OP_UNIT, OP_OPEN_UNIT, OP_AFFINE, OP_AFFINE_EXP,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_MIN, OP_MAX,
    OP_EXP, OP_LOG, OP_SQRT, OP_NDTRI, OP_FLOOR,
    OP_LT, OP_LE, OP_GT, OP_GE,
    OP_IADD, OP_ISUB, OP_IMUL,
    OP_BELOW, OP_MULHI, OP_COUNT_GE, OP_LOOKUP, OP_PERM,
    OP_SELECT, OP_SELECT_B, OP_MOVE, OP_MOVE_B, OP_CLOSE, OP_CLOSE_B,
    OP_COUNT
};

/* Operand kinds: the top byte of an operand; the low 24 bits are its index. */
enum { L_NONE, L_REG, L_OUT, L_WORD, L_HI, L_LO, L_IMM, L_COUNT };
#define LOC_KIND(x) ((int)((uint32_t)(x) >> 24))
#define LOC_INDEX(x) ((int)((uint32_t)(x) & 0xFFFFFF))

/* Output slot types. */
enum { T_FLOAT = 0, T_INT = 1, T_BOOL = 2 };

/* What an operand position takes: F f64, I i64, B bool, D a draw, W a word, U an immediate integer,
 * X any 8-byte value (f64 or i64), '-' nothing; lower case: an array, not an immediate. Position 0 is
 * the destination. */
static const char *const OP_SIGNATURE[OP_COUNT] = {
    "FD--", "Fi--", "FD--", "FD--", "FDUU", "FDUU",
    "FFF-", "FFF-", "FFF-", "FFF-", "Ff--", "FFF-", "FFF-",
    "Ff--", "Ff--", "Ff--", "Ff--", "Ff--",
    "BFF-", "BFF-", "BFF-", "BFF-",
    "III-", "III-", "III-",
    "BDU-", "IWU-", "IW--", "Xi--", "-i--",
    "XbXX", "BbBB", "XX--", "BB--", "XDUX", "BDUB",
};

/* The names dpa/_cplan.py gives the opcodes (a test checks they agree). */
static const char *const OP_NAMES[OP_COUNT] = {
    "to_float_d", "to_float_i", "unit", "open_unit", "affine", "affine_exp",
    "add", "sub", "mul", "div", "neg", "min", "max",
    "exp", "log", "sqrt", "ndtri", "floor",
    "lt", "le", "gt", "ge",
    "iadd", "isub", "imul",
    "below", "mulhi", "count_ge", "lookup", "perm_decode",
    "select", "select_b", "move", "move_b", "close", "close_b",
};

/* One instruction: operands d (destination), a, b, c; x, y index the pool (tables, destination lists). */
typedef struct {
    int32_t op, d, a, b, c, x, y, z;
} Ins;

typedef struct {
    int nins, nregs, nrows, nout;
    Ins *ins;
    uint64_t *pool;
    ptrdiff_t npool;
    unsigned char *types;  /* per output slot */
    unsigned char **perm;  /* per instruction: n! rows of n digits for permutations of n <= 8, else NULL */
    Ins *one;              /* the instructions for run_one: operands as frame slots (>= 0) or -1 - pool index */
    int32_t *one_aux;      /* run_one's permutation destinations */
} Kernel;

#define PERM_TABLE_MAX 8
#define PERM_MAX 12

static inline double bits_f(uint64_t b) { return as_double(b); }

static void decode_permutation(uint64_t k, int n, int *digits)
{
    uint64_t f = 1;
    for (int i = 2; i < n; i++)
        f *= (uint64_t)i; /* (n-1)! */
    for (int i = 0; i < n; i++) {
        digits[i] = (int)((k / f) % (uint64_t)(n - i));
        if (n - 1 - i > 0)
            f /= (uint64_t)(n - 1 - i);
    }
    for (int i = n - 2; i >= 0; i--)
        for (int j = i + 1; j < n; j++)
            digits[j] += digits[j] >= digits[i];
}

static uint64_t factorial(int n)
{
    uint64_t f = 1;
    for (int i = 2; i <= n; i++)
        f *= (uint64_t)i;
    return f;
}

/* ------------------------------------------------------------------ validation */

/* Is operand `loc` acceptable where signature class `cls` is expected? */
static int operand_ok(const Kernel *k, char cls, int32_t loc, int is_dst)
{
    int kind = LOC_KIND(loc), idx = LOC_INDEX(loc);
    if (cls == '-')
        return loc == 0;
    if (cls >= 'a' && cls <= 'z') { /* an array: no immediate */
        if (kind == L_IMM)
            return 0;
        cls = (char)(cls - 'a' + 'A');
    }
    switch (kind) {
    case L_REG:
        return idx < k->nregs && cls != 'U';
    case L_OUT:
        if (idx >= k->nout)
            return 0;
        if (cls == 'F')
            return k->types[idx] == T_FLOAT;
        if (cls == 'I')
            return k->types[idx] == T_INT;
        if (cls == 'X')
            return k->types[idx] != T_BOOL;
        return cls == 'B' && k->types[idx] == T_BOOL;
    case L_WORD:
        return !is_dst && cls == 'W' && idx < k->nrows;
    case L_HI:
    case L_LO:
        return !is_dst && cls == 'D' && idx < k->nrows;
    case L_IMM:
        return !is_dst && (cls == 'F' || cls == 'I' || cls == 'U' || cls == 'X' || cls == 'B') && idx < k->npool;
    default:
        return 0;
    }
}

static int pool_range_ok(const Kernel *k, int32_t at, int32_t len) { return at >= 0 && len >= 0 && at + (ptrdiff_t)len <= k->npool; }

/* 0 when every instruction is safe to run; else -1 with a message in err (size 160). */
static int kernel_check(Kernel *k, char *err)
{
    for (int n = 0; n < k->nins; n++) {
        const Ins *in = &k->ins[n];
        if (in->op < 0 || in->op >= OP_COUNT) {
            snprintf(err, 160, "instruction %d: unknown opcode %d", n, in->op);
            return -1;
        }
        const char *sig = OP_SIGNATURE[in->op];
        const int32_t ops[4] = {in->d, in->a, in->b, in->c};
        for (int j = 0; j < 4; j++) {
            if (!operand_ok(k, sig[j], ops[j], j == 0)) {
                snprintf(err, 160, "instruction %d (%s): operand %d (0x%08x) is not a valid '%c' operand", n,
                         OP_NAMES[in->op], j, (unsigned)ops[j], sig[j]);
                return -1;
            }
            /* The destination never aliases an input: loops may then be compiled with restrict. */
            if (j > 0 && ops[j] == in->d && LOC_KIND(in->d) != L_NONE) {
                snprintf(err, 160, "instruction %d (%s): the destination is also operand %d", n, OP_NAMES[in->op], j);
                return -1;
            }
        }
        if ((in->op == OP_CLOSE || in->op == OP_CLOSE_B) && LOC_KIND(in->c) != L_IMM) {
            snprintf(err, 160, "instruction %d (%s): the identity must be an immediate", n, OP_NAMES[in->op]);
            return -1;
        }
        if (in->op == OP_COUNT_GE || in->op == OP_LOOKUP) {
            if (!pool_range_ok(k, in->x, in->y) || (in->op == OP_LOOKUP && in->y < 1)) {
                snprintf(err, 160, "instruction %d (%s): table outside the pool", n, OP_NAMES[in->op]);
                return -1;
            }
        }
        if (in->op == OP_PERM) {
            if (in->y < 2 || in->y > PERM_MAX || !pool_range_ok(k, in->x, in->y)) {
                snprintf(err, 160, "instruction %d (perm_decode): 2..%d destinations in the pool", n, PERM_MAX);
                return -1;
            }
            for (int j = 0; j < in->y; j++) {
                int32_t loc = (int32_t)k->pool[in->x + j];
                if (k->pool[in->x + j] > 0xFFFFFFFFULL || !operand_ok(k, 'I', loc, 1) || loc == in->a) {
                    snprintf(err, 160, "instruction %d (perm_decode): destination %d is not an i64 register or output",
                             n, j);
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* Permutation tables for n <= PERM_TABLE_MAX: n! rows of n digits (a lookup beats decoding). */
static int kernel_tables(Kernel *k)
{
    k->perm = (unsigned char **)calloc(k->nins > 0 ? (size_t)k->nins : 1, sizeof(unsigned char *));
    if (!k->perm)
        return -1;
    for (int n = 0; n < k->nins; n++) {
        const Ins *in = &k->ins[n];
        if (in->op != OP_PERM || in->y < 2 || in->y > PERM_TABLE_MAX) /* checked: y in 2..PERM_MAX */
            continue;
        const int np = in->y;
        const size_t rows = (size_t)factorial(np);
        unsigned char *t = (unsigned char *)malloc(rows * (size_t)np);
        if (!t)
            return -1;
        for (uint64_t r = 0; r < rows; r++) {
            int digits[PERM_MAX];
            decode_permutation(r, np, digits);
            for (int j = 0; j < np; j++)
                t[r * np + j] = (unsigned char)digits[j];
        }
        k->perm[n] = t;
    }
    return 0;
}

/* run_one's frame: hash rows, then registers, then outputs, one 8-byte slot each. */
static int32_t one_slot(const Kernel *k, int32_t loc)
{
    const int idx = LOC_INDEX(loc);
    switch (LOC_KIND(loc)) {
    case L_REG:
        return k->nrows + idx;
    case L_OUT:
        return k->nrows + k->nregs + idx;
    case L_WORD:
    case L_HI:
    case L_LO:
        return idx;
    case L_IMM:
        return -1 - idx;
    default:
        return 0;
    }
}

/* Rewrite the checked instructions for run_one: z holds the shift of a draw operand (32 for a high half). */
static int kernel_decode_one(Kernel *k)
{
    size_t naux = 0; /* checked: 2..PERM_MAX destinations per permutation */
    for (int n = 0; n < k->nins; n++)
        naux += k->ins[n].op == OP_PERM ? (size_t)k->ins[n].y : 0;
    k->one = (Ins *)malloc((k->nins > 0 ? (size_t)k->nins : 1) * sizeof(Ins));
    k->one_aux = (int32_t *)malloc((naux ? naux : 1) * sizeof(int32_t));
    if (!k->one || !k->one_aux)
        return -1;
    naux = 0;
    for (int n = 0; n < k->nins; n++) {
        const Ins *in = &k->ins[n];
        Ins *o = &k->one[n];
        *o = *in;
        o->d = one_slot(k, in->d), o->a = one_slot(k, in->a), o->b = one_slot(k, in->b), o->c = one_slot(k, in->c);
        o->z = LOC_KIND(in->a) == L_HI ? 32 : 0;
        if (in->op == OP_PERM) {
            for (int j = 0; j < in->y; j++)
                k->one_aux[naux + j] = one_slot(k, (int32_t)k->pool[in->x + j]);
            o->x = (int32_t)naux;
            naux += (size_t)in->y;
        }
    }
    return 0;
}

static void kernel_free(Kernel *k)
{
    free(k->one);
    free(k->one_aux);
    if (k->perm)
        for (int n = 0; n < k->nins; n++)
            free(k->perm[n]);
    free(k->perm);
    free(k->ins);
    free(k->pool);
    free(k->types);
    memset(k, 0, sizeof *k);
}

/* ------------------------------------------------------------------ execution */

/* Where a block's values live (run_block's arguments). */
typedef struct {
    const uint64_t *words; /* hash rows: row r's values at words[r * stride] */
    ptrdiff_t stride;
    char *scratch;         /* nregs registers of SUB 8-byte slots */
    ptrdiff_t sub;
    char **outs;           /* output slot j's values for this block start at outs[j] */
    struct Ahead *ahead;   /* the next part's output lines still to fetch, or NULL */
} Frame;

/* The output lines of the next part of a block, fetched a little after each instruction of this part. A fresh
 * output array is not in any cache, so each pass that writes an output would otherwise stall on reading its
 * lines for ownership; fetched ahead (into L2: L1 holds the registers), those reads overlap the computing.
 * Measured on `resized_crop` alone, 1M ids: 13 ms with non-temporal staging, 10 with plain stores, 9.3 with
 * this (the kernel before spec programs: 7.1). */
typedef struct Ahead {
    char **at;                  /* per output slot: where the next part's values go */
    const unsigned char *types; /* per output slot */
    int nout, slot;             /* slot: the next one to fetch */
    size_t m, done, quota;      /* ids in the next part; bytes of `slot` fetched; bytes to fetch per call */
} Ahead;

static void fetch_ahead(Ahead *a, size_t budget)
{
    while (budget && a->slot < a->nout) {
        const size_t total = a->m * (a->types[a->slot] == T_BOOL ? 1 : 8);
        const size_t take = total - a->done < budget ? total - a->done : budget;
        for (size_t o = 0; o < take; o += 64)
            __builtin_prefetch(a->at[a->slot] + a->done + o, 1, 1);
        a->done += take;
        budget -= take;
        if (a->done == total)
            a->slot++, a->done = 0;
    }
}

/* A resolved operand: a pointer to the block's values, or an immediate. */
typedef struct {
    const void *p;
    uint64_t k;
    int kind;
} Src;

static inline Src resolve(const Kernel *kn, const Frame *f, int32_t loc)
{
    Src s = {NULL, 0, LOC_KIND(loc)};
    const int idx = LOC_INDEX(loc);
    switch (s.kind) {
    case L_REG:
        s.p = f->scratch + (ptrdiff_t)idx * f->sub * 8;
        break;
    case L_OUT:
        s.p = f->outs[idx];
        break;
    case L_WORD:
    case L_HI:
    case L_LO:
        s.p = f->words + (ptrdiff_t)idx * f->stride;
        break;
    case L_IMM:
        s.k = kn->pool[idx];
        break;
    }
    return s;
}

#define FOR for (ptrdiff_t i = 0; i < m; i++)

/* An expression of a and b over the block, for every immediate/array combination: TD the destination's
 * element type, TA the operands' (double or uint64_t, whose immediates are bits), IMM reads an immediate. */
#define LOOP_BIN(TD, TA, IMM, EXPR)                                                                                    \
    do {                                                                                                               \
        TD *restrict dst = (TD *)D.p;                                                                                  \
        if (A.kind == L_IMM && B.kind == L_IMM) {                                                                      \
            const TA a = IMM(A.k), b = IMM(B.k);                                                                       \
            FOR dst[i] = (EXPR);                                                                                       \
        } else if (A.kind == L_IMM) {                                                                                  \
            const TA a = IMM(A.k);                                                                                     \
            const TA *restrict pb = (const TA *)B.p;                                                                   \
            FOR {                                                                                                      \
                const TA b = pb[i];                                                                                    \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        } else if (B.kind == L_IMM) {                                                                                  \
            const TA b = IMM(B.k);                                                                                     \
            const TA *restrict pa = (const TA *)A.p;                                                                   \
            FOR {                                                                                                      \
                const TA a = pa[i];                                                                                    \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        } else {                                                                                                       \
            const TA *restrict pa = (const TA *)A.p, *restrict pb = (const TA *)B.p;                                   \
            FOR {                                                                                                      \
                const TA a = pa[i], b = pb[i];                                                                         \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

#define IMM_BITS(k) (k)
#define LOOP_FF(EXPR) LOOP_BIN(double, double, bits_f, EXPR)            /* f64 op f64 -> f64 */
#define LOOP_CMP(EXPR) LOOP_BIN(unsigned char, double, bits_f, EXPR)    /* f64 op f64 -> bool */
#define LOOP_II(EXPR) LOOP_BIN(uint64_t, uint64_t, IMM_BITS, EXPR)      /* i64 op i64 -> i64, wrapping */

/* A float function of one float operand x. */
#define LOOP_F(EXPR)                                                                                                   \
    do {                                                                                                               \
        double *restrict dst = (double *)D.p;                                                                          \
        const double *restrict px = (const double *)A.p;                                                               \
        FOR {                                                                                                          \
            const double x = px[i];                                                                                    \
            dst[i] = (EXPR);                                                                                           \
        }                                                                                                              \
    } while (0)

/* An expression of a draw x (uint64 below 2^32): the high or low half of a hash row, or a register. */
#define LOOP_D(T, EXPR)                                                                                                \
    do {                                                                                                               \
        T *restrict dst = (T *)D.p;                                                                                    \
        const uint64_t *restrict pw = (const uint64_t *)A.p;                                                           \
        if (A.kind == L_HI) {                                                                                          \
            FOR {                                                                                                      \
                const uint64_t x = pw[i] >> 32;                                                                        \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        } else if (A.kind == L_LO) {                                                                                   \
            FOR {                                                                                                      \
                const uint64_t x = pw[i] & M32;                                                                        \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        } else {                                                                                                       \
            FOR {                                                                                                      \
                const uint64_t x = pw[i];                                                                              \
                dst[i] = (EXPR);                                                                                       \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

static inline uint64_t mulhi32(uint64_t w, uint64_t n) { return (((w >> 32) * n) + (((w & M32) * n) >> 32)) >> 32; }

/* Each primitive's value for one element: the one definition that run_block (over blocks) and
 * run_one (one sample) both use. x is a draw (below 2^32), a and b doubles or 64-bit integers. */
#define E_TO_FLOAT_D(x) u32d(x)
#define E_TO_FLOAT_I(x) ((double)(int64_t)(x))
#define E_UNIT(x) (u32d(x) * TWO_M32)
#define E_OPEN_UNIT(x) (u32d(x) * TWO_M32 + TWO_M33)
#define E_AFFINE(x, scale, offset) ((offset) + u32d(x) * (scale)) /* add(offset, mul(to_float(x), scale)) */
#define E_ADD(a, b) ((a) + (b))
#define E_SUB(a, b) ((a) - (b))
#define E_MUL(a, b) ((a) * (b))
#define E_DIV(a, b) ((a) / (b))
#define E_NEG(a) (-(a))
#define E_MIN(a, b) dmin(a, b)
#define E_MAX(a, b) dmax(a, b)
#define E_EXP(a) dpa_exp(a)
#define E_LOG(a) dpa_log(a)
#define E_SQRT(a) sqrt(a)
#define E_NDTRI(a) dpa_ndtri(a)
#define E_FLOOR(a) floor(a)
#define E_LT(a, b) ((a) < (b))
#define E_LE(a, b) ((a) <= (b))
#define E_GT(a, b) ((a) > (b))
#define E_GE(a, b) ((a) >= (b))
#define E_IADD(a, b) ((a) + (b)) /* on uint64: wraps as int64 would, without undefined behaviour */
#define E_ISUB(a, b) ((a) - (b))
#define E_IMUL(a, b) ((a) * (b))
#define E_BELOW(x, t) ((x) < (t))
#define E_MULHI(w, n) mulhi32(w, n)

/* select(c, a, b) on 8-byte values (f64 or i64 bits) or on bools. */
#define LOOP_SELECT(T)                                                                                                 \
    do {                                                                                                               \
        T *restrict dst = (T *)D.p;                                                                                    \
        const unsigned char *restrict pc = (const unsigned char *)A.p;                                                 \
        const T ka = (T)B.k, kb = (T)C.k;                                                                              \
        const T *restrict pa = (const T *)B.p, *restrict pb = (const T *)C.p;                                          \
        FOR {                                                                                                          \
            const T a = B.kind == L_IMM ? ka : pa[i];                                                                  \
            const T b = C.kind == L_IMM ? kb : pb[i];                                                                  \
            dst[i] = pc[i] ? a : b;                                                                                    \
        }                                                                                                              \
    } while (0)

/* close: where the gate draw is >= the threshold, the output takes its identity. */
#define LOOP_CLOSE(T)                                                                                                  \
    do {                                                                                                               \
        T *restrict dst = (T *)D.p;                                                                                    \
        const uint64_t *restrict pw = (const uint64_t *)A.p;                                                           \
        const uint64_t t = B.k;                                                                                        \
        const T id = (T)C.k;                                                                                           \
        const int shift = A.kind == L_HI ? 32 : 0;                                                                     \
        const uint64_t mask = A.kind == L_REG ? ~0ULL : M32;                                                           \
        FOR if (((pw[i] >> shift) & mask) >= t) dst[i] = id;                                                          \
    } while (0)

DPA_CLONES
static void run_exp(const Src D, const Src A, ptrdiff_t m)
{
    const double *restrict px = (const double *)A.p;
    double *restrict dst = (double *)D.p;
    int near = 1;
    FOR near &= fabs(px[i]) <= FAST_EXP_LIMIT;
    if (near)
        FOR dst[i] = dpa_exp_near(px[i]);
    else
        FOR dst[i] = E_EXP(px[i]);
}

DPA_CLONES
static void run_perm(const Kernel *kn, const Frame *f, const Ins *in, const unsigned char *table, const Src A,
                     ptrdiff_t m)
{
    const int n = in->y;
    int64_t *dst[PERM_MAX];
    for (int j = 0; j < n; j++)
        dst[j] = (int64_t *)resolve(kn, f, (int32_t)kn->pool[in->x + j]).p;
    const uint64_t *restrict pk = (const uint64_t *)A.p;
    const uint64_t last = factorial(n) - 1;
    if (table) { /* one row of the table per id: n bytes, widened */
        FOR {
            const unsigned char *row = table + (pk[i] < last ? pk[i] : last) * (uint64_t)n; /* a rank is below n! */
            for (int j = 0; j < n; j++)
                dst[j][i] = row[j];
        }
        return;
    }
    FOR {
        int digits[PERM_MAX];
        decode_permutation(pk[i] < last ? pk[i] : last, n, digits);
        for (int j = 0; j < n; j++)
            dst[j][i] = digits[j];
    }
}

/* Execute every instruction over the m (<= f->sub) ids of a block. */
DPA_CLONES
static void run_block(const Kernel *kn, const Frame *f, ptrdiff_t m)
{
    for (int n = 0; n < kn->nins; n++) {
        const Ins *in = &kn->ins[n];
        const Src D = resolve(kn, f, in->d), A = resolve(kn, f, in->a), B = resolve(kn, f, in->b),
                  C = resolve(kn, f, in->c);
        switch (in->op) {
        case OP_TO_FLOAT_D:
            LOOP_D(double, E_TO_FLOAT_D(x));
            break;
        case OP_TO_FLOAT_I: {
            double *restrict dst = (double *)D.p;
            const uint64_t *restrict pa = (const uint64_t *)A.p;
            FOR dst[i] = E_TO_FLOAT_I(pa[i]);
            break;
        }
        case OP_UNIT:
            LOOP_D(double, E_UNIT(x));
            break;
        case OP_OPEN_UNIT:
            LOOP_D(double, E_OPEN_UNIT(x));
            break;
        case OP_AFFINE: {
            const double scale = bits_f(B.k), offset = bits_f(C.k);
            LOOP_D(double, E_AFFINE(x, scale, offset));
            break;
        }
        case OP_AFFINE_EXP: {
            /* Its argument is monotone in the draw: the ends of its range say whether dpa_exp_near (the same
             * bits there) covers every value, with no pass over the block to find out. */
            const double scale = bits_f(B.k), offset = bits_f(C.k), top = E_AFFINE(M32, scale, offset);
            if (A.kind != L_REG && fabs(offset) <= FAST_EXP_LIMIT && fabs(top) <= FAST_EXP_LIMIT)
                LOOP_D(double, dpa_exp_near(E_AFFINE(x, scale, offset)));
            else
                LOOP_D(double, E_EXP(E_AFFINE(x, scale, offset)));
            break;
        }
        case OP_ADD:
            LOOP_FF(E_ADD(a, b));
            break;
        case OP_SUB:
            LOOP_FF(E_SUB(a, b));
            break;
        case OP_MUL:
            LOOP_FF(E_MUL(a, b));
            break;
        case OP_DIV:
            LOOP_FF(E_DIV(a, b));
            break;
        case OP_NEG:
            LOOP_F(E_NEG(x));
            break;
        case OP_MIN:
            LOOP_FF(E_MIN(a, b));
            break;
        case OP_MAX:
            LOOP_FF(E_MAX(a, b));
            break;
        case OP_EXP:
            run_exp(D, A, m);
            break;
        case OP_LOG:
            LOOP_F(E_LOG(x));
            break;
        case OP_SQRT:
            LOOP_F(E_SQRT(x));
            break;
        case OP_NDTRI:
            LOOP_F(E_NDTRI(x));
            break;
        case OP_FLOOR:
            LOOP_F(E_FLOOR(x));
            break;
        case OP_LT:
            LOOP_CMP(E_LT(a, b));
            break;
        case OP_LE:
            LOOP_CMP(E_LE(a, b));
            break;
        case OP_GT:
            LOOP_CMP(E_GT(a, b));
            break;
        case OP_GE:
            LOOP_CMP(E_GE(a, b));
            break;
        case OP_IADD:
            LOOP_II(E_IADD(a, b));
            break;
        case OP_ISUB:
            LOOP_II(E_ISUB(a, b));
            break;
        case OP_IMUL:
            LOOP_II(E_IMUL(a, b));
            break;
        case OP_BELOW: {
            const uint64_t t = B.k;
            LOOP_D(unsigned char, E_BELOW(x, t));
            break;
        }
        case OP_MULHI: {
            const uint64_t nn = B.k;
            uint64_t *restrict dst = (uint64_t *)D.p;
            const uint64_t *restrict pw = (const uint64_t *)A.p;
            FOR dst[i] = E_MULHI(pw[i], nn);
            break;
        }
        case OP_COUNT_GE: {
            const uint64_t *t = kn->pool + in->x;
            const int nt = in->y;
            uint64_t *restrict dst = (uint64_t *)D.p;
            const uint64_t *restrict pw = (const uint64_t *)A.p;
            FOR {
                uint64_t c = 0;
                for (int j = 0; j < nt; j++)
                    c += pw[i] >= t[j];
                dst[i] = c;
            }
            break;
        }
        case OP_LOOKUP: {
            const uint64_t *v = kn->pool + in->x;
            const uint64_t last = (uint64_t)in->y - 1;
            uint64_t *restrict dst = (uint64_t *)D.p;
            const uint64_t *restrict pk = (const uint64_t *)A.p;
            FOR dst[i] = v[pk[i] < last ? pk[i] : last]; /* a valid program's index is in range already */
            break;
        }
        case OP_PERM:
            run_perm(kn, f, in, kn->perm[n], A, m);
            break;
        case OP_SELECT:
            LOOP_SELECT(uint64_t);
            break;
        case OP_SELECT_B:
            LOOP_SELECT(unsigned char);
            break;
        case OP_MOVE:
            if (A.kind == L_IMM) {
                uint64_t *restrict dst = (uint64_t *)D.p;
                FOR dst[i] = A.k;
            } else {
                memcpy((void *)D.p, A.p, (size_t)m * 8);
            }
            break;
        case OP_MOVE_B:
            if (A.kind == L_IMM)
                memset((void *)D.p, (int)(A.k != 0), (size_t)m);
            else
                memcpy((void *)D.p, A.p, (size_t)m);
            break;
        case OP_CLOSE:
            LOOP_CLOSE(uint64_t);
            break;
        case OP_CLOSE_B:
            LOOP_CLOSE(unsigned char);
            break;
        }
        if (f->ahead)
            fetch_ahead(f->ahead, f->ahead->quota);
    }
}

#undef FOR

static inline uint64_t f2u(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* One sample: every instruction on one 8-byte frame slot per value (bools as 0 or 1), from the same
 * element definitions as run_block. fr holds the sample's hash rows; outputs land in their slots. */
static void run_one(const Kernel *kn, uint64_t *fr)
{
    const uint64_t *pool = kn->pool;
#define V1(o) ((o) >= 0 ? fr[o] : pool[-1 - (o)])
#define F1(o) as_double(V1(o))
#define D1 ((fr[in->a] >> in->z) & M32)
    for (int n = 0; n < kn->nins; n++) {
        const Ins *in = &kn->one[n];
        uint64_t *d = fr + in->d;
        switch (in->op) {
        case OP_TO_FLOAT_D: *d = f2u(E_TO_FLOAT_D(D1)); break;
        case OP_TO_FLOAT_I: *d = f2u(E_TO_FLOAT_I(V1(in->a))); break;
        case OP_UNIT: *d = f2u(E_UNIT(D1)); break;
        case OP_OPEN_UNIT: *d = f2u(E_OPEN_UNIT(D1)); break;
        case OP_AFFINE: *d = f2u(E_AFFINE(D1, F1(in->b), F1(in->c))); break;
        case OP_AFFINE_EXP: *d = f2u(E_EXP(E_AFFINE(D1, F1(in->b), F1(in->c)))); break;
        case OP_ADD: *d = f2u(E_ADD(F1(in->a), F1(in->b))); break;
        case OP_SUB: *d = f2u(E_SUB(F1(in->a), F1(in->b))); break;
        case OP_MUL: *d = f2u(E_MUL(F1(in->a), F1(in->b))); break;
        case OP_DIV: *d = f2u(E_DIV(F1(in->a), F1(in->b))); break;
        case OP_NEG: *d = f2u(E_NEG(F1(in->a))); break;
        case OP_MIN: *d = f2u(E_MIN(F1(in->a), F1(in->b))); break;
        case OP_MAX: *d = f2u(E_MAX(F1(in->a), F1(in->b))); break;
        case OP_EXP: *d = f2u(E_EXP(F1(in->a))); break;
        case OP_LOG: *d = f2u(E_LOG(F1(in->a))); break;
        case OP_SQRT: *d = f2u(E_SQRT(F1(in->a))); break;
        case OP_NDTRI: *d = f2u(E_NDTRI(F1(in->a))); break;
        case OP_FLOOR: *d = f2u(E_FLOOR(F1(in->a))); break;
        case OP_LT: *d = E_LT(F1(in->a), F1(in->b)); break;
        case OP_LE: *d = E_LE(F1(in->a), F1(in->b)); break;
        case OP_GT: *d = E_GT(F1(in->a), F1(in->b)); break;
        case OP_GE: *d = E_GE(F1(in->a), F1(in->b)); break;
        case OP_IADD: *d = E_IADD(V1(in->a), V1(in->b)); break;
        case OP_ISUB: *d = E_ISUB(V1(in->a), V1(in->b)); break;
        case OP_IMUL: *d = E_IMUL(V1(in->a), V1(in->b)); break;
        case OP_BELOW: *d = E_BELOW(D1, V1(in->b)); break;
        case OP_MULHI: *d = E_MULHI(V1(in->a), V1(in->b)); break;
        case OP_COUNT_GE: {
            const uint64_t w = V1(in->a);
            uint64_t c = 0;
            for (int j = 0; j < in->y; j++)
                c += w >= pool[in->x + j];
            *d = c;
            break;
        }
        case OP_LOOKUP: {
            const uint64_t k = V1(in->a), last = (uint64_t)in->y - 1;
            *d = pool[in->x + (k < last ? k : last)];
            break;
        }
        case OP_PERM: {
            const int np = in->y;
            const uint64_t last = factorial(np) - 1, k = V1(in->a) < last ? V1(in->a) : last;
            int digits[PERM_MAX];
            if (kn->perm[n])
                for (int j = 0; j < np; j++)
                    digits[j] = kn->perm[n][k * (uint64_t)np + j];
            else
                decode_permutation(k, np, digits);
            for (int j = 0; j < np; j++)
                fr[kn->one_aux[in->x + j]] = (uint64_t)digits[j];
            break;
        }
        case OP_SELECT:
        case OP_SELECT_B: *d = V1(in->a) ? V1(in->b) : V1(in->c); break;
        case OP_MOVE:
        case OP_MOVE_B: *d = V1(in->a); break;
        case OP_CLOSE:
        case OP_CLOSE_B:
            if (D1 >= V1(in->b))
                *d = V1(in->c);
            break;
        }
    }
#undef V1
#undef F1
#undef D1
}

#endif /* DPA_INTERP_H */
