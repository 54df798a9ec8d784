#pragma once
// MpiCommunicator: Communicator over an MPI communicator (host memory), plus
// the process-wide MPI session. MPI is only initialised when the process was
// launched by mpirun (or asked for it); a plain run is world size 1 without MPI.
#include <memory>
#include <mpi.h>
#include <string>

#include "runtime/communicator.h"

// Reports the failing MPI call with file and line.
#define MPI_CHECK(call)                                                                            \
  do {                                                                                             \
    int mpi_check_status_ = (call);                                                                \
    if (mpi_check_status_ != MPI_SUCCESS) ::slkv::mpi_fail(#call, mpi_check_status_, __FILE__, __LINE__); \
  } while (0)

namespace slkv {

[[noreturn]] void mpi_fail(const char* call, int status, const char* file, int line);

// True when the environment says an MPI launcher (mpirun/srun) started us.
bool launched_by_mpi();
// Initialises MPI (MPI_THREAD_FUNNELED) once; safe to call when already initialised.
void mpi_initialize(int* argc, char*** argv);
bool mpi_active();        // initialised and not finalised
int world_rank();         // 0 without MPI
int world_size();         // 1 without MPI
void mpi_finalize();      // no-op without MPI

// This process's place among the job's ranks on its own node (shared memory
// domain), e.g. to pick GPU local_rank % device_count.
struct NodePlacement {
  int local_rank = 0;  // 0 .. local_size - 1
  int local_size = 1;  // ranks of this job on this node
};
// With MPI active: MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED),
// computed by mpi_initialize() on every rank (a collective; if MPI was
// initialised elsewhere, the first call here is the collective). Without MPI:
// node_placement_from_environment().
NodePlacement node_placement();
// What the launcher's environment says: Open MPI (OMPI_COMM_WORLD_LOCAL_RANK,
// OMPI_COMM_WORLD_LOCAL_SIZE), MPICH/Intel MPI Hydra (MPI_LOCALRANKID,
// MPI_LOCALNRANKS), else Slurm (SLURM_LOCALID, SLURM_NTASKS_PER_NODE); {0, 1}
// when none is set (a single process). A size that is missing is at least
// local_rank + 1. Throws slkv::Error naming a variable that is not a number.
NodePlacement node_placement_from_environment();
// Seconds this process has spent inside MpiCommunicator calls (waits included).
double communication_seconds();
// Ends every rank of the job now (MPI_Abort when MPI is active, else exit).
[[noreturn]] void abort_job(int code);

class MpiCommunicator final : public Communicator {
 public:
  // Wraps `comm`; frees it at destruction when `owned`.
  MpiCommunicator(MPI_Comm comm, bool owned);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // Splits `parent` by color, ordering ranks by key (MPI_Comm_split).
  static std::unique_ptr<MpiCommunicator> split(MPI_Comm parent, int color, int key);

  MPI_Comm handle() const { return comm_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float* data, int64_t count) override;
  void all_reduce_sum(double* data, int64_t count) override;
  void reduce_sum(double* data, int64_t count, int root) override;
  void all_gather(const float* send, float* recv, std::span<const int64_t> counts) override;
  void broadcast(void* data, int64_t bytes, int root) override;
  void send(const void* data, int64_t bytes, int to, int tag) override;
  void recv(void* data, int64_t bytes, int from, int tag) override;
  void barrier() override;

 private:
  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
};

}  // namespace slkv
