/*
 * dpa._ckernel: the optional compiled kernel.
 *
 * Runs a config's spec programs (dpa/program.py, lowered by dpa/_cplan.py)
 * over blocks of sample ids: one pass hashes every stream word the config
 * needs for a block of ids, then the interpreter (_interp.h) runs each
 * instruction as one loop over a cache-sized part of the block. It must give
 * exactly the bits of the Python, numpy and torch backends
 * (tests/dpa/test_ckernel.py compares them, and the golden vectors pin all).
 * Hence:
 *   - every loop is one IEEE operation, as the program names it, and the
 *     module is compiled with -ffp-contract=off (no fused multiply-add);
 *   - exp, log and the normal quantile are dpa's own (SPEC.md section 4), not
 *     libm's; frexp, ldexp, floor and sqrt are exact or correctly rounded;
 *   - constants are C99 hexadecimal literals or IEEE bits from Python, so they
 *     are the very doubles the Python modules hold.
 *
 * Arrays cross the boundary through the buffer protocol, so building needs
 * only Python's headers (not numpy's). The GIL is released while filling.
 *
 * Layers, as in the Python package: _xxh64.h makes bits and knows nothing of
 * augmentation; _fmath.h holds the float building blocks; _interp.h runs spec
 * programs; this file holds the Python glue.
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
#include "_interp.h"
#include "_xxh64.h"
#include "_noise.h"


/* Ids hashed per block, and ids per interpreter pass over it (registers of SUB
 * doubles stay in L1/L2). */
#ifndef DPA_BLOCK
#define DPA_BLOCK 1024
#endif
#ifndef DPA_SUB
#define DPA_SUB 512
#endif
#define BLOCK DPA_BLOCK
#define SUB DPA_SUB
#define MAX_STACK_OUT 256

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

/* ------------------------------------------------------------ Python: Kernel */

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

/* A copy of a contiguous buffer of `size`-byte items (size 4 or 8), or NULL with an error. */
static void *copy_buffer(PyObject *obj, const char *what, Py_ssize_t size, Py_ssize_t *count)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    void *copy = NULL;
    if (view.len % size)
        PyErr_Format(PyExc_ValueError, "%s must hold %zd-byte items", what, size);
    else if (!(copy = malloc(view.len ? (size_t)view.len : 1)))
        PyErr_NoMemory();
    else
        memcpy(copy, view.buf, (size_t)view.len);
    *count = view.len / size;
    PyBuffer_Release(&view);
    return copy;
}

typedef struct {
    PyObject_HEAD
    Kernel k;
    PyObject *names;    /* tuple of str, output slot order */
    PyObject *template; /* key_template(names) */
} KernelObject;

static void Kernel_dealloc(KernelObject *self)
{
    kernel_free(&self->k);
    Py_XDECREF(self->names);
    Py_XDECREF(self->template);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Kernel_init(KernelObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"code", "pool", "nregs", "nrows", "names", "types", NULL};
    PyObject *code, *pool, *names;
    const char *types;
    Py_ssize_t ntypes, nins, npool;
    int nregs, nrows;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiiO!s#", kwlist, &code, &pool, &nregs, &nrows, &PyTuple_Type,
                                     &names, &types, &ntypes))
        return -1;
    if (self->k.ins) {
        PyErr_SetString(PyExc_RuntimeError, "Kernel is already initialised");
        return -1;
    }
    if (nregs < 0 || nrows < 0 || nrows > INT32_MAX / BLOCK || nregs > (1 << 20) || PyTuple_GET_SIZE(names) != ntypes ||
        ntypes >= (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "Kernel: bad register or row count, or not one type code per output name");
        return -1;
    }
    self->k.nregs = nregs, self->k.nrows = nrows, self->k.nout = (int)ntypes;
    if (!(self->k.types = (unsigned char *)malloc(ntypes ? (size_t)ntypes : 1)))
        return PyErr_NoMemory(), -1;
    for (Py_ssize_t j = 0; j < ntypes; j++) {
        const char *pos = types[j] ? strchr("fib", types[j]) : NULL;
        if (!pos) {
            PyErr_SetString(PyExc_ValueError, "type codes are 'f', 'i' or 'b'");
            return -1;
        }
        self->k.types[j] = (unsigned char)(pos - "fib");
    }
    if (!(self->k.ins = (Ins *)copy_buffer(code, "code", sizeof(Ins), &nins)))
        return -1;
    if (!(self->k.pool = (uint64_t *)copy_buffer(pool, "pool", 8, &npool)))
        return -1;
    self->k.nins = (int)nins, self->k.npool = npool;
    char err[160];
    if (kernel_check(&self->k, err) < 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return -1;
    }
    if (kernel_tables(&self->k) < 0 || kernel_decode_one(&self->k) < 0)
        return PyErr_NoMemory(), -1;
    Py_INCREF(names);
    self->names = names;
    return (self->template = key_template(names)) ? 0 : -1;
}

static PyTypeObject ProgramType;

/* ------------------------------------------------------------ Python: Program */

/* A kernel bound to one (seed, epoch): the per-row hash constants. */
typedef struct {
    PyObject_HEAD
    KernelObject *kernel;
    uint64_t *row_c, *row_k2;
    char *spare; /* fill's scratch, kept between calls (taken while the GIL is held); NULL while in use */
} Program;

static void Program_dealloc(Program *self)
{
    free(self->spare);
    free(self->row_c);
    free(self->row_k2);
    Py_XDECREF(self->kernel);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Kernel_bind(KernelObject *self, PyObject *args)
{
    PyObject *c_obj, *k2_obj;
    if (!PyArg_ParseTuple(args, "OO", &c_obj, &k2_obj))
        return NULL;
    if (!self->k.ins) {
        PyErr_SetString(PyExc_RuntimeError, "Kernel is not initialised");
        return NULL;
    }
    Program *p = PyObject_New(Program, &ProgramType);
    if (!p)
        return NULL;
    p->row_c = p->row_k2 = NULL;
    p->spare = NULL;
    Py_INCREF(self);
    p->kernel = self;
    Py_ssize_t nc = 0, nk = 0;
    p->row_c = (uint64_t *)copy_buffer(c_obj, "row_c", 8, &nc);
    p->row_k2 = p->row_c ? (uint64_t *)copy_buffer(k2_obj, "row_k2", 8, &nk) : NULL;
    if (!p->row_k2 || nc != self->k.nrows || nk != self->k.nrows) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "row_c and row_k2 must hold %d uint64 values each", self->k.nrows);
        Py_DECREF(p);
        return NULL;
    }
    return (PyObject *)p;
}

/* Fill outs[slot][0..n) for ids[0..n). words (nrows x stride), ra (stride) and scratch (nregs x sub 8-byte
 * slots) are caller scratch, stride >= min(n, BLOCK), sub <= stride. Outputs are computed in place, the next
 * part's output lines fetched while a part runs (see Ahead). */
static void fill(const Program *p, const uint64_t *ids, Py_ssize_t n, char **outs, uint64_t *words, uint64_t *ra,
                 char *scratch, Py_ssize_t stride, Py_ssize_t sub)
{
    const Kernel *k = &p->kernel->k;
    char *stack[2 * MAX_STACK_OUT];
    char **ptrs = k->nout <= MAX_STACK_OUT ? stack : (char **)malloc(2 * (size_t)k->nout * sizeof(char *));
    if (!ptrs)
        return; /* only with more than MAX_STACK_OUT outputs and no memory: Program_fill checks first */
    char **cur = ptrs, **next = ptrs + k->nout;
    Ahead ahead = {next, k->types, k->nout, k->nout, 0, 0, 0};
    Frame f = {words, stride, scratch, sub, cur, &ahead};
    for (Py_ssize_t start = 0; start < n; start += stride) {
        Py_ssize_t m = n - start < stride ? n - start : stride;
        hash_rows(ids + start, m, p->row_c, p->row_k2, k->nrows, ra, words, stride);
        for (Py_ssize_t s = 0; s < m; s += sub) {
            const Py_ssize_t ms = m - s < sub ? m - s : sub, off = start + s, nx = off + ms;
            for (int j = 0; j < k->nout; j++) {
                const Py_ssize_t size = k->types[j] == T_BOOL ? 1 : 8;
                cur[j] = outs[j] + off * size;
                next[j] = outs[j] + nx * size;
            }
            ahead.m = (size_t)(n - nx < sub ? n - nx : sub), ahead.slot = 0, ahead.done = 0;
            ahead.quota = (ahead.m * 8 * (size_t)k->nout / (size_t)(k->nins ? k->nins : 1) + 63) & ~(size_t)63;
            f.words = words + s;
            run_block(k, &f, ms);
        }
    }
    if (ptrs != stack)
        free(ptrs);
}

/* Each output buffer must be writable, contiguous, hold n items of its slot's size. */
static int get_out_buffers(const Kernel *k, PyObject *outs, Py_ssize_t n, Py_buffer *views, char **ptrs)
{
    if (!PyTuple_Check(outs) || PyTuple_GET_SIZE(outs) != k->nout) {
        PyErr_Format(PyExc_ValueError, "outs must be a tuple of %d buffers", k->nout);
        return -1;
    }
    for (int j = 0; j < k->nout; j++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(outs, j), &views[j], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            for (int i = 0; i < j; i++)
                PyBuffer_Release(&views[i]);
            return -1;
        }
        Py_ssize_t itemsize = k->types[j] == T_BOOL ? 1 : 8;
        if (views[j].len < n * itemsize) {
            for (int i = 0; i <= j; i++)
                PyBuffer_Release(&views[i]);
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
    const Kernel *k = &self->kernel->k;
    Py_buffer ids;
    if (PyObject_GetBuffer(ids_obj, &ids, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (ids.len % 8) {
        PyBuffer_Release(&ids);
        PyErr_SetString(PyExc_ValueError, "ids must be a contiguous uint64 buffer");
        return NULL;
    }
    Py_ssize_t n = ids.len / 8;
    /* One scratch size per program (a block's hash rows, then the registers), kept
     * between calls: a fresh buffer this size comes from mmap and costs page faults on every call. */
    const size_t words_bytes = ((size_t)k->nrows + 1) * BLOCK * 8;
    char *scratch = self->spare;
    self->spare = NULL;
    if (!scratch)
        scratch = (char *)malloc(words_bytes + ((size_t)k->nregs + 1) * SUB * 8);
    Py_buffer *views = (Py_buffer *)calloc(k->nout ? k->nout : 1, sizeof(Py_buffer));
    char **ptrs = (char **)calloc(k->nout ? k->nout : 1, sizeof(char *));
    int ok = views && ptrs && scratch;
    if (!ok)
        PyErr_NoMemory();
    else if (get_out_buffers(k, outs, n, views, ptrs) < 0)
        ok = 0;
    if (ok) {
        uint64_t *words = (uint64_t *)scratch;
        Py_BEGIN_ALLOW_THREADS
        fill(self, (const uint64_t *)ids.buf, n, ptrs, words, words + (size_t)k->nrows * BLOCK, scratch + words_bytes,
             BLOCK, SUB);
        Py_END_ALLOW_THREADS
        for (int j = 0; j < k->nout; j++)
            PyBuffer_Release(&views[j]);
    }
    PyBuffer_Release(&ids);
    free(views), free(ptrs);
    if (!self->spare) /* another thread may have put one back meanwhile */
        self->spare = scratch;
    else
        free(scratch);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

/* The scalar path: one id through run_one, returned as a dict in slot order. */
static PyObject *Program_one(Program *self, PyObject *arg)
{
    uint64_t id = PyLong_AsUnsignedLongLong(arg);
    if (id == (uint64_t)-1 && PyErr_Occurred())
        return NULL;
    const Kernel *k = &self->kernel->k;
    enum { STACK = 768 };
    uint64_t stack[STACK], *fr = stack;
    const size_t nframe = (size_t)k->nrows + k->nregs + k->nout;
    if (nframe > STACK && !(fr = (uint64_t *)malloc(nframe * sizeof(uint64_t))))
        return PyErr_NoMemory();
    const uint64_t ra = rotl64(xxh_round(id), 27);
    for (int r = 0; r < k->nrows; r++)
        fr[r] = xxh_finish(ra, self->row_c[r], self->row_k2[r]);
    run_one(k, fr);
    const uint64_t *values = fr + k->nrows + k->nregs;
    PyObject *out = PyDict_Copy(self->kernel->template);
    for (int j = 0; out && j < k->nout; j++) {
        PyObject *v;
        if (k->types[j] == T_FLOAT)
            v = PyFloat_FromDouble(as_double(values[j]));
        else if (k->types[j] == T_INT)
            v = PyLong_FromLongLong((long long)values[j]);
        else
            v = PyBool_FromLong(values[j] != 0);
        if (!v || PyDict_SetItem(out, PyTuple_GET_ITEM(self->kernel->names, j), v) < 0)
            Py_CLEAR(out);
        Py_XDECREF(v);
    }
    if (fr != stack)
        free(fr);
    return out;
}

static PyMethodDef Kernel_methods[] = {
    {"bind", (PyCFunction)Kernel_bind, METH_VARARGS,
     "bind(row_c, row_k2) -> Program: the kernel with one (seed, epoch)'s per-row hash constants (uint64 buffers)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dpa._ckernel.Kernel",
    .tp_basicsize = sizeof(KernelObject),
    .tp_dealloc = (destructor)Kernel_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Kernel(code, pool, nregs, nrows, names, types): a config's spec programs, lowered and checked.",
    .tp_methods = Kernel_methods,
    .tp_init = (initproc)Kernel_init,
    .tp_new = PyType_GenericNew,
};

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
    .tp_doc = "A Kernel bound to one (seed, epoch) (Kernel.bind): fill(ids, outs) and one(sample_id).",
    .tp_methods = Program_methods,
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

/* noise(ids, key, counter_base, per, out): _noise.h's noise_fill over buffers (ids: uint64, out: float64 of
 * len(ids) * per, C-contiguous and writable). dpa.noise checks the arguments' ranges first. */
static PyObject *py_noise(PyObject *mod, PyObject *args)
{
    PyObject *ids_obj, *out_obj;
    unsigned long long key, counter_base;
    Py_ssize_t per;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OKKnO", &ids_obj, &key, &counter_base, &per, &out_obj))
        return NULL;
    Py_buffer ids, out;
    if (PyObject_GetBuffer(ids_obj, &ids, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&ids);
        return NULL;
    }
    const Py_ssize_t n = ids.len / 8;
    PyObject *result = NULL;
    if (ids.len % 8 || per < 0 || (n && per > PY_SSIZE_T_MAX / 8 / n) || out.len != n * per * 8) {
        PyErr_SetString(PyExc_ValueError, "noise: ids must hold uint64 values and out len(ids) * per float64 values");
    } else {
        Py_BEGIN_ALLOW_THREADS
        noise_fill((const uint64_t *)ids.buf, n, seed_const(key), counter_base, per, (double *)out.buf);
        Py_END_ALLOW_THREADS
        result = Py_None;
        Py_INCREF(result);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&ids);
    return result;
}

static PyMethodDef module_methods[] = {
    {"rows", py_rows, METH_VARARGS,
     "rows(names, arrays, types) -> list of dicts: one per element of equal-length 1-D arrays."},
    {"noise", py_noise, METH_VARARGS,
     "noise(ids, key, counter_base, per, out): standard normal noise fields (dpa.noise.stream_normals)."},
    {"xxh64_pair", py_xxh64_pair, METH_VARARGS,
     "xxh64_pair(a, b, seed, out): contiguous uint64 buffers; a, b, seed of length 1 or len(out)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "dpa._ckernel", "dpa's optional compiled kernel (see dpa/_ckernel.c).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__ckernel(void)
{
    if (PyType_Ready(&KernelType) < 0 || PyType_Ready(&ProgramType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&KernelType);
    if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) {
        Py_DECREF(&KernelType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0) {
        Py_DECREF(&ProgramType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "BLOCK", BLOCK);
    PyModule_AddIntConstant(m, "SUB", SUB);
    PyObject *names = PyTuple_New(OP_COUNT);
    for (int i = 0; names && i < OP_COUNT; i++) {
        PyObject *name = PyUnicode_FromString(OP_NAMES[i]);
        if (!name) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, i, name);
    }
    if (!names || PyModule_AddObject(m, "OPCODES", names) < 0) {
        Py_XDECREF(names);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
