/* alae_eval_image_quality: MSE, PSNR and SSIM of image pairs. */
#include <math.h>
#include <stdlib.h>

#include "eval_internal.h"

#define PSNR_CAP 100.0
#define SSIM_WINDOW 11
#define SSIM_SIGMA 1.5
#define SSIM_K1 0.01
#define SSIM_K2 0.03

static double psnr_of(double mse, double peak) {
    if (mse <= 0) return PSNR_CAP;
    double p = 10.0 * log10(peak * peak / mse);
    return p > PSNR_CAP ? PSNR_CAP : p;
}

/* The normalised 1-D Gaussian of side `win` (the 2-D window is its outer product). */
static void gaussian_window(int32_t win, double *g) {
    double sum = 0, centre = (double)(win - 1) / 2.0;
    for (int32_t i = 0; i < win; i++) {
        double d = (double)i - centre;
        g[i] = exp(-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
        sum += g[i];
    }
    for (int32_t i = 0; i < win; i++) g[i] /= sum;
}

/* Mean SSIM of one plane pair over the valid window positions. */
static double ssim_plane(const float *x, const float *y, int32_t size, int32_t win, const double *g, double peak) {
    double c1 = (SSIM_K1 * peak) * (SSIM_K1 * peak), c2 = (SSIM_K2 * peak) * (SSIM_K2 * peak), total = 0;
    int32_t positions = size - win + 1;
    for (int32_t r = 0; r < positions; r++)
        for (int32_t c = 0; c < positions; c++) {
            double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
            for (int32_t i = 0; i < win; i++)
                for (int32_t j = 0; j < win; j++) {
                    double wgt = g[i] * g[j], a = x[(r + i) * size + c + j], b = y[(r + i) * size + c + j];
                    mx += wgt * a;
                    my += wgt * b;
                    xx += wgt * a * a;
                    yy += wgt * b * b;
                    xy += wgt * a * b;
                }
            double vx = xx - mx * mx, vy = yy - my * my, cov = xy - mx * my;
            total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    return total / ((double)positions * (double)positions);
}

ALAE_API alae_status alae_eval_image_quality(const float *x, const float *y, int64_t n, int32_t channels,
                                             int32_t size, double peak, alae_image_quality *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(x);
    ALAEI_CHECK_ARG(y);
    ALAEI_CHECK_ARG(out);
    if (out->struct_size == 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "out->struct_size is 0");
    if (n < 1 || channels < 1 || channels > 4 || size < 1 || size > 65536)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "n %lld, channels %d, size %d: need n >= 1, channels 1..4, size 1..65536",
                          (long long)n, (int)channels, (int)size);
    if (!(peak > 0 && isfinite(peak))) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "peak %g is not > 0", peak);
    int32_t win = size < SSIM_WINDOW ? size : SSIM_WINDOW;
    double g[SSIM_WINDOW];
    gaussian_window(win, g);
    int64_t plane = (int64_t)size * size, per = plane * channels;
    double sum_mse = 0, sum_psnr = 0, sum_ssim = 0;
    for (int64_t i = 0; i < n; i++) {
        double se = 0;
        for (int64_t k = 0; k < per; k++) {
            double d = (double)x[i * per + k] - (double)y[i * per + k];
            se += d * d;
        }
        double mse = se / (double)per;
        sum_mse += mse;
        sum_psnr += psnr_of(mse, peak);
        for (int32_t c = 0; c < channels; c++)
            sum_ssim += ssim_plane(x + i * per + c * plane, y + i * per + c * plane, size, win, g, peak);
    }
    if (!isfinite(sum_mse) || !isfinite(sum_ssim))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the images hold non-finite values");
    alae_image_quality full = {sizeof full, sum_mse / (double)n, sum_psnr / (double)n,
                               sum_ssim / ((double)n * (double)channels)};
    alaei_copy_sized(out, &full, sizeof full);
    return ALAE_OK;
}
