// Content-defined chunking for the backup store: a gear rolling hash with FastCDC's normalized
// cut points. A boundary depends only on the bytes just before it, so inserting data in the middle
// of a file moves the boundaries of the chunks around the insert and no others; the chunks after
// it are found again, with the same names, in the store.
#pragma once

#include <cstddef>
#include <cstdint>

namespace berth::storage {

inline constexpr size_t kChunkMin = 16 * 1024;
inline constexpr size_t kChunkAvg = 64 * 1024;
inline constexpr size_t kChunkMax = 256 * 1024;

// The length of the first chunk of data[0, n). Give it at least kChunkMax bytes unless the file
// ends sooner (then the rest of the file is cut as it is). Pure.
size_t chunk_cut(const uint8_t* data, size_t n);

}  // namespace berth::storage
