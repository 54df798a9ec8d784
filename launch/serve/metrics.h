#pragma once
// ServerMetrics: what `GET /metrics` reports, in the Prometheus text
// exposition format (version 0.0.4), every name prefixed `slkv_`. Request
// counters and latency histograms are fed by the server's threads; engine
// gauges come from the engine loop's snapshot. Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "offload/offload_manager.h"
#include "runtime/engine/engine_loop.h"
#include "runtime/kv/kv_report.h"

namespace slkv {

// A cumulative histogram with fixed upper bounds (seconds).
class LatencyHistogram {
 public:
  explicit LatencyHistogram(std::vector<double> bounds);
  void observe(double seconds);
  // Lines `<name>_bucket{le="..."} n`, `_sum`, `_count`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bound, then +Inf
  double sum_ = 0;
  int64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void request_finished(const std::string& status);  // "ok", "error", "cancelled", or an HTTP status class
  void tokens(int64_t prompt, int64_t generated);
  void first_token(double seconds);
  void inter_token(double seconds);
  void end_to_end(double seconds);
  // A request's KV at its end: lazy layers and bytes saved against full KV.
  void kv_report(const KvReport& kv);
  void offload(const OffloadTotals& totals);

  std::string render(const EngineLoopSnapshot& engine) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> requests_;
  int64_t prompt_tokens_ = 0, generated_tokens_ = 0;
  int64_t lazy_layers_ = 0, layers_ = 0;
  int64_t kv_bytes_saved_ = 0;
  OffloadTotals offload_;
  LatencyHistogram ttft_, itl_, e2e_;
};

}  // namespace slkv
