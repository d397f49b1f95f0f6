// alae_raii: libalae from C++ with small RAII wrappers.
//
//   alae_raii IMAGES.idx[.gz] [--steps 20] [--hidden 256]
//
// libalae is a C library; its headers carry extern "C" guards, so C++ includes them as they are.
// The wrappers below give every handle an owner (std::unique_ptr with the matching
// alae_*_destroy), turn a failed status into an exception carrying alae_last_error(), and keep
// the library's one ordering rule: an object is destroyed before the objects it was created from
// (C++ destroys locals in reverse order of declaration, which is exactly that).
//
// The program trains a small MLP ALAE for a few steps on an IDX file, then encodes and decodes
// a few of its images and prints the reconstruction error.
#include <alae/alae.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace alae {

// A failed libalae call: the status code and the library's message.
class Error : public std::runtime_error {
public:
    Error(alae_status code, const std::string &message) : std::runtime_error(message), code_(code) {}
    alae_status code() const { return code_; }

private:
    alae_status code_;
};

// Throws alae::Error for any status but ALAE_OK; call it right after the failing call, on the
// same thread (alae_last_error() is thread-local and reset by the next call).
inline void check(alae_status s) {
    if (s != ALAE_OK) {
        const char *message = alae_last_error();
        throw Error(s, std::string(*message ? message : alae_status_string(s)) + " (" + alae_status_string(s) + ")");
    }
}

// unique_ptr deleters for every handle type.
template <typename T, void (*Destroy)(T *)>
struct Deleter {
    void operator()(T *p) const { Destroy(p); }
};
template <typename T, void (*Destroy)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Destroy>>;

using Context = Handle<alae_context, alae_context_destroy>;
using ModelConfig = Handle<alae_model_config, alae_model_config_destroy>;
using Model = Handle<alae_model, alae_model_destroy>;
using Optimizer = Handle<alae_optimizer, alae_optimizer_destroy>;
using Trainer = Handle<alae_trainer, alae_trainer_destroy>;
using Tensor = Handle<alae_tensor, alae_tensor_destroy>;
using Dataset = Handle<alae_dataset, alae_dataset_destroy>;

// Factories: call a C constructor with an out-parameter and wrap the result.
inline Context make_context(int32_t device = ALAE_DEVICE_CPU) {
    alae_context *p = nullptr;
    check(alae_context_create(device, &p));
    return Context(p);
}

inline ModelConfig make_config(const char *preset) {
    alae_model_config *p = nullptr;
    check(alae_model_config_create(preset, &p));
    return ModelConfig(p);
}

inline Model make_model(alae_context *ctx, const alae_model_config *cfg, uint64_t seed) {
    alae_model *p = nullptr;
    check(alae_model_create(ctx, cfg, seed, &p));
    return Model(p);
}

inline Optimizer make_adam(alae_model *model, int32_t parts, double lr) {
    alae_optimizer *p = nullptr;
    check(alae_optimizer_create_adam(model, parts, &p));
    Optimizer opt(p);
    check(alae_optimizer_set(opt.get(), ALAE_OPT_LR, lr));
    return opt;
}

inline Trainer make_trainer(alae_model *model, alae_optimizer *fg, alae_optimizer *ed) {
    alae_trainer *p = nullptr;
    check(alae_trainer_create(model, fg, ed, &p));
    return Trainer(p);
}

inline Tensor make_tensor(alae_context *ctx, std::vector<int64_t> shape) {
    alae_tensor *p = nullptr;
    check(alae_tensor_create(ctx, ALAE_DTYPE_F32, static_cast<int32_t>(shape.size()), shape.data(), &p));
    return Tensor(p);
}

inline Dataset open_idx(const char *images) {
    alae_dataset *p = nullptr;
    check(alae_dataset_open_idx(images, nullptr, &p));
    return Dataset(p);
}

inline double config_get(const alae_model_config *cfg, int32_t key) {
    double v = 0;
    check(alae_model_config_get(cfg, key, &v));
    return v;
}

inline std::vector<float> read(const alae_tensor *t) {
    std::vector<float> host(static_cast<size_t>(alae_tensor_numel(t)));
    check(alae_tensor_read(t, host.data(), host.size() * sizeof(float)));
    return host;
}

}  // namespace alae

static int run(const char *images, long steps, long hidden) {
    const int64_t batch = 16;
    alae::Dataset data = alae::open_idx(images);
    const int64_t count = alae_dataset_count(data.get());
    if (count < batch) throw std::runtime_error(std::string(images) + " holds fewer than 16 images");

    alae::ModelConfig cfg = alae::make_config("mnist-fc");
    alae::check(alae_model_config_set(cfg.get(), ALAE_CFG_HIDDEN, static_cast<double>(hidden)));
    const int64_t latent = static_cast<int64_t>(alae::config_get(cfg.get(), ALAE_CFG_LATENT_DIM));
    const int64_t channels = static_cast<int64_t>(alae::config_get(cfg.get(), ALAE_CFG_CHANNELS));
    const int64_t size = static_cast<int64_t>(alae::config_get(cfg.get(), ALAE_CFG_IMAGE_SIZE));
    const int32_t range = static_cast<int32_t>(alae::config_get(cfg.get(), ALAE_CFG_DATA_RANGE));

    // Declared in order of creation, destroyed in reverse: the context outlives everything on it.
    alae::Context ctx = alae::make_context();
    alae::check(alae_context_set_param(ctx.get(), ALAE_CTX_THREADS, 1));
    alae::Model model = alae::make_model(ctx.get(), cfg.get(), 1);
    alae::Optimizer fg = alae::make_adam(model.get(), ALAE_PART_F | ALAE_PART_G, 0.002);
    alae::Optimizer ed = alae::make_adam(model.get(), ALAE_PART_E | ALAE_PART_D, 0.002);
    alae::Trainer trainer = alae::make_trainer(model.get(), fg.get(), ed.get());
    alae::Tensor real = alae::make_tensor(ctx.get(), {batch, channels, size, size});

    std::vector<int64_t> order(static_cast<size_t>(count));
    const int64_t per_epoch = count / batch;
    alae_step_stats st;
    for (long step = 0; step < steps; step++) {
        if (step % per_epoch == 0)
            alae::check(alae_shuffle_order(1, static_cast<uint64_t>(step / per_epoch), count, order.data()));
        alae::check(alae_dataset_read(data.get(), order.data() + (step % per_epoch) * batch, batch, range, real.get()));
        std::memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        alae::check(alae_trainer_step(trainer.get(), real.get(), &st));
    }
    std::printf("trained %llu steps: loss_d %.4f loss_g %.4f loss_ae %.4f\n",
                static_cast<unsigned long long>(alae_trainer_step_count(trainer.get())), st.loss_d, st.loss_g,
                st.loss_ae);

    // Encode and decode the first batch with the smoothed model.
    alae_model *raw = nullptr;
    alae::check(alae_trainer_smoothed_model(trainer.get(), &raw));
    alae::Model smoothed(raw);
    std::vector<int64_t> first(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; i++) first[static_cast<size_t>(i)] = i;
    alae::check(alae_dataset_read(data.get(), first.data(), batch, range, real.get()));
    alae::Tensor w = alae::make_tensor(ctx.get(), {batch, latent});
    alae::Tensor rec = alae::make_tensor(ctx.get(), {batch, channels, size, size});
    alae::check(alae_model_encode(smoothed.get(), real.get(), w.get()));
    alae::check(alae_model_generate(smoothed.get(), w.get(), rec.get()));
    std::vector<float> a = alae::read(real.get()), b = alae::read(rec.get());
    double mse = 0;
    for (size_t i = 0; i < a.size(); i++) mse += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
    std::printf("encoded %lld images into [%lld, %lld] latents; reconstruction MSE %.5f\n",
                static_cast<long long>(batch), static_cast<long long>(batch), static_cast<long long>(latent),
                mse / static_cast<double>(a.size()));

    // Errors are exceptions: a wrong shape is reported with the library's message.
    try {
        alae::check(alae_model_encode(smoothed.get(), w.get(), w.get()));
    } catch (const alae::Error &e) {
        std::printf("expected error: %s\n", e.what());
    }
    return 0;
}

int main(int argc, char **argv) {
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        std::fprintf(stderr, "alae_raii: %s\n", alae_last_error());
        return 1;
    }
    long steps = 20, hidden = 256;
    const char *images = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
            steps = std::strtol(argv[++i], nullptr, 10);
        } else if (!std::strcmp(argv[i], "--hidden") && i + 1 < argc) {
            hidden = std::strtol(argv[++i], nullptr, 10);
        } else if (!images && argv[i][0] != '-') {
            images = argv[i];
        } else {
            images = nullptr;
            break;
        }
    }
    if (!images || steps < 1 || hidden < 1) {
        std::fprintf(stderr, "usage: alae_raii IMAGES.idx[.gz] [--steps 20] [--hidden 256]\n");
        return 2;
    }
    try {
        return run(images, steps, hidden);
    } catch (const alae::Error &e) {
        std::fprintf(stderr, "alae_raii: %s\n", e.what());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "alae_raii: %s\n", e.what());
    }
    return 1;
}
