#include "informer/packer.h"

#include <zlib.h>

#include <string>

namespace sessionstore::informer {
namespace {

// A 16 KiB window (the dictionary's last 16 KiB and the object's) and memLevel 6: about 100 KiB
// of zlib state for each pack, freed at once, instead of the default's 256 KiB.
constexpr int kWindowBits = 14;
constexpr int kMemLevel = 6;
constexpr int kLevel = 6;

struct Deflater {
  z_stream z{};
  Deflater() {
    if (deflateInit2(&z, kLevel, Z_DEFLATED, -kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      throw PackError("deflateInit2 failed");
    }
  }
  ~Deflater() { deflateEnd(&z); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
};

struct Inflater {
  z_stream z{};
  Inflater() {
    if (inflateInit2(&z, -kWindowBits) != Z_OK) throw PackError("inflateInit2 failed");
  }
  ~Inflater() { inflateEnd(&z); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

}  // namespace

Packer::Packed Packer::pack(const std::vector<std::uint8_t>& cbor) {
  std::call_once(set_, [&] { dictionary_ = cbor; });
  Deflater d;
  if (!dictionary_.empty() &&
      deflateSetDictionary(&d.z, dictionary_.data(), static_cast<uInt>(dictionary_.size())) !=
          Z_OK) {
    throw PackError("deflateSetDictionary failed");
  }
  Packed out;
  out.size = static_cast<std::uint32_t>(cbor.size());
  out.bytes.resize(deflateBound(&d.z, static_cast<uLong>(cbor.size())));
  d.z.next_in = const_cast<Bytef*>(cbor.data());
  d.z.avail_in = static_cast<uInt>(cbor.size());
  d.z.next_out = out.bytes.data();
  d.z.avail_out = static_cast<uInt>(out.bytes.size());
  if (deflate(&d.z, Z_FINISH) != Z_STREAM_END) throw PackError("deflate did not finish");
  out.bytes.resize(d.z.total_out);
  out.bytes.shrink_to_fit();
  return out;
}

std::vector<std::uint8_t> Packer::unpack(const Packed& packed) const {
  Inflater i;
  if (!dictionary_.empty() &&
      inflateSetDictionary(&i.z, dictionary_.data(), static_cast<uInt>(dictionary_.size())) !=
          Z_OK) {
    throw PackError("inflateSetDictionary failed");
  }
  std::vector<std::uint8_t> out(packed.size);
  i.z.next_in = const_cast<Bytef*>(packed.bytes.data());
  i.z.avail_in = static_cast<uInt>(packed.bytes.size());
  i.z.next_out = out.data();
  i.z.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&i.z, Z_FINISH);
  if (status != Z_STREAM_END || i.z.total_out != packed.size) {
    throw PackError("inflate: " + std::string(i.z.msg != nullptr ? i.z.msg : "size mismatch"));
  }
  return out;
}

}  // namespace sessionstore::informer
