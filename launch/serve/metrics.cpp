#include "launch/serve/metrics.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace slkv {

namespace {

// A sample's value in full: counters kept as doubles printed with the stream's
// default 6 significant digits lost their low digits from 10^6 on (1.01837e+07
// bytes), which skews rate(). Whole numbers print as integers, others with
// enough digits to read back the same double.
std::string sample_value(double value) {
  std::ostringstream text;
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 0x1p53)
    text << static_cast<int64_t>(value);
  else
    text << std::setprecision(std::numeric_limits<double>::max_digits10) << value;
  return text.str();
}

}  // namespace

LatencyHistogram::LatencyHistogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void LatencyHistogram::observe(double seconds) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  ++counts_[bucket];
  sum_ += seconds;
  ++count_;
}

void LatencyHistogram::render(const std::string& name, std::string& out) const {
  std::ostringstream text;
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    text << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << "\n";
  }
  text << name << "_bucket{le=\"+Inf\"} " << count_ << "\n" << name << "_sum " << sample_value(sum_) << "\n" << name << "_count " << count_ << "\n";
  out += text.str();
}

namespace {

const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void metric(std::string& out, const std::string& name, const std::string& type, const std::string& help, double value) {
  std::ostringstream text;
  text << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << sample_value(value) << "\n";
  out += text.str();
}

}  // namespace

ServerMetrics::ServerMetrics() : ttft_(kLatencyBounds), itl_(kLatencyBounds), e2e_(kLatencyBounds) {}

void ServerMetrics::request_finished(const std::string& status) {
  std::lock_guard lock(mutex_);
  ++requests_[status];
}

void ServerMetrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt;
  generated_tokens_ += generated;
}

void ServerMetrics::first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void ServerMetrics::inter_token(double seconds) {
  std::lock_guard lock(mutex_);
  itl_.observe(seconds);
}

void ServerMetrics::end_to_end(double seconds) {
  std::lock_guard lock(mutex_);
  e2e_.observe(seconds);
}

void ServerMetrics::kv_report(const KvReport& kv) {
  std::lock_guard lock(mutex_);
  lazy_layers_ += std::count(kv.lazy_layers.begin(), kv.lazy_layers.end(), true);
  layers_ += static_cast<int64_t>(kv.lazy_layers.size());
  kv_bytes_saved_ += kv.kv_bytes_full - kv.kv_bytes;
}

void ServerMetrics::offload(const OffloadTotals& totals) {
  std::lock_guard lock(mutex_);
  offload_ = totals;
}

std::string ServerMetrics::render(const EngineLoopSnapshot& engine) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP slkv_requests_total Requests finished, by status.\n# TYPE slkv_requests_total counter\n";
  for (const auto& [status, count] : requests_)
    out += "slkv_requests_total{status=\"" + status + "\"} " + std::to_string(count) + "\n";
  metric(out, "slkv_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", static_cast<double>(prompt_tokens_));
  metric(out, "slkv_generation_tokens_total", "counter", "Tokens generated.", static_cast<double>(generated_tokens_));
  metric(out, "slkv_requests_running", "gauge", "Sequences running in the engine.", static_cast<double>(engine.running));
  metric(out, "slkv_requests_waiting", "gauge", "Sequences waiting for admission.", static_cast<double>(engine.waiting));
  metric(out, "slkv_preemptions_total", "counter", "Sequences preempted when the KV pool ran out.", static_cast<double>(engine.preemptions));
  metric(out, "slkv_engine_steps_total", "counter", "Engine steps.", static_cast<double>(engine.steps));
  metric(out, "slkv_kv_blocks_used", "gauge", "KV pool blocks in use.", static_cast<double>(engine.blocks_in_use));
  metric(out, "slkv_kv_blocks_free", "gauge", "KV pool blocks free.", static_cast<double>(engine.blocks_total - engine.blocks_in_use));
  metric(out, "slkv_lazy_layer_fraction", "gauge", "Lazy layers / layers over finished requests.",
         layers_ > 0 ? static_cast<double>(lazy_layers_) / static_cast<double>(layers_) : 0.0);
  metric(out, "slkv_kv_bytes_saved_total", "counter", "KV bytes finished requests did not hold against full KV.",
         static_cast<double>(kv_bytes_saved_));
  metric(out, "slkv_offload_bytes_parked_total", "counter", "Lazy-layer KV bytes parked in host memory.",
         static_cast<double>(offload_.bytes_parked));
  metric(out, "slkv_offload_bytes_restored_total", "counter", "Parked KV bytes restored to the device.",
         static_cast<double>(offload_.bytes_restored));
  metric(out, "slkv_offload_bytes_evicted_total", "counter", "Parked KV bytes evicted for room.",
         static_cast<double>(offload_.bytes_evicted));
  metric(out, "slkv_sessions", "gauge", "Chat sessions holding parked KV.", static_cast<double>(offload_.sessions));
  metric(out, "slkv_sessions_evicted_total", "counter", "Sessions whose KV was evicted.", static_cast<double>(engine.sessions_evicted));
  out += "# HELP slkv_time_to_first_token_seconds Request arrival to first token.\n# TYPE slkv_time_to_first_token_seconds histogram\n";
  ttft_.render("slkv_time_to_first_token_seconds", out);
  out += "# HELP slkv_inter_token_latency_seconds Between consecutive tokens of a request.\n# TYPE slkv_inter_token_latency_seconds histogram\n";
  itl_.render("slkv_inter_token_latency_seconds", out);
  out += "# HELP slkv_e2e_request_latency_seconds Request arrival to its last token.\n# TYPE slkv_e2e_request_latency_seconds histogram\n";
  e2e_.render("slkv_e2e_request_latency_seconds", out);
  return out;
}

}  // namespace slkv
