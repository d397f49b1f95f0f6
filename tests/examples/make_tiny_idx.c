/* make_tiny_idx: writes a tiny IDX image file for the example tests.
 *
 *   make_tiny_idx OUT.idx [COUNT=64] [SIZE=28]
 *
 * COUNT images of SIZE x SIZE bytes: a bright bar through the centre whose angle depends on
 * the image's index modulo 10, inside a disc, with a little deterministic noise. Plain C, no
 * library: the examples must read a file made independently of libalae. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void put_u32(FILE *f, unsigned v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: make_tiny_idx OUT.idx [COUNT=64] [SIZE=28]\n");
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 64, size = argc > 3 ? atoi(argv[3]) : 28;
    if (count < 1 || size < 2 || size > 1024) {
        fprintf(stderr, "make_tiny_idx: bad COUNT or SIZE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    put_u32(f, 0x00000803u);
    put_u32(f, (unsigned)count);
    put_u32(f, (unsigned)size);
    put_u32(f, (unsigned)size);
    unsigned state = 12345u;
    const double pi = 3.14159265358979323846, c = size / 2.0;
    for (int i = 0; i < count; i++) {
        double angle = pi * (i % 10) / 10.0;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double d = fabs((x - c) * sin(angle) - (y - c) * cos(angle));
                double v = (1.5 - d / 2.0) * (hypot(x - c, y - c) < size * 0.4 ? 1.0 : 0.0);
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                state = state * 1103515245u + 12345u;
                int pixel = (int)(v * 240.0) + (int)((state >> 16) % 16);
                fputc(pixel > 255 ? 255 : pixel, f);
            }
        }
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
