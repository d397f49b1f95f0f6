/* The op table's code (lib/internal/alae_ops.def): names, and the validation every backend runs
 * before an op's kernel. Part of the backend interface: compiled into libalae and into each
 * backend module, so it calls nothing but the C library and reports through the caller's fail. */
#include "internal/alae_backend_impl.h"

static const char *const op_names[ALAEI_OP_COUNT] = {
#define ALAEI_OP(name, nsrc, kind) #name,
#include "internal/alae_ops.def"
#undef ALAEI_OP
};

const char *alaei_op_name(int32_t code) {
    return code >= 0 && code < ALAEI_OP_COUNT ? op_names[code] : "?";
}

#define FMT_NE "[%lld, %lld, %lld, %lld]"
#define ARG_NE(ne) (long long)(ne)[0], (long long)(ne)[1], (long long)(ne)[2], (long long)(ne)[3]

static alae_status validate_view(const alaei_op *op, const alaei_tview *v, const char *what, const char *func,
                                 alaei_fail_fn fail) {
    const char *name = alaei_op_name(op->code);
    int64_t numel = 1;
    for (int k = 0; k < 4; k++) {
        if (v->ne[k] < 0) return fail(ALAE_E_SHAPE, func, "%s: %s has a negative dim " FMT_NE, name, what, ARG_NE(v->ne));
        if (v->ne[k] != 0 && numel > ALAEI_VIEW_MAX_NUMEL / v->ne[k])
            return fail(ALAE_E_SHAPE, func, "%s: %s " FMT_NE " has more than 2^50 elements", name, what, ARG_NE(v->ne));
        numel *= v->ne[k];
    }
    if (numel > 0 && v->data == NULL) return fail(ALAE_E_INVALID_ARG, func, "%s: %s has no data", name, what);
    return ALAE_OK;
}

alae_status alaei_op_validate(const alaei_op *op, const char *func, alaei_fail_fn fail) {
    if (!op) return fail(ALAE_E_INVALID_ARG, func, "op is NULL");
    if (!alaei_op_is_backend_op(op->code))
        return fail(ALAE_E_UNSUPPORTED, func, "op %s (code %d) is not a backend op", alaei_op_name(op->code),
                    (int)op->code);
    int nsrc = alaei_op_nsrc(op->code);
    if (op->nsrc != nsrc)
        return fail(ALAE_E_INVALID_ARG, func, "%s: %d sources, expected %d", alaei_op_name(op->code), (int)op->nsrc,
                    nsrc);
    static const char *const src_names[ALAEI_OP_MAX_SRC] = {"a", "b", "src[2]"};
    alae_status s = validate_view(op, &op->dst, "d", func, fail);
    for (int k = 0; k < nsrc && s == ALAE_OK; k++) s = validate_view(op, &op->src[k], src_names[k], func, fail);
    return s;
}
