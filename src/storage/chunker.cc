#include "storage/chunker.h"

#include <array>

namespace berth::storage {
namespace {

// 256 fixed pseudo-random words (splitmix64 from a fixed seed): the chunk boundaries, and so the
// chunk names in every store, depend on this table; changing it costs one full backup per CT.
constexpr std::array<uint64_t, 256> make_gear() {
  std::array<uint64_t, 256> t{};
  uint64_t x = 0x4265727468434443ULL;  // "BerthCDC"
  for (auto& v : t) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    v = z ^ (z >> 31);
  }
  return t;
}
constexpr std::array<uint64_t, 256> kGear = make_gear();

// Normalized chunking: a harder mask (18 bits) before the average size and an easier one (14 bits)
// after it, which gathers chunk sizes near the 64 KiB average (2^16). The hash's top bits are the
// ones that depend on the last 64 bytes.
constexpr uint64_t kMaskHard = ~0ULL << (64 - 18);
constexpr uint64_t kMaskEasy = ~0ULL << (64 - 14);

}  // namespace

size_t chunk_cut(const uint8_t* data, size_t n) {
  if (n <= kChunkMin) return n;
  size_t limit = n < kChunkMax ? n : kChunkMax;
  size_t normal = limit < kChunkAvg ? limit : kChunkAvg;
  uint64_t h = 0;
  size_t i = kChunkMin;
  for (; i < normal; ++i) {
    h = (h << 1) + kGear[data[i]];
    if ((h & kMaskHard) == 0) return i + 1;
  }
  for (; i < limit; ++i) {
    h = (h << 1) + kGear[data[i]];
    if ((h & kMaskEasy) == 0) return i + 1;
  }
  return limit;
}

}  // namespace berth::storage
