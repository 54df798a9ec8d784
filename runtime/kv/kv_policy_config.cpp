#include "runtime/kv/kv_policy_config.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slkv {
namespace {

std::filesystem::path config_dir() {
  if (const char* env = std::getenv("SLKV_CONFIG_DIR")) return env;
  return std::filesystem::path(SLKV_SOURCE_DIR) / "configs";
}

}  // namespace

KvPolicyConfig KvPolicyConfig::preset_for(const ModelConfig& model) {
  const std::filesystem::path path = config_dir() / "simlayerkv.json";
  std::ifstream in(path);
  if (!in) throw Error("cannot open the SimLayerKV presets " + path.string() + " (set SLKV_CONFIG_DIR)");
  nlohmann::json presets = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!presets.is_object() || !presets.contains("defaults") || !presets.contains("families"))
    throw Error(path.string() + ": expected an object with \"defaults\" and \"families\"");
  KvPolicyConfig config;
  try {
    const auto& defaults = presets["defaults"];
    config.sink = defaults.at("sink").get<int64_t>();
    config.recent = defaults.at("recent").get<int64_t>();
    config.obs_window = defaults.at("obs_window").get<int64_t>();
    config.detect = parse_lazy_detect(defaults.at("lazy_detect").get<std::string>());
    config.growth = parse_lazy_window(defaults.at("lazy_window").get<std::string>());
    config.snapkv_budget = defaults.at("snapkv_budget").get<int64_t>();
    config.snapkv_pool = defaults.at("snapkv_pool").get<int64_t>();
    config.threshold = presets["families"].at(family_name(model.family)).at("threshold").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": " + e.what());
  }
  config.validate();
  return config;
}

void KvPolicyConfig::validate() const {
  if (!std::isfinite(threshold))
    throw Error("--lazy-threshold must be a finite number, got " + std::to_string(threshold));
  if (sink < 0) throw Error("--sink must be >= 0, got " + std::to_string(sink));
  if (recent < 1) throw Error("--recent must be >= 1, got " + std::to_string(recent));
  if (obs_window < 1) throw Error("--obs-window must be >= 1, got " + std::to_string(obs_window));
  if (snapkv_budget < 0) throw Error("--snapkv-budget must be >= 0, got " + std::to_string(snapkv_budget));
  if (snapkv_pool < 1 || snapkv_pool % 2 == 0)
    throw Error("--snapkv-pool must be a positive odd kernel size, got " + std::to_string(snapkv_pool));
}

KvPolicyKind parse_kv_policy(const std::string& name) {
  if (name == "full") return KvPolicyKind::Full;
  if (name == "simlayerkv") return KvPolicyKind::SimLayerKV;
  if (name == "streaming") return KvPolicyKind::Streaming;
  if (name == "snapkv") return KvPolicyKind::SnapKV;
  if (name == "simlayerkv+snapkv") return KvPolicyKind::SimLayerKVSnapKV;
  throw Error("--kv-policy must be full, simlayerkv, streaming, snapkv or simlayerkv+snapkv, got '" + name + "'");
}

std::string kv_policy_name(KvPolicyKind kind) {
  switch (kind) {
    case KvPolicyKind::Full:
      return "full";
    case KvPolicyKind::SimLayerKV:
      return "simlayerkv";
    case KvPolicyKind::Streaming:
      return "streaming";
    case KvPolicyKind::SnapKV:
      return "snapkv";
    case KvPolicyKind::SimLayerKVSnapKV:
      return "simlayerkv+snapkv";
  }
  return "?";
}

LazyDetect parse_lazy_detect(const std::string& name) {
  if (name == "prefill") return LazyDetect::Prefill;
  if (name == "decode") return LazyDetect::Decode;
  throw Error("--lazy-detect must be prefill or decode, got '" + name + "'");
}

std::string lazy_detect_name(LazyDetect detect) { return detect == LazyDetect::Prefill ? "prefill" : "decode"; }

WindowGrowth parse_lazy_window(const std::string& name) {
  if (name == "rolling") return WindowGrowth::Rolling;
  if (name == "grow") return WindowGrowth::Grow;
  throw Error("--lazy-window must be rolling or grow, got '" + name + "'");
}

std::string lazy_window_name(WindowGrowth growth) { return growth == WindowGrowth::Rolling ? "rolling" : "grow"; }

Reidentify parse_reidentify(const std::string& name) {
  if (name == "exact") return Reidentify::Exact;
  if (name == "cached") return Reidentify::Cached;
  if (name == "none") return Reidentify::None;
  throw Error("--reidentify must be exact, cached or none, got '" + name + "'");
}

std::string reidentify_name(Reidentify mode) {
  switch (mode) {
    case Reidentify::Exact: return "exact";
    case Reidentify::Cached: return "cached";
    case Reidentify::None: return "none";
  }
  return "?";
}

}  // namespace slkv
