#include "parallel/mpi_communicator.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace slkv {

void mpi_fail(const char* call, int status, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  const std::string message = "rank " + std::to_string(world_rank()) + ": error: " + file + ":" +
                              std::to_string(line) + ": " + call + " failed: " + std::string(text, length) + "\n";
  std::fwrite(message.data(), 1, message.size(), stderr);
  std::fflush(stderr);
  abort_job(1);
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

namespace {

// node_placement() under MPI, once computed (MPI cannot be initialised twice,
// so it stays valid for the life of the process).
std::optional<NodePlacement> g_mpi_placement;

// The ranks sharing this node's memory: a collective over MPI_COMM_WORLD.
NodePlacement shared_memory_placement() {
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  NodePlacement placement;
  MPI_CHECK(MPI_Comm_rank(node, &placement.local_rank));
  MPI_CHECK(MPI_Comm_size(node, &placement.local_size));
  MPI_CHECK(MPI_Comm_free(&node));
  return placement;
}

// The launchers' names for a process's local rank and the local rank count.
struct LauncherVariables {
  const char* rank;
  const char* size;
};
constexpr LauncherVariables kLaunchers[] = {
    {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},  // Open MPI's mpirun
    {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"},                        // MPICH / Intel MPI (Hydra)
    {"SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},                    // srun (size only with --ntasks-per-node)
};

// The variable's value as a non-negative int; -1 when it is unset or empty.
int count_from_environment(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return -1;
  char* end = nullptr;
  errno = 0;
  const long number = std::strtol(value, &end, 10);
  if (*end != '\0' || number < 0 || number > INT_MAX || errno)
    throw Error(std::string(name) + " is not a rank number: '" + value + "'");
  return static_cast<int>(number);
}

}  // namespace

void mpi_initialize(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes and MPI_CHECK reports them with the rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  // Every rank passes here at start-up: the right time for the collective.
  g_mpi_placement = shared_memory_placement();
}

NodePlacement node_placement() {
  if (g_mpi_placement) return *g_mpi_placement;
  if (mpi_active()) return *(g_mpi_placement = shared_memory_placement());
  return node_placement_from_environment();
}

NodePlacement node_placement_from_environment() {
  NodePlacement placement;
  for (const LauncherVariables& launcher : kLaunchers) {
    const int rank = count_from_environment(launcher.rank);
    if (rank < 0) continue;
    placement.local_rank = rank;
    placement.local_size = std::max(count_from_environment(launcher.size), rank + 1);
    break;
  }
  return placement;
}

bool mpi_active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int world_rank() {
  if (!mpi_active()) return 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  if (!mpi_active()) return 1;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void mpi_finalize() {
  if (mpi_active()) MPI_Finalize();
}

void abort_job(int code) {
  std::cerr.flush();
  std::cout.flush();
  if (mpi_active()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

namespace {

double g_communication_seconds = 0;

// Adds the lifetime of the scope to the communication time.
struct CommunicationTimer {
  double start = MPI_Wtime();
  ~CommunicationTimer() { g_communication_seconds += MPI_Wtime() - start; }
};

int checked_count(int64_t count) {
  SLKV_CHECK(count >= 0 && count <= INT_MAX, "MPI message of " << count << " elements is too large");
  return static_cast<int>(count);
}

}  // namespace

double communication_seconds() { return g_communication_seconds; }

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  if (owned_ && mpi_active()) MPI_Comm_free(&comm_);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::split(MPI_Comm parent, int color, int key) {
  MPI_Comm comm;
  MPI_CHECK(MPI_Comm_split(parent, color, key, &comm));
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  return std::make_unique<MpiCommunicator>(comm, true);
}

void MpiCommunicator::all_reduce_sum(float* data, int64_t count) {
  if (size_ == 1) return;
  CommunicationTimer timer;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_count(count), MPI_FLOAT, MPI_SUM, comm_));
}

void MpiCommunicator::all_reduce_sum(double* data, int64_t count) {
  if (size_ == 1) return;
  CommunicationTimer timer;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_count(count), MPI_DOUBLE, MPI_SUM, comm_));
}

void MpiCommunicator::reduce_sum(double* data, int64_t count, int root) {
  if (size_ == 1) return;
  CommunicationTimer timer;
  if (rank_ == root)
    MPI_CHECK(MPI_Reduce(MPI_IN_PLACE, data, checked_count(count), MPI_DOUBLE, MPI_SUM, root, comm_));
  else
    MPI_CHECK(MPI_Reduce(data, nullptr, checked_count(count), MPI_DOUBLE, MPI_SUM, root, comm_));
}

void MpiCommunicator::all_gather(const float* send, float* recv, std::span<const int64_t> counts) {
  CommunicationTimer timer;
  SLKV_CHECK(static_cast<int>(counts.size()) == size_, "one count per rank");
  std::vector<int> sizes(size_), offsets(size_);
  int64_t offset = 0;
  for (int r = 0; r < size_; ++r) {
    sizes[r] = checked_count(counts[r]);
    offsets[r] = checked_count(offset);
    offset += counts[r];
  }
  MPI_CHECK(MPI_Allgatherv(send, sizes[rank_], MPI_FLOAT, recv, sizes.data(), offsets.data(), MPI_FLOAT, comm_));
}

void MpiCommunicator::broadcast(void* data, int64_t bytes, int root) {
  if (size_ == 1) return;
  CommunicationTimer timer;
  MPI_CHECK(MPI_Bcast(data, checked_count(bytes), MPI_BYTE, root, comm_));
}

void MpiCommunicator::send(const void* data, int64_t bytes, int to, int tag) {
  CommunicationTimer timer;
  MPI_CHECK(MPI_Send(data, checked_count(bytes), MPI_BYTE, to, tag, comm_));
}

void MpiCommunicator::recv(void* data, int64_t bytes, int from, int tag) {
  CommunicationTimer timer;
  MPI_CHECK(MPI_Recv(data, checked_count(bytes), MPI_BYTE, from, tag, comm_, MPI_STATUS_IGNORE));
}

void MpiCommunicator::barrier() { MPI_CHECK(MPI_Barrier(comm_)); }

}  // namespace slkv
