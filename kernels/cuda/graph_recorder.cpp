#include "kernels/cuda/graph_recorder.h"

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"

namespace slkv {

void GraphRecorder::run(const void* owner, int64_t id, const std::function<void()>& ops) {
  // Bounded: a run that has seen many batch sizes starts its recordings over.
  if (recordings_.size() >= kMaxRecordings && !recordings_.count({owner, id})) clear();
  Recording& recording = recordings_[{owner, id}];
  ++recording.runs;
  if (!recording.graph && (recording.unrecordable || recording.runs < 2 || !capture(recording, ops))) {
    ops();
    return;
  }
  CUDA_CHECK(cudaGraphLaunch(recording.graph, stream_));
}

bool GraphRecorder::capture(Recording& recording, const std::function<void()>& ops) {
  // Relaxed: the ops may allocate (cudaMalloc) their scratch while captured.
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
  cudaGraph_t graph = nullptr;
  bool issued = true;
  try {
    ops();
  } catch (...) {
    // An op refused to be captured (or failed; issued op by op it fails again
    // and reports why). Leave capture mode before anything else runs.
    issued = false;
  }
  cudaError_t status = cudaStreamEndCapture(stream_, &graph);  // in every case: leave capture mode
  if (!issued) status = cudaErrorStreamCaptureInvalidated;
  cudaGraphExec_t exec = nullptr;
  if (status == cudaSuccess) status = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (status != cudaSuccess) {
    cudaGetLastError();  // capture errors are not sticky: clear and issue op by op instead
    recording.unrecordable = true;
    return false;
  }
  recording.graph = exec;
  return true;
}

void GraphRecorder::forget(const void* owner) {
  for (auto it = recordings_.begin(); it != recordings_.end();) {
    if (it->first.first != owner) {
      ++it;
      continue;
    }
    if (it->second.graph) cudaGraphExecDestroy(it->second.graph);
    it = recordings_.erase(it);
  }
}

void GraphRecorder::clear() {
  for (auto& [key, recording] : recordings_)
    if (recording.graph) cudaGraphExecDestroy(recording.graph);
  recordings_.clear();
}

size_t GraphRecorder::graphs() const {
  size_t count = 0;
  for (const auto& [key, recording] : recordings_) count += recording.graph != nullptr;
  return count;
}

}  // namespace slkv
