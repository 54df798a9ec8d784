// CPU kernel throughput on the shapes of a ~110M-parameter Llama-style model
// (12 layers of hidden 768 / intermediate 2048, plus a 32000x768 lm_head):
//  * Decode/<dtype>/tokens/threads/grouped: one decode step's matmuls over
//    the whole weight set (440 MB in F32, 220 MB in 16 bits), per matrix or
//    grouped as the model runs them; "GB/s" counts weight bytes read, to
//    compare with the memory_read_GB/s context line. Weights and KV live in
//    the CPU backend's memory (huge pages), as the engine's do.
//  * DecodeLarge/<dtype>/tokens: the grouped decode step of a 1.26B-shaped
//    model (2.3-4.6 GiB), read from DRAM: decode at the memory floor.
//  * DecodeBatchPath: the matmul paths at 2-64 decode rows.
//  * Prefill/<dtype>/threads: 512 tokens through the same set; "GFLOP/s".
//  * GemmShape: one 512-token GEMM of a single layer matrix.
//  * TinyMatmul: per-call cost on stories260K shapes (dim 64), which decodes
//    with ~40 such calls per token.
//  * AttentionDecode / AttentionDecodeBatch / AttentionPrefill: the attention
//    kernel for one decode row, a decode batch over 12 layers, a prompt.
//  * ComputePeak/<instruction>/threads: the multiply-add peak the matmuls
//    are held against, fp32 FMA (vfmadd) or BF16 pairs (vdpbf16ps), 16
//    independent chains per thread in registers; "GFLOP/s".
//  * SampleTokens/vocab/rows/draw/flat: the token draw after a decode step,
//    on logits shaped like a trained model's (flat 0: five tokens with most
//    of the probability, ahead of a Gaussian bulk) or flat ones (1: uniform
//    in [-1, 1), where a draw lies deep in the candidate order); draw 0
//    greedy, 1 temperature 0.8 with top_p 0.95, 2 temperature 1 without
//    filters, 3 top_k 40.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/bf16_dot_tiles.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/memory_bandwidth.h"
#include "kernels/cpu/simd.h"  // immintrin.h, without GCC 12's false warnings

namespace {

using slkv::DType;
using slkv::WeightMatrix;

constexpr int64_t kHidden = 768;
constexpr int64_t kIntermediate = 2048;
constexpr int64_t kLayers = 12;
constexpr int64_t kVocab = 32000;
constexpr int64_t kPrefillTokens = 512;

const DType kDtypes[] = {DType::F32, DType::F16, DType::BF16};

// Deterministic values in [-1, 1) without the cost of <random> on 100M elements.
struct Lcg {
  uint32_t state = 12345;
  float next() {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1 << 23) - 1.f;
  }
};

// Memory as the model's weights and the KV cache get it: the CPU backend's
// allocations (huge pages from 2 MiB on). std::vector's 4 KiB pages cost a
// TLB miss per page streamed, which the engine does not pay.
std::shared_ptr<uint8_t> backend_bytes(size_t bytes) {
  static const std::unique_ptr<slkv::Backend> memory = slkv::make_cpu_backend(1);
  slkv::Backend* backend = memory.get();
  return {static_cast<uint8_t*>(backend->allocate(int64_t(bytes))), [backend](uint8_t* p) { backend->release(p); }};
}

// A weight matrix owning its storage.
struct OwnedMatrix {
  std::shared_ptr<uint8_t> bytes;
  WeightMatrix view;
};

OwnedMatrix make_matrix(DType dtype, int64_t rows, int64_t cols, Lcg& rng) {
  OwnedMatrix m;
  const size_t n = size_t(rows * cols);
  m.bytes = backend_bytes(n * slkv::dtype_size(dtype));
  for (size_t i = 0; i < n; ++i) {
    const float v = rng.next() * 0.05f;
    if (dtype == DType::F32)
      reinterpret_cast<float*>(m.bytes.get())[i] = v;
    else if (dtype == DType::F16)
      reinterpret_cast<uint16_t*>(m.bytes.get())[i] = slkv::float_to_f16(v);
    else
      reinterpret_cast<uint16_t*>(m.bytes.get())[i] = slkv::float_to_bf16(v);
  }
  m.view = {m.bytes.get(), dtype, rows, cols};
  return m;
}

// The matrix shapes of a Llama-style model.
struct ModelShape {
  int64_t hidden, kv_dim, intermediate, layers, vocab;
};
// ~110M parameters: what most benchmarks here run.
constexpr ModelShape kSmallModel{kHidden, kHidden, kIntermediate, kLayers, kVocab};
// 1.26B parameters (16/8 heads of 128): 2.3 GiB in 16 bits, 4.6 GiB in F32,
// several times any last-level cache, for decode from DRAM.
constexpr ModelShape kLargeModel{2048, 1024, 5632, 24, 32000};

// Every matrix of the model, in forward order: per layer q, k, v, o, gate,
// up, down, then lm_head.
struct WeightSet {
  std::vector<OwnedMatrix> matrices;
  int64_t layers = 0;
  double bytes = 0, parameters = 0;
};

std::unique_ptr<WeightSet> make_weight_set(DType dtype, const ModelShape& shape) {
  auto set = std::make_unique<WeightSet>();
  set->layers = shape.layers;
  Lcg rng;
  auto add = [&](int64_t rows, int64_t cols) {
    set->matrices.push_back(make_matrix(dtype, rows, cols, rng));
    set->parameters += double(rows * cols);
  };
  for (int64_t layer = 0; layer < shape.layers; ++layer) {
    add(shape.hidden, shape.hidden);        // q
    add(shape.kv_dim, shape.hidden);        // k
    add(shape.kv_dim, shape.hidden);        // v
    add(shape.hidden, shape.hidden);        // o
    add(shape.intermediate, shape.hidden);  // gate
    add(shape.intermediate, shape.hidden);  // up
    add(shape.hidden, shape.intermediate);  // down
  }
  add(shape.vocab, shape.hidden);  // lm_head
  set->bytes = set->parameters * double(slkv::dtype_size(dtype));
  return set;
}

// The small model's set, built once per dtype (440 + 220 + 220 MB once all
// are used).
const WeightSet& weight_set(DType dtype) {
  static std::map<DType, std::unique_ptr<WeightSet>> sets;
  std::unique_ptr<WeightSet>& set = sets[dtype];
  if (!set) set = make_weight_set(dtype, kSmallModel);
  return *set;
}

std::vector<float> activations(int64_t n) {
  Lcg rng;
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = rng.next();
  return x;
}

// One decode step's matmuls over `set`, q/k/v and gate/up through one
// matmul_group each, as the model runs them. x holds n_tokens rows of the
// widest input; y room for n_tokens x (3 x the widest output).
void grouped_decode_step(slkv::Backend& backend, const WeightSet& set, const float* x, int64_t n_tokens, float* y) {
  // The groups write side by side in y.
  auto group = [&](size_t first, size_t count) {
    std::vector<slkv::MatmulOutput> outputs;
    float* out = y;
    for (size_t i = first; i < first + count; ++i) {
      outputs.push_back({set.matrices[i].view, out});
      out += n_tokens * set.matrices[i].view.rows;
    }
    backend.matmul_group(x, n_tokens, outputs);
  };
  for (int64_t layer = 0; layer < set.layers; ++layer) {
    const size_t base = size_t(layer * 7);
    group(base, 3);                                               // q, k, v
    backend.matmul(x, n_tokens, set.matrices[base + 3].view, y);  // o
    group(base + 4, 2);                                           // gate, up
    backend.matmul(x, n_tokens, set.matrices[base + 6].view, y);  // down
  }
  backend.matmul(x, n_tokens, set.matrices.back().view, y);  // lm_head
}

// Every matrix of the model once per iteration: args dtype, tokens, threads,
// grouped (1: as the model runs them, grouped_decode_step; 0: one matmul per
// matrix).
void Decode(benchmark::State& state) {
  const DType dtype = kDtypes[state.range(0)];
  const int64_t n_tokens = state.range(1);
  const int threads = int(state.range(2));
  const bool grouped = state.range(3) != 0;
  const WeightSet& set = weight_set(dtype);
  auto backend = slkv::make_cpu_backend(threads);
  const std::vector<float> x = activations(n_tokens * kIntermediate);
  std::vector<float> y(static_cast<size_t>(3 * n_tokens * kVocab));
  for (auto _ : state) {
    if (!grouped) {
      for (const OwnedMatrix& m : set.matrices) backend->matmul(x.data(), n_tokens, m.view, y.data());
    } else {
      grouped_decode_step(*backend, set, x.data(), n_tokens, y.data());
    }
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(set.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(double(n_tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(slkv::dtype_name(dtype)) + (grouped ? " grouped" : ""));
}

// The large model's set for one dtype at a time (4.6 GiB for F32): asking
// for another dtype frees it first.
const WeightSet& large_weight_set(DType dtype) {
  static std::unique_ptr<WeightSet> set;
  static DType set_dtype = DType::F32;
  if (!set || set_dtype != dtype) {
    set.reset();
    set = make_weight_set(dtype, kLargeModel);
    set_dtype = dtype;
  }
  return *set;
}

// Decode at the memory floor: the grouped decode step of the 1.26B-shaped
// model, its weights read from DRAM; args dtype, tokens, 2 threads. "GB/s"
// counts weight bytes, to set against memory_read_GB/s.
void DecodeLarge(benchmark::State& state) {
  const DType dtype = kDtypes[state.range(0)];
  const int64_t n_tokens = state.range(1);
  const WeightSet& set = large_weight_set(dtype);
  auto backend = slkv::make_cpu_backend(2);
  const std::vector<float> x = activations(n_tokens * kLargeModel.intermediate);
  std::vector<float> y(static_cast<size_t>(3 * n_tokens * kLargeModel.vocab));
  for (auto _ : state) {
    grouped_decode_step(*backend, set, x.data(), n_tokens, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(set.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(slkv::dtype_name(dtype)));
}

// The matmul paths on a decode batch of 2-64 rows: args dtype, tokens, path
// (0 = gemv tiles, 1 = gemm, 2 = matmul(), which picks: for BF16 the BF16
// tiles up to kBf16TilesMaxTokens where the CPU has AVX512-BF16; otherwise
// the gemv tiles below kGemmMinTokens (kGemmMinTokensF32 for F32), gemm from
// there), threads.
void DecodeBatchPath(benchmark::State& state) {
  const DType dtype = kDtypes[state.range(0)];
  const int64_t n_tokens = state.range(1);
  const int64_t path = state.range(2);
  const int threads = int(state.range(3));
  const WeightSet& set = weight_set(dtype);
  const std::vector<float> x = activations(n_tokens * kIntermediate);
  std::vector<float> y(static_cast<size_t>(n_tokens * kVocab));
  for (auto _ : state) {
    for (const OwnedMatrix& m : set.matrices) {
      if (path == 1)
        slkv::cpu::gemm(x.data(), n_tokens, m.view, y.data(), threads);
      else if (path == 2)
        slkv::cpu::matmul(x.data(), n_tokens, m.view, y.data(), threads);
      else
        slkv::cpu::gemv(x.data(), n_tokens, m.view, y.data(), threads);
    }
    benchmark::ClobberMemory();
  }
  state.counters["tok/s"] = benchmark::Counter(double(n_tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(slkv::dtype_name(dtype)) + (path == 1 ? " gemm" : path == 2 ? " matmul" : " gemv"));
}

void Prefill(benchmark::State& state) {
  const DType dtype = kDtypes[state.range(0)];
  const int threads = int(state.range(1));
  const WeightSet& set = weight_set(dtype);
  auto backend = slkv::make_cpu_backend(threads);
  const std::vector<float> x = activations(kPrefillTokens * kIntermediate);
  std::vector<float> y(static_cast<size_t>(kPrefillTokens * kVocab));
  for (auto _ : state) {
    for (const OwnedMatrix& m : set.matrices) backend->matmul(x.data(), kPrefillTokens, m.view, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kPrefillTokens * set.parameters * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(double(kPrefillTokens), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(slkv::dtype_name(dtype)));
}

// One layer matrix at 512 tokens: args dtype, rows, cols, threads.
void GemmShape(benchmark::State& state) {
  const DType dtype = kDtypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2);
  const int threads = int(state.range(3));
  Lcg rng;
  const OwnedMatrix m = make_matrix(dtype, rows, cols, rng);
  auto backend = slkv::make_cpu_backend(threads);
  const std::vector<float> x = activations(kPrefillTokens * cols);
  std::vector<float> y(static_cast<size_t>(kPrefillTokens * rows));
  for (auto _ : state) {
    backend->matmul(x.data(), kPrefillTokens, m.view, y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kPrefillTokens * double(rows * cols) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(slkv::dtype_name(dtype)));
}

// stories260K: dim 64, hidden 172, vocab 512; args rows, cols.
void TinyMatmul(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Lcg rng;
  const OwnedMatrix m = make_matrix(DType::F32, rows, cols, rng);
  auto backend = slkv::make_cpu_backend(2);
  const std::vector<float> x = activations(cols);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : state) {
    backend->matmul(x.data(), 1, m.view, y.data());
    benchmark::ClobberMemory();
  }
}

struct AttentionInputs {
  std::shared_ptr<uint8_t> keys, values;  // backend memory, as the KV cache's slabs are
  std::vector<float> q, out, lse;
  std::vector<slkv::KvSpan> spans;
  slkv::AttentionShape shape;
};

// block_tokens > 0: the keys come as spans of that many tokens in scattered
// order, as the paged cache hands them over when the layers of a sequence
// took their blocks in turn (0: one span).
AttentionInputs attention_inputs(int64_t n_queries, int64_t context, int64_t n_heads, int64_t n_kv_heads,
                                 int64_t head_dim, int64_t block_tokens = 0) {
  AttentionInputs in;
  auto kv_buffer = [&] {
    const std::vector<float> data = activations(context * n_kv_heads * head_dim);
    std::shared_ptr<uint8_t> bytes = backend_bytes(data.size() * sizeof(float));
    std::copy(data.begin(), data.end(), reinterpret_cast<float*>(bytes.get()));
    return bytes;
  };
  in.keys = kv_buffer();
  in.values = kv_buffer();
  in.q = activations(n_queries * n_heads * head_dim);
  in.out.resize(in.q.size());
  in.lse.resize(size_t(n_queries * n_heads));
  const auto* keys = reinterpret_cast<const float*>(in.keys.get());
  const auto* values = reinterpret_cast<const float*>(in.values.get());
  in.spans = {{keys, values, context}};
  if (block_tokens > 0) {
    in.spans.clear();
    const int64_t n_blocks = (context + block_tokens - 1) / block_tokens;
    const int64_t floats_per_block = block_tokens * n_kv_heads * head_dim;
    for (int64_t b = 0; b < n_blocks; ++b) {
      // Block b of the sequence sits in storage block (b * 37) mod n_blocks:
      // never next to block b - 1 (for n_blocks > 37 coprime to 37).
      const int64_t slot = b * 37 % n_blocks;
      const int64_t tokens = std::min(block_tokens, context - slot * block_tokens);
      in.spans.push_back(
          {keys + slot * floats_per_block, values + slot * floats_per_block, std::max<int64_t>(tokens, 0)});
    }
  }
  in.shape = {n_heads, n_kv_heads, head_dim, float(1.0 / std::sqrt(double(head_dim)))};
  return in;
}

// One decode query over a cache: args context, heads, kv heads, head_dim,
// threads, tokens per span (0 = one span; 16 = the paged cache's blocks).
void AttentionDecode(benchmark::State& state) {
  const int64_t context = state.range(0), n_heads = state.range(1), n_kv = state.range(2), dim = state.range(3);
  AttentionInputs in = attention_inputs(1, context, n_heads, n_kv, dim, state.range(5));
  auto backend = slkv::make_cpu_backend(int(state.range(4)));
  for (auto _ : state) {
    backend->attention(in.q.data(), 1, in.spans, in.shape, in.out.data(), in.lse.data());
    benchmark::ClobberMemory();
  }
  state.counters["KV GB/s"] =
      benchmark::Counter(double(2 * context * n_kv * dim * 4) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One decode step's attention for a batch, layer after layer: args batch,
// context, heads, kv heads, head_dim, layers, threads. Every (sequence,
// layer) has its own keys and values in scattered 16-token spans (the paged
// cache), 151 MB for 16 x 384 tokens of 12 layers of 4 x 64: read from
// memory, as in `slkv bench-decode --batch 16`.
void AttentionDecodeBatch(benchmark::State& state) {
  const int64_t batch = state.range(0), context = state.range(1), n_heads = state.range(2), n_kv = state.range(3),
                dim = state.range(4), layers = state.range(5);
  const int threads = int(state.range(6));
  std::vector<AttentionInputs> inputs;  // [layer * batch + sequence]
  for (int64_t i = 0; i < layers * batch; ++i) inputs.push_back(attention_inputs(1, context, n_heads, n_kv, dim, 16));
  auto backend = slkv::make_cpu_backend(threads);
  std::vector<std::vector<slkv::AttentionJob>> jobs(static_cast<size_t>(layers));
  for (int64_t layer = 0; layer < layers; ++layer)
    for (int64_t b = 0; b < batch; ++b) {
      AttentionInputs& in = inputs[size_t(layer * batch + b)];
      jobs[size_t(layer)].push_back({in.q.data(), 1, in.spans, in.out.data(), in.lse.data()});
    }
  for (auto _ : state) {
    for (const auto& layer_jobs : jobs) backend->attention_batch(layer_jobs, inputs[0].shape);
    benchmark::ClobberMemory();
  }
  state.counters["KV GB/s"] = benchmark::Counter(double(layers * batch * 2 * context * n_kv * dim * 4) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Causal self-attention of a fresh prompt: args tokens, heads, kv heads, head_dim, threads.
void AttentionPrefill(benchmark::State& state) {
  const int64_t n = state.range(0), n_heads = state.range(1), n_kv = state.range(2), dim = state.range(3);
  AttentionInputs in = attention_inputs(n, n, n_heads, n_kv, dim);
  auto backend = slkv::make_cpu_backend(int(state.range(4)));
  for (auto _ : state) {
    backend->attention(in.q.data(), n, in.spans, in.shape, in.out.data(), in.lse.data());
    benchmark::ClobberMemory();
  }
  // q.k and p.v: 2 multiply-adds per head_dim element over n(n+1)/2 pairs per head.
  const double flops = 4.0 * double(dim) * double(n_heads) * double(n * (n + 1) / 2);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One thread's share of ComputePeak: `steps` rounds of 16 independent
// multiply-add chains (enough to cover the instruction's latency on both
// FMA pipes), fp32 FMAs or vdpbf16ps; returns a value of the result so
// nothing is optimised away. Compiled for AVX512-BF16 whatever -march says;
// the BF16 one runs only where the CPU has it.
constexpr int kPeakChains = 16;

template <bool kBf16>
__attribute__((target("avx512f,avx512bf16"))) float multiply_add_chains(int64_t steps) {
  __m512 acc[kPeakChains];
  for (int i = 0; i < kPeakChains; ++i) acc[i] = _mm512_set1_ps(1e-3f * float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-6f);
  const __m512bh a16 = (__m512bh)_mm512_set1_epi16(0x3f80), b16 = (__m512bh)_mm512_set1_epi16(0x3380);  // 1, ~6e-8
  for (int64_t s = 0; s < steps; ++s)
#pragma GCC unroll 16
    for (int i = 0; i < kPeakChains; ++i) {
      if constexpr (kBf16)
        acc[i] = _mm512_dpbf16_ps(acc[i], a16, b16);
      else
        acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
  __m512 total = acc[0];
  for (int i = 1; i < kPeakChains; ++i) total = _mm512_add_ps(total, acc[i]);
  return _mm512_reduce_add_ps(total);
}

void ComputePeak(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  const int threads = int(state.range(1));
  if (bf16 && !slkv::cpu::bf16_dot_supported()) return state.SkipWithError("no AVX512-BF16 on this CPU");
  constexpr int64_t kSteps = 1 << 22;
  float sink = 0.f;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += bf16 ? multiply_add_chains<true>(kSteps) : multiply_add_chains<false>(kSteps);
  }
  benchmark::DoNotOptimize(sink);
  // Per instruction: 16 lanes x 2 flops (FMA) or 32 BF16 pairs x 2 flops.
  const double flops = double(kSteps) * kPeakChains * (bf16 ? 64.0 : 32.0) * threads;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(bf16 ? "vdpbf16ps" : "vfmadd fp32");
}

// Logits of `rows` decode rows over `vocab` tokens: a Gaussian-like bulk
// (sum of three uniforms, standard deviation 2) with five tokens 14-18 above
// it that hold over 90 % of the probability at temperature 1, as a trained
// model's rows mostly look.
std::vector<float> peaked_logits(int64_t rows, int64_t vocab) {
  Lcg lcg;
  std::vector<float> logits(size_t(rows * vocab));
  for (float& z : logits) z = 2.f * (lcg.next() + lcg.next() + lcg.next());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < 5; ++k) logits[size_t(r * vocab + (r * 7919 + k * 104729) % vocab)] += 14.f + float(k);
  return logits;
}

// Logits uniform in [-1, 1): a draw lies deep in the candidate order.
std::vector<float> flat_logits(int64_t rows, int64_t vocab) {
  Lcg lcg;
  std::vector<float> logits(size_t(rows * vocab));
  for (float& z : logits) z = lcg.next();
  return logits;
}

void SampleTokens(benchmark::State& state) {
  const int64_t vocab = state.range(0), rows = state.range(1);
  const slkv::TokenDraw draws_by_kind[] = {
      {0.f, 0, 1.f, 0.0}, {0.8f, 0, 0.95f, 0.0}, {1.f, 0, 1.f, 0.0}, {1.f, 40, 1.f, 0.0}};
  slkv::TokenDraw draw = draws_by_kind[state.range(2)];
  const std::vector<float> logits = state.range(3) == 1 ? flat_logits(rows, vocab) : peaked_logits(rows, vocab);
  std::vector<slkv::TokenDraw> draws(size_t(rows), draw);
  for (int64_t r = 0; r < rows; ++r) draws[size_t(r)].uniform = double(r + 1) / double(rows + 2);
  std::vector<int32_t> tokens(static_cast<size_t>(rows));
  auto backend = slkv::make_cpu_backend(2);
  for (auto _ : state) {
    backend->sample_tokens(logits.data(), rows, vocab, draws, tokens.data());
    benchmark::DoNotOptimize(tokens.data());
  }
}

BENCHMARK(Decode)
    ->ArgNames({"dtype", "tokens", "threads", "grouped"})
    ->ArgsProduct({{0, 1, 2}, {1}, {1, 2}, {0}})
    ->ArgsProduct({{0, 1, 2}, {1}, {2}, {1}})
    ->ArgsProduct({{0, 1, 2}, {4, 8}, {2}, {0}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(DecodeLarge)
    ->ArgNames({"dtype", "tokens"})
    ->Args({0, 1})  // dtype-major: the set is rebuilt only when the dtype changes
    ->Args({0, 2})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Args({2, 1})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Repetitions(3)
    ->DisplayAggregatesOnly(true);
BENCHMARK(DecodeBatchPath)
    ->ArgNames({"dtype", "tokens", "path", "threads"})
    ->ArgsProduct({{0, 2}, {2, 4, 8, 12, 16, 32, 64}, {0, 1, 2}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(Prefill)
    ->ArgNames({"dtype", "threads"})
    ->ArgsProduct({{0, 1, 2}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(GemmShape)
    ->ArgNames({"dtype", "rows", "cols", "threads"})
    ->ArgsProduct({{0, 1, 2}, {kIntermediate}, {kHidden}, {1, 2}})
    ->Args({0, kHidden, kIntermediate, 2})
    ->Args({0, kVocab, kHidden, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(TinyMatmul)->ArgNames({"rows", "cols"})->Args({64, 64})->Args({172, 64})->Args({512, 64})->UseRealTime();
BENCHMARK(AttentionDecode)
    ->ArgNames({"context", "heads", "kv", "dim", "threads", "span"})
    ->Args({2048, 12, 12, 64, 1, 0})
    ->Args({2048, 12, 12, 64, 2, 0})
    ->Args({4096, 32, 8, 128, 2, 0})
    ->Args({128, 8, 4, 8, 2, 0})
    // Caches of 268 and 134 MB: read from memory, not the last-level cache;
    // one span, and the paged cache's 16-token blocks in scattered order.
    ->Args({32768, 12, 4, 64, 2, 0})
    ->Args({32768, 12, 4, 64, 2, 16})
    ->Args({32768, 4, 4, 64, 2, 16})
    ->Args({16384, 32, 8, 128, 2, 0})
    ->Args({16384, 32, 8, 128, 2, 16})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(AttentionDecodeBatch)
    ->ArgNames({"batch", "context", "heads", "kv", "dim", "layers", "threads"})
    ->Args({16, 384, 12, 4, 64, 12, 2})
    ->Args({4, 4000, 12, 4, 64, 12, 2})
    ->Args({1, 320, 16, 8, 128, 24, 2})  // a 1.26B-model decode step (head_dim 128, 16/8 heads)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(ComputePeak)
    ->ArgNames({"bf16", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(SampleTokens)
    ->ArgNames({"vocab", "rows", "draw", "flat"})
    ->ArgsProduct({{32000, 128256}, {1, 16}, {0, 1, 2, 3}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(AttentionPrefill)
    ->ArgNames({"tokens", "heads", "kv", "dim", "threads"})
    ->Args({512, 12, 12, 64, 1})
    ->Args({512, 12, 12, 64, 2})
    ->Args({512, 32, 8, 128, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The reference figure for the Decode GB/s counters.
  benchmark::AddCustomContext("memory_read_GB/s_2threads",
                              std::to_string(slkv::measure_memory_read_bandwidth_gbps(2, size_t(512) << 20)));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
