/* Where the weights of a q4 matrix sit. Values are stored offset to unsigned nibbles (q + 8, 0…15)
   in strips of 16 rows (the last strip padded with zero rows). In a strip, block b (weights
   32b … 32b+31 of each of its rows) is 256 bytes: four 64-byte vectors, vector i holding at bytes
   4r … 4r+3 (row r) weights 4i … 4i+3 in its low nibbles and 16+4i … 16+4i+3 in its high ones. So a
   vector's low (high) nibbles are one `vpdpbusd` operand: the same four weights of 16 rows, a row
   a 32-bit lane, and a GEMV's lanes are its rows (no horizontal sums). The block's 16 half scales
   (one a row) are contiguous too: scales[(j/16)·16·(k/32) + 16b + j%16]. */
#ifndef VLKIT_CK_Q4_H
#define VLKIT_CK_Q4_H
#include <stddef.h>
#include <stdint.h>

#define Q4_STRIP 16

/* The 16 bytes of row j in block b: at 64i + t (i, t < 4) weights 4i + t (low) and 16 + 4i + t (high). */
static inline size_t q4_row_block(size_t k, size_t j, size_t b) {
    return (j / Q4_STRIP) * Q4_STRIP * k / 2 + b * 256 + (j % Q4_STRIP) * 4;
}

static inline size_t q4_scale_index(size_t k, size_t j, size_t b) {
    return (j / Q4_STRIP) * Q4_STRIP * (k / 32) + b * Q4_STRIP + j % Q4_STRIP;
}

/* Stores signed values q[0..k) (−8…7) as row j. */
static inline void q4_store_row(const int8_t *q, size_t k, size_t j, uint8_t *m) {
    for (size_t b = 0; b < k / 32; b++) {
        uint8_t *blk = m + q4_row_block(k, j, b);
        const int8_t *v = q + b * 32;
        for (int i = 0; i < 4; i++)
            for (int t = 0; t < 4; t++) blk[64 * i + t] = (uint8_t)((v[4 * i + t] + 8) | ((v[16 + 4 * i + t] + 8) << 4));
    }
}

/* The unsigned nibbles (q + 8) of row j's block b. */
static inline void q4_unpack_block(const uint8_t *m, size_t k, size_t j, size_t b, uint8_t out[32]) {
    const uint8_t *blk = m + q4_row_block(k, j, b);
    for (int i = 0; i < 4; i++)
        for (int t = 0; t < 4; t++) {
            out[4 * i + t] = blk[64 * i + t] & 0x0F;
            out[16 + 4 * i + t] = blk[64 * i + t] >> 4;
        }
}
#endif
