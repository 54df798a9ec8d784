#include "offload/offload_manager.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace slkv {

OffloadManager::OffloadManager(Backend& backend, int64_t floats_per_token, int64_t capacity_bytes,
                               int64_t page_tokens)
    : backend_(backend),
      floats_per_token_(floats_per_token),
      page_tokens_(page_tokens),
      pool_(backend, 2 * page_tokens * floats_per_token * static_cast<int64_t>(sizeof(float)), capacity_bytes) {
  SLKV_CHECK(floats_per_token > 0 && page_tokens > 0, "offload pages of " << page_tokens << " tokens");
}

OffloadManager::Session& OffloadManager::session(SequenceId sequence) {
  auto it = sessions_.find(sequence);
  SLKV_CHECK(it != sessions_.end(), "the offload manager does not hold sequence " << sequence);
  return it->second;
}

const OffloadManager::Session& OffloadManager::session(SequenceId sequence) const {
  return const_cast<OffloadManager*>(this)->session(sequence);
}

void OffloadManager::add_sequence(SequenceId sequence) {
  SLKV_CHECK(!sessions_.count(sequence), "sequence " << sequence << " is already offloaded");
  sessions_[sequence].last_used = ++clock_;
}

void OffloadManager::remove_sequence(SequenceId sequence) {
  auto it = sessions_.find(sequence);
  if (it == sessions_.end()) return;
  for (auto& [layer, parked] : it->second.layers) free_layer(it->second, parked);
  sessions_.erase(it);
}

void OffloadManager::fork_sequence(SequenceId parent, SequenceId child) {
  if (!sessions_.count(parent)) return;
  add_sequence(child);
  Session& from = session(parent);
  Session& to = session(child);
  to.lost = from.lost;
  backend_.wait_host_copies();  // the parent's pages may still be being written
  for (const auto& [layer, parked] : from.layers) {
    ParkedLayer copy{parked.begin, parked.end, {}};
    for (HostPageId page : parked.pages) {
      std::optional<HostPageId> own = allocate_page(child, /*spare=*/parent);
      if (!own) return;  // the child was evicted: it re-prefills when it runs
      std::memcpy(pool_.data(*own), pool_.data(page), static_cast<size_t>(pool_.page_bytes()));
      copy.pages.push_back(*own);
    }
    to.layers[layer] = std::move(copy);
  }
}

bool OffloadManager::parks(SequenceId sequence) const {
  auto it = sessions_.find(sequence);
  return it != sessions_.end() && !it->second.lost;
}

void OffloadManager::touch(SequenceId sequence) {
  auto it = sessions_.find(sequence);
  if (it != sessions_.end()) it->second.last_used = ++clock_;
}

std::vector<SequenceId> OffloadManager::take_evicted() { return std::exchange(evicted_, {}); }

OffloadCounters OffloadManager::counters(SequenceId sequence) const {
  auto it = sessions_.find(sequence);
  if (it == sessions_.end()) return {};
  OffloadCounters counters = it->second.counters;
  counters.bytes_held = 0;
  for (const auto& [layer, parked] : it->second.layers) counters.bytes_held += (parked.end - parked.begin) * bytes_per_token();
  return counters;
}

IndexRange OffloadManager::parked(SequenceId sequence, int64_t layer) const {
  auto it = sessions_.find(sequence);
  if (it == sessions_.end()) return {0, 0};
  auto found = it->second.layers.find(layer);
  if (found == it->second.layers.end()) return {0, 0};
  return {found->second.begin, found->second.end};
}

float* OffloadManager::host_keys(const ParkedLayer& layer, int64_t position) {
  const int64_t index = position - layer.begin;
  auto* page = reinterpret_cast<float*>(pool_.data(layer.pages[index / page_tokens_]));
  return page + (index % page_tokens_) * floats_per_token_;
}

float* OffloadManager::host_values(const ParkedLayer& layer, int64_t position) {
  return host_keys(layer, position) + page_tokens_ * floats_per_token_;  // a page: keys of its tokens, then values
}

void OffloadManager::park(SequenceId sequence, int64_t layer, int64_t first_position, std::span<const KvSpan> runs) {
  if (!parks(sequence)) return;
  Session& s = session(sequence);
  s.last_used = ++clock_;
  ParkedLayer& parked = s.layers[layer];
  if (parked.pages.empty()) parked.begin = parked.end = first_position;
  SLKV_CHECK(first_position >= parked.begin && first_position <= parked.end,
             "parking position " << first_position << " of layer " << layer << " would leave a gap after ["
                                 << parked.begin << ", " << parked.end << ")");
  const int64_t token_bytes = floats_per_token_ * static_cast<int64_t>(sizeof(float));
  std::vector<CopyRegion> regions;
  int64_t position = first_position;
  for (const KvSpan& run : runs) {
    int64_t i = 0;
    while (i < run.n_tokens) {
      if (position < parked.end) {  // held already: not copied twice
        const int64_t skip = std::min(run.n_tokens - i, parked.end - position);
        i += skip;
        position += skip;
        continue;
      }
      const int64_t index = position - parked.begin;
      if (index / page_tokens_ == static_cast<int64_t>(parked.pages.size())) {
        std::optional<HostPageId> page = allocate_page(sequence);
        if (!page) return;  // this session was evicted: nothing of it is parked any more
        parked.pages.push_back(*page);
      }
      const int64_t n = std::min(run.n_tokens - i, page_tokens_ - index % page_tokens_);
      regions.push_back({host_keys(parked, position), run.keys + i * floats_per_token_, n * token_bytes});
      regions.push_back({host_values(parked, position), run.values + i * floats_per_token_, n * token_bytes});
      i += n;
      position += n;
      parked.end = position;
      s.counters.bytes_parked += n * bytes_per_token();
      totals_.bytes_parked += n * bytes_per_token();
    }
  }
  backend_.copy_host_regions(regions, /*to_host=*/true);
  backend_.fence_host_copies();  // the dropped blocks are reused only after this
}

void OffloadManager::restore(SequenceId sequence, int64_t layer, IndexRange positions, std::span<const KvSlots> slots) {
  Session& s = session(sequence);
  s.last_used = ++clock_;
  const ParkedLayer& parked = s.layers.at(layer);
  SLKV_CHECK(positions.begin >= parked.begin && positions.end <= parked.end,
             "restoring positions [" << positions.begin << ", " << positions.end << ") of layer " << layer
                                     << ", parked [" << parked.begin << ", " << parked.end << ")");
  const int64_t token_bytes = floats_per_token_ * static_cast<int64_t>(sizeof(float));
  std::vector<CopyRegion> regions;
  int64_t position = positions.begin;
  for (const KvSlots& run : slots) {
    int64_t i = 0;
    while (i < run.n_tokens) {
      const int64_t index = position - parked.begin;
      const int64_t n = std::min(run.n_tokens - i, page_tokens_ - index % page_tokens_);
      regions.push_back({run.keys + i * floats_per_token_, host_keys(parked, position), n * token_bytes});
      regions.push_back({run.values + i * floats_per_token_, host_values(parked, position), n * token_bytes});
      i += n;
      position += n;
    }
  }
  SLKV_CHECK(position == positions.end, "restore: " << position - positions.begin << " slots for "
                                                    << positions.size() << " positions");
  backend_.copy_host_regions(regions, /*to_host=*/false);  // the cache fences before the layer is read
  s.counters.bytes_restored += positions.size() * bytes_per_token();
  totals_.bytes_restored += positions.size() * bytes_per_token();
}

void OffloadManager::forget_layer(SequenceId sequence, int64_t layer) {
  auto it = sessions_.find(sequence);
  if (it == sessions_.end()) return;
  auto found = it->second.layers.find(layer);
  if (found == it->second.layers.end()) return;
  free_layer(it->second, found->second);
  it->second.layers.erase(found);
}

void OffloadManager::free_layer(Session& /*s*/, ParkedLayer& layer) {
  for (HostPageId page : layer.pages) pool_.release(page);
  layer.pages.clear();
  layer.begin = layer.end = 0;
}

std::optional<HostPageId> OffloadManager::allocate_page(SequenceId sequence, SequenceId spare) {
  while (true) {
    if (std::optional<HostPageId> page = pool_.allocate()) return page;
    // Full: the least recently used other session holding pages goes first.
    Session* victim = nullptr;
    SequenceId victim_id = 0;
    for (auto& [id, s] : sessions_) {
      const bool holds = std::any_of(s.layers.begin(), s.layers.end(), [](const auto& l) { return !l.second.pages.empty(); });
      if (id != sequence && id != spare && holds && (!victim || s.last_used < victim->last_used)) {
        victim = &s;
        victim_id = id;
      }
    }
    if (!victim) {
      evict(sequence, session(sequence));
      return std::nullopt;
    }
    evict(victim_id, *victim);
  }
}

void OffloadManager::evict(SequenceId sequence, Session& s) {
  for (auto& [layer, parked] : s.layers) {
    s.counters.bytes_evicted += (parked.end - parked.begin) * bytes_per_token();
    totals_.bytes_evicted += (parked.end - parked.begin) * bytes_per_token();
    free_layer(s, parked);
  }
  s.layers.clear();
  s.lost = true;
  ++totals_.sessions_evicted;
  evicted_.push_back(sequence);
}

OffloadTotals OffloadManager::totals() const {
  OffloadTotals totals = totals_;
  totals.sessions = static_cast<int64_t>(sessions_.size());
  totals.bytes_held = pool_.bytes_in_use();
  return totals;
}

}  // namespace slkv
