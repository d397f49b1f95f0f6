/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the
 * normal numbers every backend derives from it. */
#include <math.h>

#include "internal/alae_backend_impl.h"

static void philox4x32_10(uint32_t ctr[4], uint32_t key0, uint32_t key1) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ ctr[1] ^ key0, n2 = hi0 ^ ctr[3] ^ key1;
        ctr[0] = n0;
        ctr[1] = lo1;
        ctr[2] = n2;
        ctr[3] = lo0;
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
}

float alaei_philox_normal(uint64_t seed, uint64_t j) {
    uint64_t c = j >> 1;
    uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
    philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    double u1 = ((double)ctr[0] + 1.0) * (1.0 / 4294967296.0); /* (0, 1] */
    double u2 = (double)ctr[1] * (1.0 / 4294967296.0);         /* [0, 1) */
    double r = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586476925 * u2;
    return (float)(j & 1 ? r * sin(angle) : r * cos(angle));
}
