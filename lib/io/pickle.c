/* The pickle-subset reader of pickle.h: a stack machine over data values, nothing executed. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUNC "alae_model_import_pth"

#define MAX_STACK (1 << 20)      /* values on the stack */
#define MAX_MARKS 4096           /* open MARKs */
#define MAX_DEPTH 128            /* nesting of containers */
#define MAX_MEMO (1 << 21)       /* memo indices */
#define MAX_VALUES (1 << 21)     /* values made by one reader */
#define MAX_KEPT_STR 65536       /* longer strings are skipped, their content dropped */
#define MAX_STR_BYTES (64 << 20) /* string bytes kept in all */
#define MAX_LINE 256             /* GLOBAL and INST lines */

struct alaei_pk_reader {
    alaei_pk_value **all; /* every value made, for freeing */
    size_t n_all, cap_all;
    size_t str_bytes;
};

typedef struct vm {
    alaei_pk_reader *r;
    alaei_pk_source *src;
    alaei_pk_persid_fn persid;
    void *user;
    alaei_pk_value **stack;
    size_t n_stack, cap_stack;
    size_t marks[MAX_MARKS];
    int n_marks;
    alaei_pk_value **memo;
    size_t cap_memo, n_memo; /* n_memo: indices stored (MEMOIZE's next index) */
    uint64_t op_at; /* offset of the current opcode */
} vm;

size_t alaei_pk_dtype_size(alaei_pk_dtype t) {
    switch (t) {
    case ALAEI_PKD_F64:
    case ALAEI_PKD_I64: return 8;
    case ALAEI_PKD_F32:
    case ALAEI_PKD_I32: return 4;
    case ALAEI_PKD_F16:
    case ALAEI_PKD_BF16:
    case ALAEI_PKD_I16: return 2;
    default: return 1;
    }
}

const char *alaei_pk_dtype_name(alaei_pk_dtype t) {
    static const char *names[] = {"float32", "float64", "float16", "bfloat16", "int64",
                                  "int32",   "int16",   "int8",    "uint8",    "bool"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- values ---- */

static alae_status fail(vm *m, const char *fmt, const char *detail) {
    return alaei_fail(ALAE_E_FORMAT, FUNC, "pickle: %s%s (opcode at byte %llu)", fmt, detail ? detail : "",
                      (unsigned long long)m->op_at);
}

static alaei_pk_value *new_value(vm *m, alaei_pk_kind kind) {
    alaei_pk_reader *r = m->r;
    if (r->n_all >= MAX_VALUES) return NULL;
    if (r->n_all == r->cap_all) {
        size_t cap = r->cap_all ? 2 * r->cap_all : 256;
        alaei_pk_value **all = realloc(r->all, cap * sizeof *all);
        if (!all) return NULL;
        r->all = all;
        r->cap_all = cap;
    }
    alaei_pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    r->all[r->n_all++] = v;
    return v;
}

static void free_value(alaei_pk_value *v) {
    switch (v->kind) {
    case ALAEI_PK_STR:
    case ALAEI_PK_BIGINT: free(v->u.str.s); break;
    case ALAEI_PK_TUPLE:
    case ALAEI_PK_LIST:
    case ALAEI_PK_SET:
    case ALAEI_PK_DICT: free(v->u.seq.items); break;
    case ALAEI_PK_GLOBAL: free(v->u.glob.name); break;
    case ALAEI_PK_TENSOR: free(v->u.tensor); break;
    default: break;
    }
    free(v);
}

alae_status alaei_pk_reader_create(alaei_pk_reader **out) {
    *out = calloc(1, sizeof **out);
    return *out ? ALAE_OK : alaei_fail(ALAE_E_NOMEM, FUNC, "no memory for the pickle reader");
}

void alaei_pk_reader_destroy(alaei_pk_reader *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_all; i++) free_value(r->all[i]);
    free(r->all);
    free(r);
}

static alae_status out_of_values(vm *m) {
    if (m->r->n_all >= MAX_VALUES) return fail(m, "more values than the reader allows", NULL);
    return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
}

/* Appends child to a container, tracking its nesting depth. */
static alae_status seq_push(vm *m, alaei_pk_value *c, alaei_pk_value *child) {
    if (c->u.seq.n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? 2 * c->u.seq.cap : 4;
        alaei_pk_value **items = realloc(c->u.seq.items, cap * sizeof *items);
        if (!items) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
        c->u.seq.items = items;
        c->u.seq.cap = cap;
    }
    c->u.seq.items[c->u.seq.n++] = child;
    if (child->depth + 1 > c->depth) c->depth = child->depth + 1;
    if (c->depth > MAX_DEPTH) return fail(m, "containers nested too deeply", NULL);
    return ALAE_OK;
}

/* ---- the source ---- */

static alae_status read_bytes(vm *m, void *buf, size_t n) {
    if (n && m->src->read(m->src->user, buf, n) != 0) return fail(m, "the data ends inside the pickle", NULL);
    m->src->consumed += n;
    return ALAE_OK;
}

static alae_status read_uint(vm *m, int bytes, uint64_t *v) {
    uint8_t b[8];
    alae_status s = read_bytes(m, b, (size_t)bytes);
    *v = 0;
    for (int i = bytes - 1; s == ALAE_OK && i >= 0; i--) *v = (*v << 8) | b[i];
    return s;
}

/* A length the pickle declares: it must fit in what is left of the source. */
static alae_status read_length(vm *m, int bytes, uint64_t *n) {
    alae_status s = read_uint(m, bytes, n);
    if (s == ALAE_OK && *n > m->src->remaining(m->src->user))
        return fail(m, "a declared length runs past the end of the data", NULL);
    return s;
}

static alae_status skip_bytes(vm *m, uint64_t n) {
    char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        alae_status s = read_bytes(m, buf, k);
        if (s != ALAE_OK) return s;
        n -= k;
    }
    return ALAE_OK;
}

/* A text line (GLOBAL, INST) without its newline. */
static alae_status read_line(vm *m, char *line) {
    for (int i = 0; i < MAX_LINE; i++) {
        alae_status s = read_bytes(m, &line[i], 1);
        if (s != ALAE_OK) return s;
        if (line[i] == '\n') {
            line[i] = '\0';
            return ALAE_OK;
        }
        if ((unsigned char)line[i] < 0x20) return fail(m, "a control character in a global's name", NULL);
    }
    return fail(m, "a global's name is too long", NULL);
}

/* ---- the stack ---- */

static alae_status push(vm *m, alaei_pk_value *v) {
    if (!v) return out_of_values(m);
    if (m->n_stack == m->cap_stack) {
        if (m->cap_stack >= MAX_STACK) return fail(m, "the stack grows past the reader's limit", NULL);
        size_t cap = m->cap_stack ? 2 * m->cap_stack : 64;
        alaei_pk_value **st = realloc(m->stack, cap * sizeof *st);
        if (!st) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
        m->stack = st;
        m->cap_stack = cap;
    }
    m->stack[m->n_stack++] = v;
    return ALAE_OK;
}

static size_t stack_floor(const vm *m) { return m->n_marks ? m->marks[m->n_marks - 1] : 0; }

static alae_status pop(vm *m, alaei_pk_value **v) {
    if (m->n_stack <= stack_floor(m)) return fail(m, "the stack is empty", NULL);
    *v = m->stack[--m->n_stack];
    return ALAE_OK;
}

static alae_status top(vm *m, alaei_pk_value **v) {
    if (m->n_stack <= stack_floor(m)) return fail(m, "the stack is empty", NULL);
    *v = m->stack[m->n_stack - 1];
    return ALAE_OK;
}

/* Pops down to the last MARK: the items are m->stack[*first .. *first + *n). */
static alae_status pop_mark(vm *m, size_t *first, size_t *n) {
    if (m->n_marks == 0) return fail(m, "no MARK to pop to", NULL);
    *first = m->marks[--m->n_marks];
    *n = m->n_stack - *first;
    m->n_stack = *first;
    return ALAE_OK;
}

/* ---- scalar values ---- */

static alae_status push_int(vm *m, int64_t i) {
    alaei_pk_value *v = new_value(m, ALAEI_PK_INT);
    if (v) v->u.i = i;
    return push(m, v);
}

static alae_status push_bool(vm *m, int b) {
    alaei_pk_value *v = new_value(m, ALAEI_PK_BOOL);
    if (v) v->u.i = b;
    return push(m, v);
}

/* A string of n bytes from the source (kept when short enough). */
static alae_status push_str(vm *m, uint64_t n, alaei_pk_kind kind) {
    alaei_pk_value *v = new_value(m, kind);
    if (!v) return out_of_values(m);
    v->u.str.len = (size_t)n;
    if (n > MAX_KEPT_STR || m->r->str_bytes + n > MAX_STR_BYTES) {
        v->u.str.dropped = 1;
        alae_status s = skip_bytes(m, n);
        return s == ALAE_OK ? push(m, v) : s;
    }
    v->u.str.s = malloc((size_t)n + 1);
    if (!v->u.str.s) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
    alae_status s = read_bytes(m, v->u.str.s, (size_t)n);
    v->u.str.s[n] = '\0';
    m->r->str_bytes += (size_t)n;
    return s == ALAE_OK ? push(m, v) : s;
}

/* LONG1 / LONG4: little-endian two's complement of n bytes. */
static alae_status push_long(vm *m, uint64_t n) {
    if (n > 8) return push_str(m, n, ALAEI_PK_BIGINT);
    uint8_t b[8] = {0};
    alae_status s = read_bytes(m, b, (size_t)n);
    if (s != ALAE_OK) return s;
    uint64_t u = 0;
    for (int i = (int)n - 1; i >= 0; i--) u = (u << 8) | b[i];
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return push_int(m, (int64_t)u);
}

static alae_status push_float(vm *m) {
    uint64_t bits = 0;
    uint8_t b[8];
    alae_status s = read_bytes(m, b, 8);
    for (int i = 0; i < 8; i++) bits = (bits << 8) | b[i]; /* big-endian */
    alaei_pk_value *v = s == ALAE_OK ? new_value(m, ALAEI_PK_FLOAT) : NULL;
    if (s != ALAE_OK) return s;
    if (v) memcpy(&v->u.f, &bits, sizeof v->u.f);
    return push(m, v);
}

/* ---- containers ---- */

static alae_status push_container(vm *m, alaei_pk_kind kind, alaei_pk_value **items, size_t n) {
    alaei_pk_value *v = new_value(m, kind);
    if (!v) return out_of_values(m);
    for (size_t i = 0; i < n; i++) {
        alae_status s = seq_push(m, v, items[i]);
        if (s != ALAE_OK) return s;
    }
    return push(m, v);
}

static alae_status op_tuple_n(vm *m, size_t n) {
    if (m->n_stack < stack_floor(m) + n) return fail(m, "the stack is empty", NULL);
    m->n_stack -= n;
    alaei_pk_value *items[3];
    memcpy(items, &m->stack[m->n_stack], n * sizeof *items);
    return push_container(m, ALAEI_PK_TUPLE, items, n);
}

static alae_status op_from_mark(vm *m, alaei_pk_kind kind) {
    size_t first = 0, n = 0;
    alae_status s = pop_mark(m, &first, &n);
    if (s == ALAE_OK && kind == ALAEI_PK_DICT && n % 2) return fail(m, "a dict with an odd number of items", NULL);
    return s == ALAE_OK ? push_container(m, kind, n ? &m->stack[first] : NULL, n) : s;
}

/* APPEND(S), SETITEM(S), ADDITEMS: into a list / dict / set; an opaque object swallows them. */
static alae_status add_items(vm *m, alaei_pk_value *target, alaei_pk_value **items, size_t n, alaei_pk_kind want) {
    if (target->kind == ALAEI_PK_OPAQUE) return ALAE_OK;
    if (target->kind != want) return fail(m, "items added to a value that cannot hold them", NULL);
    if (want == ALAEI_PK_DICT && n % 2) return fail(m, "a dict with an odd number of items", NULL);
    for (size_t i = 0; i < n; i++) {
        alae_status s = seq_push(m, target, items[i]);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

static alae_status op_add_one(vm *m, alaei_pk_kind want, size_t n) {
    alaei_pk_value *items[2], *target = NULL;
    if (m->n_stack < stack_floor(m) + n + 1) return fail(m, "the stack is empty", NULL);
    m->n_stack -= n;
    memcpy(items, &m->stack[m->n_stack], n * sizeof *items);
    alae_status s = top(m, &target);
    return s == ALAE_OK ? add_items(m, target, items, n, want) : s;
}

static alae_status op_add_marked(vm *m, alaei_pk_kind want) {
    size_t first = 0, n = 0;
    alaei_pk_value *target = NULL;
    alae_status s = pop_mark(m, &first, &n);
    if (s == ALAE_OK) s = top(m, &target);
    return s == ALAE_OK ? add_items(m, target, n ? &m->stack[first] : NULL, n, want) : s;
}

/* ---- memo ---- */

static alae_status memo_put(vm *m, uint64_t index) {
    alaei_pk_value *v = NULL;
    alae_status s = top(m, &v);
    if (s != ALAE_OK) return s;
    if (index >= MAX_MEMO) return fail(m, "a memo index past the reader's limit", NULL);
    if (index >= m->cap_memo) {
        size_t cap = m->cap_memo ? m->cap_memo : 64;
        while (cap <= index) cap *= 2;
        alaei_pk_value **memo = realloc(m->memo, cap * sizeof *memo);
        if (!memo) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
        memset(memo + m->cap_memo, 0, (cap - m->cap_memo) * sizeof *memo);
        m->memo = memo;
        m->cap_memo = cap;
    }
    if (!m->memo[index]) m->n_memo++;
    m->memo[index] = v;
    return ALAE_OK;
}

static alae_status memo_get(vm *m, uint64_t index) {
    if (index >= m->cap_memo || !m->memo[index]) return fail(m, "a memo index that was never stored", NULL);
    return push(m, m->memo[index]);
}

/* ---- globals ---- */

static const char *const refused_modules[] = {"os",      "posix",   "nt",       "subprocess", "sys",      "shutil",
                                              "socket",  "importlib", "runpy",  "pickle",     "_pickle",  "marshal",
                                              "ctypes",  "pty",     "commands", "webbrowser", "code",     "codeop",
                                              "multiprocessing", "signal", "asyncio", "threading", "pip", "setuptools"};
static const char *const refused_builtins[] = {"eval",   "exec",   "compile", "open",  "getattr",    "setattr",
                                               "delattr", "__import__", "globals", "locals", "vars", "input",
                                               "breakpoint", "exit", "quit", "help", "apply", "execfile"};

static int in_list(const char *s, size_t len, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && !strncmp(s, list[i], len)) return 1;
    return 0;
}

/* Whether a global can run commands: no checkpoint has a reason to name one. */
static int refused_global(const char *module, const char *name) {
    size_t head = strcspn(module, ".");
    if (in_list(module, head, refused_modules, sizeof refused_modules / sizeof refused_modules[0])) return 1;
    if (!strcmp(module, "builtins") || !strcmp(module, "__builtin__"))
        return in_list(name, strlen(name), refused_builtins, sizeof refused_builtins / sizeof refused_builtins[0]);
    return 0;
}

static const struct {
    const char *name;
    alaei_pk_dtype dtype;
} storage_types[] = {
    {"FloatStorage", ALAEI_PKD_F32}, {"DoubleStorage", ALAEI_PKD_F64}, {"HalfStorage", ALAEI_PKD_F16},
    {"BFloat16Storage", ALAEI_PKD_BF16}, {"LongStorage", ALAEI_PKD_I64}, {"IntStorage", ALAEI_PKD_I32},
    {"ShortStorage", ALAEI_PKD_I16}, {"CharStorage", ALAEI_PKD_I8}, {"ByteStorage", ALAEI_PKD_U8},
    {"BoolStorage", ALAEI_PKD_BOOL},
};

static void classify_global(alaei_pk_value *g, const char *module, const char *name) {
    g->u.glob.known = ALAEI_PKG_UNKNOWN;
    if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict")) g->u.glob.known = ALAEI_PKG_ORDERED_DICT;
    if (!strcmp(module, "torch._utils")) {
        if (!strcmp(name, "_rebuild_tensor_v2") || !strcmp(name, "_rebuild_tensor"))
            g->u.glob.known = ALAEI_PKG_REBUILD_TENSOR;
        if (!strcmp(name, "_rebuild_parameter") || !strcmp(name, "_rebuild_parameter_with_state"))
            g->u.glob.known = ALAEI_PKG_REBUILD_PARAMETER;
    }
    if (!strcmp(module, "torch"))
        for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
            if (!strcmp(name, storage_types[i].name)) {
                g->u.glob.known = ALAEI_PKG_STORAGE_TYPE;
                g->u.glob.dtype = storage_types[i].dtype;
            }
}

static alae_status push_global(vm *m, const char *module, const char *name) {
    if (refused_global(module, name)) {
        char what[2 * MAX_LINE + 8];
        snprintf(what, sizeof what, "'%s.%s'", module, name);
        return fail(m, "refused: the file names the global ", what);
    }
    alaei_pk_value *g = new_value(m, ALAEI_PK_GLOBAL);
    if (!g) return out_of_values(m);
    size_t len = strlen(module) + strlen(name) + 2;
    g->u.glob.name = malloc(len);
    if (!g->u.glob.name) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
    snprintf(g->u.glob.name, len, "%s.%s", module, name);
    classify_global(g, module, name);
    return push(m, g);
}

static alae_status op_global(vm *m) {
    char module[MAX_LINE], name[MAX_LINE];
    alae_status s = read_line(m, module);
    if (s == ALAE_OK) s = read_line(m, name);
    return s == ALAE_OK ? push_global(m, module, name) : s;
}

static alae_status op_stack_global(vm *m) {
    alaei_pk_value *module = NULL, *name = NULL;
    alae_status s = pop(m, &name);
    if (s == ALAE_OK) s = pop(m, &module);
    if (s != ALAE_OK) return s;
    if (module->kind != ALAEI_PK_STR || name->kind != ALAEI_PK_STR || !module->u.str.s || !name->u.str.s ||
        module->u.str.len >= MAX_LINE || name->u.str.len >= MAX_LINE ||
        strlen(module->u.str.s) != module->u.str.len || strlen(name->u.str.s) != name->u.str.len)
        return fail(m, "STACK_GLOBAL needs two short strings", NULL);
    return push_global(m, module->u.str.s, name->u.str.s);
}

/* ---- building objects ---- */

static alae_status push_opaque(vm *m, const char *cls) {
    alaei_pk_value *v = new_value(m, ALAEI_PK_OPAQUE);
    if (v) v->u.opaque.cls = cls;
    return push(m, v);
}

static const char *class_of(const alaei_pk_value *callable) {
    return callable->kind == ALAEI_PK_GLOBAL ? callable->u.glob.name : callable->u.opaque.cls;
}

static int int_arg(const alaei_pk_value *v, int64_t *out) {
    if (v->kind != ALAEI_PK_INT) return 0;
    *out = v->u.i;
    return 1;
}

/* Integer tuple (sizes, strides) into dims; returns the count or -1. */
static int dims_arg(const alaei_pk_value *v, int64_t *dims) {
    if (v->kind != ALAEI_PK_TUPLE || v->u.seq.n > ALAEI_PK_MAX_DIMS) return -1;
    for (size_t i = 0; i < v->u.seq.n; i++)
        if (!int_arg(v->u.seq.items[i], &dims[i]) || dims[i] < 0) return -1;
    return (int)v->u.seq.n;
}

/* torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...) */
static alae_status rebuild_tensor(vm *m, const alaei_pk_value *args) {
    if (args->kind != ALAEI_PK_TUPLE || args->u.seq.n < 4) return fail(m, "a tensor rebuilt from too few arguments", NULL);
    alaei_pk_value *const *a = args->u.seq.items;
    alaei_pk_value *t = new_value(m, ALAEI_PK_TENSOR);
    if (!t) return out_of_values(m);
    if (!(t->u.tensor = calloc(1, sizeof *t->u.tensor)))
        return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory while reading the pickle");
    int64_t stride[ALAEI_PK_MAX_DIMS];
    int nd = dims_arg(a[2], t->u.tensor->shape), ns = dims_arg(a[3], stride);
    if (a[0]->kind != ALAEI_PK_STORAGE || !int_arg(a[1], &t->u.tensor->offset) || t->u.tensor->offset < 0 || nd < 0 ||
        ns != nd)
        return fail(m, "a tensor rebuilt from arguments that are not (storage, offset, size, stride)", NULL);
    memcpy(t->u.tensor->stride, stride, sizeof stride);
    t->u.tensor->storage = a[0]->u.storage.index;
    t->u.tensor->dtype = a[0]->u.storage.dtype;
    t->u.tensor->ndim = nd;
    size_t numel = 1;
    for (int d = 0; d < nd; d++)
        if (!alaei_mul_size(numel, (size_t)t->u.tensor->shape[d], &numel) || numel > ((size_t)1 << 40))
            return fail(m, "a tensor's declared size is too large", NULL);
    t->u.tensor->numel = (int64_t)numel;
    return push(m, t);
}

/* collections.OrderedDict() or OrderedDict([(k, v), ...]) */
static alae_status rebuild_dict(vm *m, const alaei_pk_value *args) {
    alaei_pk_value *d = new_value(m, ALAEI_PK_DICT);
    if (!d) return out_of_values(m);
    if (args->kind != ALAEI_PK_TUPLE || args->u.seq.n > 1) return fail(m, "OrderedDict called with odd arguments", NULL);
    if (args->u.seq.n == 1) {
        const alaei_pk_value *pairs = args->u.seq.items[0];
        if (pairs->kind != ALAEI_PK_LIST && pairs->kind != ALAEI_PK_TUPLE)
            return fail(m, "OrderedDict called with odd arguments", NULL);
        for (size_t i = 0; i < pairs->u.seq.n; i++) {
            const alaei_pk_value *p = pairs->u.seq.items[i];
            if ((p->kind != ALAEI_PK_TUPLE && p->kind != ALAEI_PK_LIST) || p->u.seq.n != 2)
                return fail(m, "OrderedDict called with odd arguments", NULL);
            alae_status s = add_items(m, d, p->u.seq.items, 2, ALAEI_PK_DICT);
            if (s != ALAE_OK) return s;
        }
    }
    return push(m, d);
}

/* REDUCE: callable(*args), for the known callables; an unknown one makes an opaque value. */
static alae_status op_reduce(vm *m) {
    alaei_pk_value *args = NULL, *callable = NULL;
    alae_status s = pop(m, &args);
    if (s == ALAE_OK) s = pop(m, &callable);
    if (s != ALAE_OK) return s;
    if (callable->kind == ALAEI_PK_OPAQUE) return push_opaque(m, callable->u.opaque.cls);
    if (callable->kind != ALAEI_PK_GLOBAL) return fail(m, "REDUCE calls a value that is not a global", NULL);
    switch (callable->u.glob.known) {
    case ALAEI_PKG_ORDERED_DICT: return rebuild_dict(m, args);
    case ALAEI_PKG_REBUILD_TENSOR: return rebuild_tensor(m, args);
    case ALAEI_PKG_REBUILD_PARAMETER:
        if (args->kind != ALAEI_PK_TUPLE || args->u.seq.n < 1 || args->u.seq.items[0]->kind != ALAEI_PK_TENSOR)
            return fail(m, "a parameter rebuilt from something that is not a tensor", NULL);
        return push(m, args->u.seq.items[0]);
    case ALAEI_PKG_STORAGE_TYPE: return fail(m, "a storage type called directly", NULL);
    default: return push_opaque(m, class_of(callable));
    }
}

/* NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args) */
static alae_status op_newobj(vm *m, int ex) {
    alaei_pk_value *cls = NULL, *args = NULL, *kwargs = NULL;
    alae_status s = ex ? pop(m, &kwargs) : ALAE_OK;
    if (s == ALAE_OK) s = pop(m, &args);
    if (s == ALAE_OK) s = pop(m, &cls);
    if (s != ALAE_OK) return s;
    if (cls->kind == ALAEI_PK_OPAQUE) return push_opaque(m, cls->u.opaque.cls);
    if (cls->kind != ALAEI_PK_GLOBAL) return fail(m, "NEWOBJ of a value that is not a class", NULL);
    if (cls->u.glob.known == ALAEI_PKG_ORDERED_DICT) return push_container(m, ALAEI_PK_DICT, NULL, 0);
    if (cls->u.glob.known != ALAEI_PKG_UNKNOWN) return fail(m, "NEWOBJ of a function", NULL);
    return push_opaque(m, cls->u.glob.name);
}

/* BUILD: obj.__setstate__(state); the state is dropped (an OrderedDict's _metadata, an opaque
 * object's fields). */
static alae_status op_build(vm *m) {
    alaei_pk_value *state = NULL, *obj = NULL;
    alae_status s = pop(m, &state);
    if (s == ALAE_OK) s = top(m, &obj);
    if (s != ALAE_OK) return s;
    if (obj->kind != ALAEI_PK_OPAQUE && obj->kind != ALAEI_PK_DICT && obj->kind != ALAEI_PK_TENSOR)
        return fail(m, "BUILD on a value that is not an object", NULL);
    return ALAE_OK;
}

/* INST (module, name lines; MARK args) and OBJ (MARK cls args): old-style objects, opaque. */
static alae_status op_inst(vm *m) {
    char module[MAX_LINE], name[MAX_LINE];
    size_t first = 0, n = 0;
    alae_status s = read_line(m, module);
    if (s == ALAE_OK) s = read_line(m, name);
    if (s == ALAE_OK) s = pop_mark(m, &first, &n);
    if (s == ALAE_OK) s = push_global(m, module, name);
    alaei_pk_value *cls = NULL;
    if (s == ALAE_OK) s = pop(m, &cls);
    return s == ALAE_OK ? push_opaque(m, cls->u.glob.name) : s;
}

static alae_status op_obj(vm *m) {
    size_t first = 0, n = 0;
    alae_status s = pop_mark(m, &first, &n);
    if (s != ALAE_OK) return s;
    if (n < 1) return fail(m, "OBJ without a class", NULL);
    alaei_pk_value *cls = m->stack[first];
    if (cls->kind != ALAEI_PK_GLOBAL && cls->kind != ALAEI_PK_OPAQUE) return fail(m, "OBJ of a value that is not a class", NULL);
    return push_opaque(m, class_of(cls));
}

static alae_status op_persid(vm *m) {
    alaei_pk_value *pid = NULL;
    alae_status s = pop(m, &pid);
    if (s != ALAE_OK) return s;
    if (!m->persid) return fail(m, "a persistent id where none is expected", NULL);
    alaei_pk_value *v = new_value(m, ALAEI_PK_STORAGE);
    if (!v) return out_of_values(m);
    s = m->persid(m->user, pid, &v->u.storage.index, &v->u.storage.dtype);
    return s == ALAE_OK ? push(m, v) : s;
}

/* ---- the loop ---- */

/* One opcode; *done is set by STOP. */
static alae_status step(vm *m, int op, int *done) {
    uint64_t n = 0;
    alae_status s = ALAE_OK;
    alaei_pk_value *v = NULL;
    switch (op) {
    case 0x80: /* PROTO */
        s = read_uint(m, 1, &n);
        if (s == ALAE_OK && (n < 2 || n > 5)) return fail(m, "an unsupported pickle protocol", NULL);
        return s;
    case 0x95: return read_uint(m, 8, &n); /* FRAME: a hint only */
    case '.': *done = 1; return ALAE_OK;
    case '(':
        if (m->n_marks == MAX_MARKS) return fail(m, "MARKs nested too deeply", NULL);
        m->marks[m->n_marks++] = m->n_stack;
        return ALAE_OK;
    case '0': return pop(m, &v);
    case '1': {
        size_t first = 0, count = 0;
        return pop_mark(m, &first, &count);
    }
    case '2': return (s = top(m, &v)) == ALAE_OK ? push(m, v) : s;
    case 'N': return push(m, new_value(m, ALAEI_PK_NONE));
    case 0x88: return push_bool(m, 1);
    case 0x89: return push_bool(m, 0);
    case 'J': return (s = read_uint(m, 4, &n)) == ALAE_OK ? push_int(m, (int32_t)(uint32_t)n) : s;
    case 'K': return (s = read_uint(m, 1, &n)) == ALAE_OK ? push_int(m, (int64_t)n) : s;
    case 'M': return (s = read_uint(m, 2, &n)) == ALAE_OK ? push_int(m, (int64_t)n) : s;
    case 0x8a: return (s = read_length(m, 1, &n)) == ALAE_OK ? push_long(m, n) : s;
    case 0x8b: return (s = read_length(m, 4, &n)) == ALAE_OK ? push_long(m, n) : s;
    case 'G': return push_float(m);
    case 'U':
    case 'C':
    case 0x8c: return (s = read_length(m, 1, &n)) == ALAE_OK ? push_str(m, n, ALAEI_PK_STR) : s;
    case 'T':
    case 'X':
    case 'B': return (s = read_length(m, 4, &n)) == ALAE_OK ? push_str(m, n, ALAEI_PK_STR) : s;
    case 0x8d:
    case 0x8e:
    case 0x96: return (s = read_length(m, 8, &n)) == ALAE_OK ? push_str(m, n, ALAEI_PK_STR) : s;
    case ']': return push_container(m, ALAEI_PK_LIST, NULL, 0);
    case ')': return push_container(m, ALAEI_PK_TUPLE, NULL, 0);
    case '}': return push_container(m, ALAEI_PK_DICT, NULL, 0);
    case 0x8f: return push_container(m, ALAEI_PK_SET, NULL, 0);
    case 'l': return op_from_mark(m, ALAEI_PK_LIST);
    case 't': return op_from_mark(m, ALAEI_PK_TUPLE);
    case 'd': return op_from_mark(m, ALAEI_PK_DICT);
    case 0x91: return op_from_mark(m, ALAEI_PK_SET);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 'a': return op_add_one(m, ALAEI_PK_LIST, 1);
    case 's': return op_add_one(m, ALAEI_PK_DICT, 2);
    case 'e': return op_add_marked(m, ALAEI_PK_LIST);
    case 'u': return op_add_marked(m, ALAEI_PK_DICT);
    case 0x90: return op_add_marked(m, ALAEI_PK_SET);
    case 'q': return (s = read_uint(m, 1, &n)) == ALAE_OK ? memo_put(m, n) : s;
    case 'r': return (s = read_uint(m, 4, &n)) == ALAE_OK ? memo_put(m, n) : s;
    case 0x94: return memo_put(m, m->n_memo);
    case 'h': return (s = read_uint(m, 1, &n)) == ALAE_OK ? memo_get(m, n) : s;
    case 'j': return (s = read_uint(m, 4, &n)) == ALAE_OK ? memo_get(m, n) : s;
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'R': return op_reduce(m);
    case 0x81: return op_newobj(m, 0);
    case 0x92: return op_newobj(m, 1);
    case 'b': return op_build(m);
    case 'i': return op_inst(m);
    case 'o': return op_obj(m);
    case 'Q': return op_persid(m);
    default: {
        char hex[8];
        snprintf(hex, sizeof hex, "0x%02x", op);
        return fail(m, "an unknown or unsupported opcode ", hex);
    }
    }
}

alae_status alaei_pk_read(alaei_pk_reader *r, alaei_pk_source *src, alaei_pk_persid_fn persid, void *user,
                          const alaei_pk_value **out) {
    vm m = {.r = r, .src = src, .persid = persid, .user = user};
    alae_status s = ALAE_OK;
    int done = 0;
    while (s == ALAE_OK && !done) {
        uint8_t op;
        m.op_at = src->consumed;
        s = read_bytes(&m, &op, 1);
        if (s == ALAE_OK) s = step(&m, op, &done);
    }
    if (s == ALAE_OK && (m.n_stack != 1 || m.n_marks != 0)) s = fail(&m, "STOP with a stack that does not hold one value", NULL);
    if (s == ALAE_OK) *out = m.stack[0];
    free(m.stack);
    free(m.memo);
    return s;
}

/* ---- lookups ---- */

int alaei_pk_is_str(const alaei_pk_value *v, const char *s) {
    return v && v->kind == ALAEI_PK_STR && v->u.str.s && v->u.str.len == strlen(s) && !memcmp(v->u.str.s, s, v->u.str.len);
}

const alaei_pk_value *alaei_pk_dict_get(const alaei_pk_value *dict, const char *key) {
    if (!dict || dict->kind != ALAEI_PK_DICT) return NULL;
    for (size_t i = dict->u.seq.n; i >= 2; i -= 2)
        if (alaei_pk_is_str(dict->u.seq.items[i - 2], key)) return dict->u.seq.items[i - 1];
    return NULL;
}

void alaei_pk_describe(const alaei_pk_value *v, char *buf, size_t cap) {
    static const char *names[] = {"None",   "a bool",  "an int",   "a long int", "a float",  "a string", "a tuple",
                                  "a list", "a set",   "a dict",   "a global",   "an object", "a storage", "a tensor"};
    if (v->kind == ALAEI_PK_OPAQUE)
        snprintf(buf, cap, "an object of class '%s'", v->u.opaque.cls);
    else if (v->kind == ALAEI_PK_GLOBAL)
        snprintf(buf, cap, "the global '%s'", v->u.glob.name);
    else
        snprintf(buf, cap, "%s", names[v->kind]);
}
