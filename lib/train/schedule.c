/* The progressive-growing schedule (docs/alae-reference.md 4.1, 4.3; the reference's lod_driver.py
 * and configs/<preset>.yaml, 1-GPU lists). */
#include <math.h>
#include <string.h>

#include "optim_internal.h"

#define PI 3.14159265358979323846

typedef struct preset_schedule {
    const char *preset;
    int64_t epochs_per_lod, epochs, dataset_size;
    int32_t n_batch;
    int64_t batch[9];
    int32_t n_lr;
    double lr[9];
} preset_schedule;

static const preset_schedule schedules[] = {
    /* MLP: one level; the learning rate is left to the caller (the reference's is 0.002) */
    {"mnist-fc", 0, 600, 50000, 1, {128}, 1, {0}},
    {"mnist-fc-paper", 0, 800, 50000, 1, {128}, 1, {0}},
    {"mnist", 10, 60, 60000, 4, {128, 128, 128, 64}, 4, {0.0015, 0.0015, 0.0015, 0.0015}},
    {"celeba", 6, 80, 182637, 6, {128, 128, 128, 64, 32, 16}, 9,
     {0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.002, 0.003, 0.003}},
    {"celeba-hq256", 30, 280, 29000, 6, {128, 128, 128, 64, 32, 16}, 9,
     {0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.003, 0.003}},
    {"bedroom", 2, 112, 758260, 6, {512, 256, 128, 64, 32, 16}, 9,
     {0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.002, 0.003, 0.003}},
    {"ffhq", 16, 300, 60000, 6, {512, 256, 128, 64, 32, 16}, 9,
     {0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.0015, 0.002, 0.003, 0.003}},
};

void alaei_schedule_defaults(const alae_model_config *cfg, alaei_schedule *s) {
    const preset_schedule *p = &schedules[0];
    for (size_t i = 0; i < sizeof schedules / sizeof schedules[0]; i++)
        if (!strcmp(schedules[i].preset, cfg->preset)) p = &schedules[i];
    memset(s, 0, sizeof *s);
    s->epochs_per_lod = p->epochs_per_lod;
    s->epochs = p->epochs;
    s->dataset_size = p->dataset_size;
    /* levels beyond a list use its last entry, as the reference indexes [min(lod, len - 1)] */
    for (int32_t k = 0; k < ALAEI_MAX_LEVELS; k++) {
        s->batch[k] = p->batch[k < p->n_batch ? k : p->n_batch - 1];
        s->lr[k] = p->lr[k < p->n_lr ? k : p->n_lr - 1];
    }
}

int32_t alaei_schedule_lod(const alaei_schedule *s, int32_t levels, uint64_t epoch) {
    if (s->epochs_per_lod <= 0) return levels - 1;
    uint64_t lod = epoch / (uint64_t)s->epochs_per_lod;
    return lod < (uint64_t)levels ? (int32_t)lod : levels - 1;
}

double alaei_schedule_blend(const alaei_schedule *s, int32_t levels, uint64_t epoch, uint64_t images) {
    int64_t epl = s->epochs_per_lod, half = epl / 2;
    if (epl <= 0 || half == 0) return 1.0;
    uint64_t level = epoch / (uint64_t)epl;
    int in_transition = (int64_t)(epoch % (uint64_t)epl) < half && level > 0 && level < (uint64_t)levels;
    if (!in_transition) return 1.0;
    double t = ((double)(epoch % (uint64_t)epl) * (double)s->dataset_size + (double)images) /
               ((double)half * (double)s->dataset_size);
    if (t > 1.0) t = 1.0; /* a dataset larger than dataset_size: hold at the end of the ramp */
    return sin(t * PI - 0.5 * PI) * 0.5 + 0.5;
}
