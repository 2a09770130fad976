// How an informer keeps its objects small: each object's CBOR is deflated (zlib, raw deflate)
// against a preset dictionary, the CBOR of the first object the informer stored. The objects of
// one informer are of one kind and mostly made by one program (the operator's children, the
// SessionStores), so most of an object's bytes repeat the dictionary's and deflate to a few
// hundred bytes: 1,000 stores' cached objects in about a fifth of their CBOR (BENCHMARKS.md).
// The dictionary is fixed once set: every packed object is unpacked against the same bytes.
#pragma once

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace sessionstore::informer {

struct PackError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Packer {
 public:
  struct Packed {
    std::vector<std::uint8_t> bytes;
    std::uint32_t size = 0;  // of the CBOR before deflating
  };

  // The first call's input becomes the dictionary. Thread-safe.
  Packed pack(const std::vector<std::uint8_t>& cbor);
  // REQUIRES: `packed` came from this Packer's pack(). Throws PackError on corrupt input.
  std::vector<std::uint8_t> unpack(const Packed& packed) const;

 private:
  std::once_flag set_;
  std::vector<std::uint8_t> dictionary_;  // written once, in set_
};

}  // namespace sessionstore::informer
