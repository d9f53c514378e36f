/*
 * dpa._ckernel: the optional compiled kernel.
 *
 * The same computation as dpa.prng + dpa.specs + dpa.composite (docs/SPEC.md),
 * fused: one pass over a block of sample ids hashes every stream word the
 * config needs and maps the words to values, instead of one numpy pass per
 * arithmetic step. It must give exactly the bits of the pure-Python/numpy
 * paths (tests/dpa/test_ckernel.py compares them, and the golden vectors pin
 * both). Hence:
 *   - every floating-point operation is written in the order SPEC.md gives,
 *     and the module is compiled with -ffp-contract=off (no fused multiply-add);
 *   - exp, log and the normal quantile are dpa's own (SPEC.md section 4), not
 *     libm's; frexp, ldexp, floor and sqrt are exact or correctly rounded;
 *   - constants are C99 hexadecimal literals, so they are the very doubles the
 *     Python modules hold.
 *
 * Arrays cross the boundary through the buffer protocol, so building needs
 * only Python's headers (not numpy's). The GIL is released while filling.
 *
 * Layers, as in the Python package: _xxh64.h makes bits and knows nothing of
 * augmentation; _fmath.h holds the float building blocks; this file maps
 * words to spec values ("programs") and holds the Python glue.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Doubles must be computed as doubles (not in x87 extended precision, which
 * rounds twice): where they are not, refuse to build; dpa then runs on numpy. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "dpa._ckernel needs FLT_EVAL_METHOD == 0 (e.g. SSE2 math on 32-bit x86); numpy is used instead"
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict
#endif

/* Runtime-dispatched SIMD versions of the hot loops where the toolchain can
 * build them (GCC or clang on x86-64 Linux: ifunc). Integer code gains most
 * (AVX-512's 64-bit multiply); float code computes the same IEEE results at
 * any width because contraction is off. Checked bit-exact with GCC 12 and
 * clang 14; `moderate` ran at 11 M samples/s without the clones, 26 with. */
#if defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __clang_major__ >= 14
#define DPA_CLONES __attribute__((target_clones("avx512dq", "avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 8
#define DPA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DPA_CLONES
#endif

#include "_fmath.h"
#include "_xxh64.h"

/* Ids per block. Long blocks write each output in long runs (64 KiB), which the
 * memory system takes faster than many short ones: measured for `moderate`
 * into reused arrays, 27.3 ms per million ids with blocks of 256, 26.2 with
 * 1024, 22.5 with 4096, 20.8 with 8192, 20.7 with 16384. */
#define BLOCK 8192
#define MAX_OUT 12    /* outputs of one spec (a permutation of up to 12) */
#define TWO_M32 0x1.0000000000000p-32

/* ------------------------------------------------------------------ hashing loops */

DPA_CLONES
static void hash_rows(const uint64_t *restrict ids, Py_ssize_t m, const uint64_t *restrict row_c,
                      const uint64_t *restrict row_k2, int nrows, uint64_t *restrict ra, uint64_t *restrict words,
                      Py_ssize_t stride)
{
    for (Py_ssize_t i = 0; i < m; i++)
        ra[i] = rotl64(xxh_round(ids[i]), 27);
    for (int r = 0; r < nrows; r++) {
        const uint64_t c = row_c[r], k2 = row_k2[r];
        uint64_t *restrict w = words + (Py_ssize_t)r * stride;
        for (Py_ssize_t i = 0; i < m; i++)
            w[i] = xxh_finish(ra[i], c, k2);
    }
}

/* Element-wise xxh64_pair over arrays; a stride of 0 repeats one value. (dpa.prng copies an
 * input that overlaps out before calling this.) */
DPA_CLONES
static void hash_pairs(const uint64_t *restrict a, Py_ssize_t sa, const uint64_t *restrict b, Py_ssize_t sb,
                       const uint64_t *restrict s, Py_ssize_t ss, uint64_t *restrict out, Py_ssize_t n)
{
    if (sb == 0 && ss == 0) {
        const uint64_t c = seed_const(s[0]), k2 = xxh_round(b[0]);
        for (Py_ssize_t i = 0; i < n; i++)
            out[i] = xxh_finish(rotl64(xxh_round(a[i * sa]), 27), c, k2);
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = xxh_finish(rotl64(xxh_round(a[i * sa]), 27), seed_const(s[i * ss]), xxh_round(b[i * sb]));
}

/* ------------------------------------------------------------------- programs */

static inline uint64_t mulhi32(uint64_t w, uint64_t n) { return (((w >> 32) * n) + (((w & 0xFFFFFFFFULL) * n) >> 32)) >> 32; }

enum { K_UNIFORM, K_LOG_UNIFORM, K_NORMAL, K_TRUNC_NORMAL, K_INTEGER, K_CHOICE, K_BERNOULLI, K_BOX, K_PERMUTATION, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"uniform", "log_uniform", "normal", "truncated_normal", "integer",
                                                "choice", "bernoulli", "box", "permutation"};
enum { T_FLOAT = 0, T_INT = 1, T_BOOL = 2 };

typedef union {
    double f;
    int64_t i;
} Value;

typedef struct {
    int kind;
    int row;               /* the spec's first hash row; draw k is row + k / 2, high half when k is even */
    int n_out;
    int out[MAX_OUT];      /* output slots */
    int gate_draw;         /* -1: not gated */
    uint64_t gate_t;       /* open when the gate draw < gate_t */
    Value ident[MAX_OUT];
    int exp_near;          /* every exp argument of this op is within FAST_EXP_LIMIT */
    double f[8];
    uint64_t n;            /* integer range size, permutation n!, choice: number of thresholds */
    int64_t low;
    int perm_n;
    uint64_t *thresholds;  /* choice */
    Value *values;         /* choice */
    unsigned char *table;  /* permutation, n! rows of perm_n entries (n <= 8) */
} Op;

typedef struct {
    PyObject_HEAD
    int nrows, nops, nout;
    uint64_t *row_c, *row_k2;
    Op *ops;
    unsigned char *types; /* per output slot */
    PyObject *names;      /* tuple of str, output slot order */
    PyObject *template;   /* key_template(names): one() copies it */
} Program;

static inline uint64_t draw(const uint64_t *words, Py_ssize_t stride, const Op *op, int k, Py_ssize_t i)
{
    uint64_t w = words[(Py_ssize_t)(op->row + k / 2) * stride + i];
    return (k & 1) ? (w & 0xFFFFFFFFULL) : (w >> 32);
}

static inline const uint64_t *word_row(const uint64_t *words, Py_ssize_t stride, const Op *op)
{
    return words + (Py_ssize_t)op->row * stride;
}

static void decode_permutation(uint64_t k, int n, int *digits)
{
    uint64_t f = 1;
    for (int i = 2; i < n; i++)
        f *= i; /* (n-1)! */
    for (int i = 0; i < n; i++) {
        digits[i] = (int)((k / f) % (uint64_t)(n - i));
        if (n - 1 - i > 0)
            f /= (uint64_t)(n - 1 - i);
    }
    for (int i = n - 2; i >= 0; i--)
        for (int j = i + 1; j < n; j++)
            digits[j] += digits[j] >= digits[i];
}

/* Map one block's words to values: outs[slot] + off is where this block's values go. */
DPA_CLONES
static void map_block(const Program *p, const uint64_t *restrict words, Py_ssize_t stride, Py_ssize_t m, char **outs,
                      Py_ssize_t off)
{
    for (int o = 0; o < p->nops; o++) {
        const Op *op = &p->ops[o];
        const double *f = op->f;
        double *d0 = (double *)outs[op->out[0]] + off;
        switch (op->kind) {
        case K_UNIFORM: {
            const uint64_t *w = word_row(words, stride, op);
            const double scale = f[0], low = f[1];
            for (Py_ssize_t i = 0; i < m; i++)
                d0[i] = low + u32d(w[i] >> 32) * scale;
            break;
        }
        case K_LOG_UNIFORM:
            if (op->exp_near)
                for (Py_ssize_t i = 0; i < m; i++)
                    d0[i] = dmax(dmin(dpa_exp_near(u32d(draw(words, stride, op, 0, i)) * f[1] + f[0]), f[3]), f[2]);
            else
                for (Py_ssize_t i = 0; i < m; i++)
                    d0[i] = dmax(dmin(dpa_exp(u32d(draw(words, stride, op, 0, i)) * f[1] + f[0]), f[3]), f[2]);
            break;
        case K_NORMAL:
            for (Py_ssize_t i = 0; i < m; i++)
                d0[i] = f[0] + f[1] * dpa_ndtri(u32d(draw(words, stride, op, 0, i)) * TWO_M32 + 0.5 * TWO_M32);
            break;
        case K_TRUNC_NORMAL: /* fa, span, sign, mean, std, low, high */
            for (Py_ssize_t i = 0; i < m; i++) {
                double u = u32d(draw(words, stride, op, 0, i)) * TWO_M32 + 0.5 * TWO_M32;
                double z = dpa_ndtri(f[0] + u * f[1]) * f[2];
                d0[i] = dmax(dmin(f[3] + f[4] * z, f[6]), f[5]);
            }
            break;
        case K_INTEGER: {
            const uint64_t *w = word_row(words, stride, op);
            int64_t *dst = (int64_t *)outs[op->out[0]] + off;
            for (Py_ssize_t i = 0; i < m; i++)
                dst[i] = op->low + (int64_t)mulhi32(w[i], op->n);
            break;
        }
        case K_CHOICE: {
            const uint64_t *w = word_row(words, stride, op);
            Value *dst = (Value *)outs[op->out[0]] + off;
            for (Py_ssize_t i = 0; i < m; i++) {
                uint64_t c = 0;
                for (uint64_t t = 0; t < op->n; t++)
                    c += w[i] >= op->thresholds[t];
                dst[i] = op->values[c];
            }
            break;
        }
        case K_BERNOULLI: {
            const uint64_t *w = word_row(words, stride, op);
            unsigned char *dst = (unsigned char *)outs[op->out[0]] + off;
            const uint64_t t = op->gate_t;
            for (Py_ssize_t i = 0; i < m; i++)
                dst[i] = (w[i] >> 32) < t;
            break;
        }
        case K_BOX: { /* s0, ss, r0, rs */
            const uint64_t *restrict w0 = word_row(words, stride, op), *restrict w1 = w0 + stride;
            double *restrict x = d0, *restrict y = (double *)outs[op->out[1]] + off;
            double *restrict ww = (double *)outs[op->out[2]] + off, *restrict hh = (double *)outs[op->out[3]] + off;
            const double s0 = f[0], ss = f[1], r0 = f[2], rs = f[3]; /* locals: the stores cannot alias them */
#define BOX_LOOP(EXP)                                                                                                  \
    for (Py_ssize_t i = 0; i < m; i++) {                                                                               \
        double s = u32d(w0[i] >> 32) * ss + s0;                                                                        \
        double lr = u32d(w0[i] & 0xFFFFFFFFULL) * rs + r0;                                                             \
        double r = dmin(dmax(EXP(lr), s), 1.0 / s);                                                                    \
        double bw = dmin(sqrt(s * r), 1.0);                                                                            \
        double bh = dmin(s / bw, 1.0);                                                                                 \
        x[i] = (u32d(w1[i] >> 32) * TWO_M32) * (1.0 - bw);                                                             \
        y[i] = (u32d(w1[i] & 0xFFFFFFFFULL) * TWO_M32) * (1.0 - bh);                                                   \
        ww[i] = bw;                                                                                                    \
        hh[i] = bh;                                                                                                    \
    }
            if (op->exp_near) {
                BOX_LOOP(dpa_exp_near)
            } else {
                BOX_LOOP(dpa_exp)
            }
#undef BOX_LOOP
            break;
        }
        case K_PERMUTATION: {
            const uint64_t *w = word_row(words, stride, op);
            const int n = op->perm_n;
            int64_t *dst[MAX_OUT];
            for (int j = 0; j < n; j++)
                dst[j] = (int64_t *)outs[op->out[j]] + off;
            for (Py_ssize_t i = 0; i < m; i++) {
                uint64_t k = mulhi32(w[i], op->n);
                if (op->table) {
                    const unsigned char *row = op->table + k * (uint64_t)n;
                    for (int j = 0; j < n; j++)
                        dst[j][i] = row[j];
                } else {
                    int digits[MAX_OUT];
                    decode_permutation(k, n, digits);
                    for (int j = 0; j < n; j++)
                        dst[j][i] = digits[j];
                }
            }
            break;
        }
        }
        if (op->gate_draw >= 0) { /* closed gates: every output takes its identity */
            const int k = op->gate_draw;
            const uint64_t *w = words + (Py_ssize_t)(op->row + k / 2) * stride;
            const int shift = (k & 1) ? 0 : 32;
            for (int j = 0; j < op->n_out; j++) {
                const Value id = op->ident[j];
                if (p->types[op->out[j]] == T_BOOL) {
                    unsigned char *dst = (unsigned char *)outs[op->out[j]] + off;
                    for (Py_ssize_t i = 0; i < m; i++)
                        if (((w[i] >> shift) & 0xFFFFFFFFULL) >= op->gate_t)
                            dst[i] = (unsigned char)id.i;
                } else {
                    Value *dst = (Value *)outs[op->out[j]] + off;
                    for (Py_ssize_t i = 0; i < m; i++)
                        if (((w[i] >> shift) & 0xFFFFFFFFULL) >= op->gate_t)
                            dst[i] = id;
                }
            }
        }
    }
}

/* Fill outs[slot][0..n) for ids[0..n). words (nrows x stride) and ra (stride) are caller scratch,
 * stride >= min(n, BLOCK). */
static void fill(const Program *p, const uint64_t *ids, Py_ssize_t n, char **outs, uint64_t *words, uint64_t *ra,
                 Py_ssize_t stride)
{
    for (Py_ssize_t start = 0; start < n; start += stride) {
        Py_ssize_t m = n - start < stride ? n - start : stride;
        hash_rows(ids + start, m, p->row_c, p->row_k2, p->nrows, ra, words, stride);
        map_block(p, words, stride, m, outs, start);
    }
}

/* ------------------------------------------------------------ Python: Program */

/* {name: None} for every name of a tuple. Result dicts start as copies of it: copying a clean
 * dict is one table copy, where inserting into an empty one resizes it twice on the way to 24
 * keys (measured: 1.16 -> 1.00 us per one-sample dict). */
static PyObject *key_template(PyObject *names)
{
    PyObject *template = PyDict_New();
    for (Py_ssize_t j = 0; template && j < PyTuple_GET_SIZE(names); j++)
        if (PyDict_SetItem(template, PyTuple_GET_ITEM(names, j), Py_None) < 0)
            Py_CLEAR(template);
    return template;
}

static void Program_dealloc(Program *self)
{
    if (self->ops) {
        for (int o = 0; o < self->nops; o++) {
            free(self->ops[o].thresholds);
            free(self->ops[o].values);
            free(self->ops[o].table);
        }
    }
    free(self->ops);
    free(self->row_c);
    free(self->row_k2);
    free(self->types);
    Py_XDECREF(self->names);
    Py_XDECREF(self->template);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int read_u64_list(PyObject *seq, const char *what, uint64_t **dst, Py_ssize_t *len)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    *dst = (uint64_t *)calloc(n ? n : 1, sizeof(uint64_t));
    if (!*dst) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long long v = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == (unsigned long long)-1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        (*dst)[i] = v;
    }
    *len = n;
    Py_DECREF(fast);
    return 0;
}

static int read_value(PyObject *obj, int type, Value *v)
{
    if (type == T_FLOAT) {
        v->f = PyFloat_AsDouble(obj);
        return (v->f == -1.0 && PyErr_Occurred()) ? -1 : 0;
    }
    long long x = PyLong_AsLongLong(obj);
    if (x == -1 && PyErr_Occurred())
        return -1;
    v->i = type == T_BOOL ? (x != 0) : x;
    return 0;
}

/* One op from the tuple (kind, row, out_slots, gate_draw, gate_t, identities, floats, ints, thresholds, values). */
static int read_op(Program *p, PyObject *t, Op *op)
{
    PyObject *outs, *idents, *floats, *ints, *thresholds, *values;
    if (!PyArg_ParseTuple(t, "iiOiKOOOOO", &op->kind, &op->row, &outs, &op->gate_draw, &op->gate_t, &idents, &floats,
                          &ints, &thresholds, &values))
        return -1;
    if (op->kind < 0 || op->kind >= K_COUNT) {
        PyErr_Format(PyExc_ValueError, "unknown op kind %d", op->kind);
        return -1;
    }
    Py_ssize_t n_out = PySequence_Size(outs);
    if (n_out < 1 || n_out > MAX_OUT || PySequence_Size(idents) != n_out) {
        PyErr_Format(PyExc_ValueError, "%s op: 1..%d outputs with one identity each", KIND_NAMES[op->kind], MAX_OUT);
        return -1;
    }
    op->n_out = (int)n_out;
    for (int j = 0; j < op->n_out; j++) {
        PyObject *item = PySequence_GetItem(outs, j);
        long slot = item ? PyLong_AsLong(item) : -1;
        Py_XDECREF(item);
        if (slot < 0 || slot >= p->nout) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "output slot %ld out of range", slot);
            return -1;
        }
        op->out[j] = (int)slot;
        item = PySequence_GetItem(idents, j);
        int bad = !item || read_value(item, p->types[slot], &op->ident[j]) < 0;
        Py_XDECREF(item);
        if (bad)
            return -1;
    }
    Py_ssize_t nf = PySequence_Size(floats);
    if (nf < 0 || nf > 8) {
        PyErr_SetString(PyExc_ValueError, "at most 8 float constants");
        return -1;
    }
    for (Py_ssize_t j = 0; j < nf; j++) {
        PyObject *item = PySequence_GetItem(floats, j);
        op->f[j] = item ? PyFloat_AsDouble(item) : -1.0;
        Py_XDECREF(item);
        if (PyErr_Occurred())
            return -1;
    }
    PyObject *n_obj = NULL, *low_obj = NULL;
    if (PySequence_Size(ints) == 2) {
        n_obj = PySequence_GetItem(ints, 0);
        low_obj = PySequence_GetItem(ints, 1);
        op->n = n_obj ? PyLong_AsUnsignedLongLong(n_obj) : 0;
        op->low = low_obj ? PyLong_AsLongLong(low_obj) : 0;
        Py_XDECREF(n_obj);
        Py_XDECREF(low_obj);
        if (PyErr_Occurred())
            return -1;
    }
    if (op->kind == K_LOG_UNIFORM || op->kind == K_BOX) { /* exp(c + d * s) for draws d in [0, 2^32) */
        int c = op->kind == K_BOX ? 2 : 0;
        double a = op->f[c], b = 4294967295.0 * op->f[c + 1] + op->f[c];
        op->exp_near = fabs(a) <= FAST_EXP_LIMIT && fabs(b) <= FAST_EXP_LIMIT;
    }
    if (op->kind == K_CHOICE) {
        Py_ssize_t nt;
        if (read_u64_list(thresholds, "choice thresholds", &op->thresholds, &nt) < 0)
            return -1;
        op->n = (uint64_t)nt;
        if (PySequence_Size(values) != nt + 1) {
            PyErr_SetString(PyExc_ValueError, "choice: one value more than thresholds");
            return -1;
        }
        op->values = (Value *)calloc(nt + 1, sizeof(Value));
        if (!op->values) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t j = 0; j <= nt; j++) {
            PyObject *item = PySequence_GetItem(values, j);
            int bad = !item || read_value(item, p->types[op->out[0]], &op->values[j]) < 0;
            Py_XDECREF(item);
            if (bad)
                return -1;
        }
    }
    if (op->kind == K_PERMUTATION) {
        op->perm_n = op->n_out;
        if (op->perm_n < 2) {
            PyErr_SetString(PyExc_ValueError, "permutation of fewer than 2 items");
            return -1;
        }
        if (op->perm_n <= 8) { /* n! rows (40320 at most): a lookup beats decoding */
            uint64_t rows = op->n;
            op->table = (unsigned char *)malloc(rows * (uint64_t)op->perm_n);
            if (!op->table) {
                PyErr_NoMemory();
                return -1;
            }
            for (uint64_t k = 0; k < rows; k++) {
                int digits[MAX_OUT];
                decode_permutation(k, op->perm_n, digits);
                for (int j = 0; j < op->perm_n; j++)
                    op->table[k * op->perm_n + j] = (unsigned char)digits[j];
            }
        }
    }
    return 0;
}

static int Program_init(Program *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"row_c", "row_k2", "names", "types", "ops", NULL};
    PyObject *row_c, *row_k2, *names, *ops;
    const char *types;
    Py_ssize_t ntypes, nc, nk;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!s#O", kwlist, &row_c, &row_k2, &PyTuple_Type, &names, &types,
                                     &ntypes, &ops))
        return -1;
    if (self->ops) {
        PyErr_SetString(PyExc_RuntimeError, "Program is already initialised");
        return -1;
    }
    if (read_u64_list(row_c, "row_c", &self->row_c, &nc) < 0 || read_u64_list(row_k2, "row_k2", &self->row_k2, &nk) < 0)
        return -1;
    if (nc != nk || nc > INT32_MAX / BLOCK) { /* rows x BLOCK indexes stay in range */
        PyErr_SetString(PyExc_ValueError, "row_c and row_k2 must have the same (moderate) length");
        return -1;
    }
    self->nrows = (int)nc;
    if (PyTuple_GET_SIZE(names) != ntypes) {
        PyErr_SetString(PyExc_ValueError, "one type code per output name");
        return -1;
    }
    self->nout = (int)ntypes;
    self->types = (unsigned char *)malloc(ntypes ? ntypes : 1);
    if (!self->types) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t j = 0; j < ntypes; j++) {
        const char *pos = strchr("fib", types[j]);
        if (!types[j] || !pos) {
            PyErr_SetString(PyExc_ValueError, "type codes are 'f', 'i' or 'b'");
            return -1;
        }
        self->types[j] = (unsigned char)(pos - "fib");
    }
    Py_INCREF(names);
    self->names = names;
    self->template = key_template(names);
    if (!self->template)
        return -1;
    PyObject *fast = PySequence_Fast(ops, "ops must be a sequence");
    if (!fast)
        return -1;
    Py_ssize_t nops = PySequence_Fast_GET_SIZE(fast);
    self->ops = (Op *)calloc(nops ? nops : 1, sizeof(Op));
    if (!self->ops) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    self->nops = (int)nops;
    for (Py_ssize_t o = 0; o < nops; o++) {
        Op *op = &self->ops[o];
        if (read_op(self, PySequence_Fast_GET_ITEM(fast, o), op) < 0) {
            Py_DECREF(fast);
            return -1;
        }
        int last_draw = op->gate_draw >= 0 ? op->gate_draw : 0;
        int needs_rows = op->kind == K_BOX ? 2 : 1;
        if (op->row < 0 || op->row + needs_rows > self->nrows || op->row + last_draw / 2 >= self->nrows) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError, "%s op reads past the %d hash rows", KIND_NAMES[op->kind], self->nrows);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

/* Each output buffer must be writable, contiguous, hold n items of its slot's size. */
static int get_out_buffers(const Program *self, PyObject *outs, Py_ssize_t n, Py_buffer *views, char **ptrs)
{
    if (!PyTuple_Check(outs) || PyTuple_GET_SIZE(outs) != self->nout) {
        PyErr_Format(PyExc_ValueError, "outs must be a tuple of %d buffers", self->nout);
        return -1;
    }
    for (int j = 0; j < self->nout; j++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(outs, j), &views[j], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            for (int k = 0; k < j; k++)
                PyBuffer_Release(&views[k]);
            return -1;
        }
        Py_ssize_t itemsize = self->types[j] == T_BOOL ? 1 : 8;
        if (views[j].len < n * itemsize) {
            for (int k = 0; k <= j; k++)
                PyBuffer_Release(&views[k]);
            PyErr_Format(PyExc_ValueError, "output %d holds %zd bytes; %zd needed", j, views[j].len, n * itemsize);
            return -1;
        }
        ptrs[j] = (char *)views[j].buf;
    }
    return 0;
}

static PyObject *Program_fill(Program *self, PyObject *args)
{
    PyObject *ids_obj, *outs;
    if (!PyArg_ParseTuple(args, "OO", &ids_obj, &outs))
        return NULL;
    Py_buffer ids;
    if (PyObject_GetBuffer(ids_obj, &ids, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (ids.len % 8) {
        PyBuffer_Release(&ids);
        PyErr_SetString(PyExc_ValueError, "ids must be a contiguous uint64 buffer");
        return NULL;
    }
    Py_ssize_t n = ids.len / 8;
    Py_ssize_t stride = n < BLOCK ? (n ? n : 1) : BLOCK; /* small calls get small scratch */
    Py_buffer *views = (Py_buffer *)calloc(self->nout ? self->nout : 1, sizeof(Py_buffer));
    char **ptrs = (char **)calloc(self->nout ? self->nout : 1, sizeof(char *));
    uint64_t *words = (uint64_t *)malloc(((size_t)self->nrows + 1) * stride * sizeof(uint64_t));
    if (!views || !ptrs || !words) {
        free(views), free(ptrs), free(words);
        PyBuffer_Release(&ids);
        return PyErr_NoMemory();
    }
    if (get_out_buffers(self, outs, n, views, ptrs) < 0) {
        free(views), free(ptrs), free(words);
        PyBuffer_Release(&ids);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    fill(self, (const uint64_t *)ids.buf, n, ptrs, words, words + (size_t)self->nrows * stride, stride);
    Py_END_ALLOW_THREADS
    for (int j = 0; j < self->nout; j++)
        PyBuffer_Release(&views[j]);
    PyBuffer_Release(&ids);
    free(views), free(ptrs), free(words);
    Py_RETURN_NONE;
}

/* The scalar path: one id through the same code as a block of one, returned as a dict in slot order. */
static PyObject *Program_one(Program *self, PyObject *arg)
{
    uint64_t id = PyLong_AsUnsignedLongLong(arg);
    if (id == (uint64_t)-1 && PyErr_Occurred())
        return NULL;
    enum { STACK_ROWS = 256, STACK_OUT = 256 };
    uint64_t words_stack[STACK_ROWS + 1];
    Value values_stack[STACK_OUT];
    char *ptrs_stack[STACK_OUT];
    uint64_t *words = words_stack;
    Value *values = values_stack;
    char **ptrs = ptrs_stack;
    int heap = self->nrows > STACK_ROWS || self->nout > STACK_OUT;
    if (heap) {
        words = (uint64_t *)malloc(((size_t)self->nrows + 1) * sizeof(uint64_t));
        values = (Value *)calloc(self->nout, sizeof(Value));
        ptrs = (char **)calloc(self->nout, sizeof(char *));
        if (!words || !values || !ptrs) {
            free(words), free(values), free(ptrs);
            return PyErr_NoMemory();
        }
    }
    memset(values, 0, (size_t)self->nout * sizeof(Value)); /* a bool slot gets one byte written */
    for (int j = 0; j < self->nout; j++)
        ptrs[j] = (char *)&values[j];
    fill(self, &id, 1, ptrs, words, words + self->nrows, 1);
    PyObject *out = PyDict_Copy(self->template);
    for (int j = 0; out && j < self->nout; j++) {
        PyObject *v;
        if (self->types[j] == T_FLOAT)
            v = PyFloat_FromDouble(values[j].f);
        else if (self->types[j] == T_INT)
            v = PyLong_FromLongLong(values[j].i);
        else
            v = PyBool_FromLong(*(unsigned char *)&values[j]); /* bernoulli wrote one byte */
        if (!v || PyDict_SetItem(out, PyTuple_GET_ITEM(self->names, j), v) < 0)
            Py_CLEAR(out);
        Py_XDECREF(v);
    }
    if (heap)
        free(words), free(values), free(ptrs);
    return out;
}

static PyMethodDef Program_methods[] = {
    {"fill", (PyCFunction)Program_fill, METH_VARARGS,
     "fill(ids, outs): write the values of uint64 ids into the output buffers (one per slot)."},
    {"one", (PyCFunction)Program_one, METH_O, "one(sample_id) -> {name: value}: the values of one id."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dpa._ckernel.Program",
    .tp_basicsize = sizeof(Program),
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A config compiled for one (seed, epoch): hash rows and mapping ops.",
    .tp_methods = Program_methods,
    .tp_init = (initproc)Program_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------ Python: functions */

static PyObject *py_xxh64_pair(PyObject *mod, PyObject *args)
{
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objs[0], &objs[1], &objs[2], &objs[3]))
        return NULL;
    Py_buffer v[4];
    int got = 0;
    for (; got < 4; got++)
        if (PyObject_GetBuffer(objs[got], &v[got], got == 3 ? (PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) : PyBUF_C_CONTIGUOUS) < 0)
            break;
    PyObject *result = NULL;
    if (got == 4) {
        Py_ssize_t n = v[3].len / 8, strides[3];
        int ok = v[3].len % 8 == 0;
        for (int j = 0; j < 3 && ok; j++) {
            strides[j] = v[j].len == 8 ? 0 : 1;
            ok = v[j].len == 8 || v[j].len == v[3].len;
        }
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "xxh64_pair: a, b, seed must hold 1 or len(out) uint64 values");
        } else {
            Py_BEGIN_ALLOW_THREADS
            hash_pairs((const uint64_t *)v[0].buf, strides[0], (const uint64_t *)v[1].buf, strides[1],
                       (const uint64_t *)v[2].buf, strides[2], (uint64_t *)v[3].buf, n);
            Py_END_ALLOW_THREADS
            result = Py_None;
            Py_INCREF(result);
        }
    }
    for (int j = 0; j < got; j++)
        PyBuffer_Release(&v[j]);
    return result;
}

/* rows(names, arrays, types): one dict {name: value} per element of equal-length 1-D arrays
 * (types: 'f' float64, 'i' int64, 'b' bool per array), what numpy's tolist() and zip would build. */
static PyObject *py_rows(PyObject *mod, PyObject *args)
{
    PyObject *names, *arrays;
    const char *types;
    Py_ssize_t k;
    (void)mod;
    if (!PyArg_ParseTuple(args, "O!O!s#", &PyTuple_Type, &names, &PyTuple_Type, &arrays, &types, &k))
        return NULL;
    if (PyTuple_GET_SIZE(names) != k || PyTuple_GET_SIZE(arrays) != k) {
        PyErr_SetString(PyExc_ValueError, "rows: one name and one type code per array");
        return NULL;
    }
    Py_buffer *views = (Py_buffer *)calloc(k ? (size_t)k : 1, sizeof(Py_buffer));
    if (!views)
        return PyErr_NoMemory();
    Py_ssize_t got = 0, n = -1;
    PyObject *list = NULL;
    for (; got < k; got++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(arrays, got), &views[got], PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        Py_ssize_t size = types[got] == 'b' ? 1 : 8, len = views[got].len / size;
        if (!strchr("fib", types[got]) || !types[got] || views[got].len % size || (n >= 0 && len != n)) {
            got++;
            PyErr_SetString(PyExc_ValueError, "rows: arrays of one length, 8-byte 'f'/'i' or 1-byte 'b' items");
            goto done;
        }
        n = len;
    }
    PyObject *template = key_template(names);
    if (!template)
        goto done;
    list = PyList_New(n < 0 ? 0 : n);
    for (Py_ssize_t i = 0; list && i < n; i++) {
        PyObject *d = PyDict_Copy(template);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, d);
        for (Py_ssize_t j = 0; j < k; j++) {
            const char *buf = (const char *)views[j].buf;
            PyObject *v;
            if (types[j] == 'f')
                v = PyFloat_FromDouble(((const double *)buf)[i]);
            else if (types[j] == 'i')
                v = PyLong_FromLongLong(((const int64_t *)buf)[i]);
            else
                v = PyBool_FromLong(buf[i] != 0);
            if (!v || PyDict_SetItem(d, PyTuple_GET_ITEM(names, j), v) < 0) {
                Py_XDECREF(v);
                Py_CLEAR(list);
                break;
            }
            Py_DECREF(v);
        }
    }
    Py_DECREF(template);
done:
    for (Py_ssize_t j = 0; j < got; j++)
        PyBuffer_Release(&views[j]);
    free(views);
    return list;
}

static PyMethodDef module_methods[] = {
    {"rows", py_rows, METH_VARARGS,
     "rows(names, arrays, types) -> list of dicts: one per element of equal-length 1-D arrays."},
    {"xxh64_pair", py_xxh64_pair, METH_VARARGS,
     "xxh64_pair(a, b, seed, out): contiguous uint64 buffers; a, b, seed of length 1 or len(out)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "dpa._ckernel", "dpa's optional compiled kernel (see dpa/_ckernel.c).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__ckernel(void)
{
    if (PyType_Ready(&ProgramType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0) {
        Py_DECREF(&ProgramType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "BLOCK", BLOCK);
    return m;
}
