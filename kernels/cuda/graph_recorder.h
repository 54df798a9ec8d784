#pragma once
// GraphRecorder: CudaBackend::run_recorded's CUDA graphs. The first time a
// (owner, id) sequence runs it is issued op by op (a warm-up: modules load,
// cuBLAS picks its kernels); the second time it is captured from the stream
// into a graph, which is then launched, that time and every later time, as
// one unit. A sequence whose capture fails (an op that cannot be captured)
// is issued op by op from then on. At most kMaxRecordings sequences are
// kept (a model records two per layer and batch size); past that the
// recorder starts over. Plain C++ header (no CUDA headers).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

struct CUstream_st;
struct CUgraphExec_st;

namespace slkv {

class GraphRecorder {
 public:
  explicit GraphRecorder(CUstream_st* stream) : stream_(stream) {}
  ~GraphRecorder() { clear(); }
  GraphRecorder(const GraphRecorder&) = delete;
  GraphRecorder& operator=(const GraphRecorder&) = delete;

  void run(const void* owner, int64_t id, const std::function<void()>& ops);
  void forget(const void* owner);
  void clear();
  size_t graphs() const;  // recordings held

 static constexpr size_t kMaxRecordings = 4096;

 private:
  struct Recording {
    int runs = 0;                      // times seen
    bool unrecordable = false;         // its capture failed: issue it op by op
    CUgraphExec_st* graph = nullptr;   // instantiated after the capture
  };
  // Captures ops into recording.graph; false (and the stream back to normal) when it cannot be captured.
  bool capture(Recording& recording, const std::function<void()>& ops);

  CUstream_st* stream_;
  std::map<std::pair<const void*, int64_t>, Recording> recordings_;
};

}  // namespace slkv
