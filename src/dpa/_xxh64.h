/*
 * XXH64 of two 64-bit words, split for keyed streams (docs/SPEC.md section 2).
 *
 * Bits only: this header knows nothing of augmentation, as dpa/prng.py. The
 * split lets a block of ids share the per-id part across every stream:
 *
 *   XXH64(le64(a) || le64(b), seed) = finish(rotl(round(a), 27), rotl(seed + P5 + 16, 27), round(b))
 *
 * (rotl distributes over xor).
 */
#ifndef DPA_XXH64_H
#define DPA_XXH64_H

#include <stdint.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* XXH64's round(0, lane). */
static inline uint64_t xxh_round(uint64_t lane) { return rotl64(lane * P2, 31) * P1; }

/* XXH64 of le64(a) || le64(b) with a seed, split into what depends on a only
 * (ra = rotl(round(a), 27)), on the seed only (c = rotl(seed + P5 + 16, 27))
 * and on b only (k2 = round(b)); rotl distributes over xor. */
static inline uint64_t xxh_finish(uint64_t ra, uint64_t c, uint64_t k2)
{
    uint64_t h = (ra ^ c) * P1 + P4;
    h ^= k2;
    h = rotl64(h, 27) * P1 + P4;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static inline uint64_t seed_const(uint64_t seed) { return rotl64(seed + P5 + 16, 27); }

#endif /* DPA_XXH64_H */
