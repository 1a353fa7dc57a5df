/* Where the weights of a quantised matrix sit: strips of 16 rows (the last strip padded with zero
   rows), values stored offset to unsigned (q8: q + 128; q4: q + 8, a nibble). In a strip, block b
   (weights 32b … 32b+31 of each of its rows) is a run of 64-byte vectors holding at bytes 4r … 4r+3
   (row r) four consecutive weights of that row:
     q8: 8 vectors (512 bytes), vector i holding weights 4i … 4i+3;
     q4: 4 vectors (256 bytes), vector i holding weights 4i … 4i+3 in its low nibbles and
         16+4i … 16+4i+3 in its high ones.
   So a vector (or its low or high nibbles) is one `vpdpbusd` operand: the same four weights of 16
   rows, a row a 32-bit lane, and a GEMV's lanes are its rows (no horizontal sums). The block's 16
   half scales (one a row) are contiguous too: scales[(j/16)·16·(k/32) + 16b + j%16]. */
#ifndef VLKIT_CK_STRIPS_H
#define VLKIT_CK_STRIPS_H
#include <stddef.h>
#include <stdint.h>

#define STRIP 16

/* The 16 bytes of row j in block b: at 64i + t (i, t < 4) weights 4i + t (low) and 16 + 4i + t (high). */
static inline size_t q4_row_block(size_t k, size_t j, size_t b) {
    return (j / STRIP) * STRIP * k / 2 + b * 256 + (j % STRIP) * 4;
}

static inline size_t strip_scale_index(size_t k, size_t j, size_t b) {
    return (j / STRIP) * STRIP * (k / 32) + b * STRIP + j % STRIP;
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

/* The 32 bytes of row j in a q8 block b: at 64i + t (i < 8, t < 4) weight 4i + t. */
static inline size_t q8_row_block(size_t k, size_t j, size_t b) {
    return (j / STRIP) * STRIP * k + b * 512 + (j % STRIP) * 4;
}

/* Stores signed values q[0..k) as row j of a q8 matrix. */
static inline void q8_store_row(const int8_t *q, size_t k, size_t j, uint8_t *m) {
    for (size_t b = 0; b < k / 32; b++) {
        uint8_t *blk = m + q8_row_block(k, j, b);
        for (int i = 0; i < 8; i++)
            for (int t = 0; t < 4; t++) blk[64 * i + t] = (uint8_t)(q[b * 32 + 4 * i + t] + 128);
    }
}

/* The signed values of row j's q8 block b. */
static inline void q8_unpack_block(const uint8_t *m, size_t k, size_t j, size_t b, int8_t out[32]) {
    const uint8_t *blk = m + q8_row_block(k, j, b);
    for (int i = 0; i < 8; i++)
        for (int t = 0; t < 4; t++) out[4 * i + t] = (int8_t)(blk[64 * i + t] - 128);
}
#endif
