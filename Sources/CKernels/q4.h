/* Where the weights of a q4 row sit. Values are stored offset to unsigned nibbles (q + 8, 0…15).
   A row is groups of 128 weights, 64 bytes each: byte i holds weight i in its low nibble and weight
   64 + i in its high one, so one 64-byte load gives two 64-weight halves with an AND and a shift
   and no shuffle. A row whose length is not a multiple of 128 ends in a group of 64 and/or one of
   32, laid out the same way (byte i: weight i and weight G/2 + i). */
#ifndef VLKIT_CK_Q4_H
#define VLKIT_CK_Q4_H
#include <stddef.h>
#include <stdint.h>

/* Size of the group starting at weight g0 (a group boundary) of a row of k weights. */
static inline size_t q4_group_size(size_t k, size_t g0) {
    size_t left = k - g0;
    return left >= 128 ? 128 : left >= 64 ? 64 : 32;
}

/* Packs signed values q[0..k) (−8…7) of one row. */
static inline void q4_pack_row(const int8_t *q, size_t k, uint8_t *row) {
    for (size_t g0 = 0, size; g0 < k; g0 += size) {
        size = q4_group_size(k, g0);
        for (size_t i = 0; i < size / 2; i++)
            row[g0 / 2 + i] = (uint8_t)((q[g0 + i] + 8) | ((q[g0 + size / 2 + i] + 8) << 4));
    }
}

/* The unsigned nibbles (q + 8) of weights p0 … p0+count−1 of a row (p0 and count multiples of 32). */
static inline void q4_unpack_range(const uint8_t *row, size_t k, size_t p0, size_t count, uint8_t *out) {
    size_t g0 = p0 / 128 * 128, size;
    for (; g0 < p0 + count; g0 += size) {
        size = q4_group_size(k, g0);
        uint8_t group[128];
        for (size_t i = 0; i < size / 2; i++) {
            group[i] = row[g0 / 2 + i] & 0xF;
            group[size / 2 + i] = row[g0 / 2 + i] >> 4;
        }
        size_t lo = g0 > p0 ? g0 : p0, hi = g0 + size < p0 + count ? g0 + size : p0 + count;
        for (size_t p = lo; p < hi; p++) out[p - p0] = group[p - g0];
    }
}
#endif
