#pragma once
// PairMap: a hash map from a pair of 32-bit values (token ids, code points)
// to a small value, for the hot lookups of the BPE merge loop. Open
// addressing with linear probing in one flat array: a lookup touches one or
// two cache lines instead of chasing std::unordered_map nodes.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace slkv {

template <typename Value>
class PairMap {
 public:
  void reserve(size_t count) {
    size_t capacity = 16;
    while (capacity < 2 * count) capacity *= 2;  // load factor <= 0.5 keeps probes short
    if (capacity <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{kEmpty, Value{}});
    mask_ = capacity - 1;
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.key != kEmpty) insert_key(slot.key, slot.value);
    }
  }

  // Keeps the existing value when the pair is already present.
  void insert(uint32_t first, uint32_t second, const Value& value) {
    if (2 * (size_ + 1) > slots_.size()) reserve(size_ + 1 > 8 ? 2 * (size_ + 1) : 8);
    insert_key(key_of(first, second), value);
  }

  const Value* find(uint32_t first, uint32_t second) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = key_of(first, second);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  struct Slot {
    uint64_t key;
    Value value;
  };
  // Callers store token ids (< 2^31) and code points (< 2^21): never all ones.
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  static uint64_t key_of(uint32_t first, uint32_t second) {
    return (static_cast<uint64_t>(first) << 32) | second;
  }
  static uint64_t hash(uint64_t key) {  // murmur3 finalizer: mixes both halves into the low bits
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return key;
  }
  void insert_key(uint64_t key, const Value& value) {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = Slot{key, value};
        ++size_;
        return;
      }
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace slkv
