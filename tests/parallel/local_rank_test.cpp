// node_placement(): a rank's local rank and the rank count on its node. The
// launchers' environment variables (Open MPI, MPICH/Hydra, Slurm) before MPI
// starts, and under mpirun MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), checked
// by running this test binary itself on 3 ranks: with SLKV_NODE_PLACEMENT_CHILD
// set, it prints each rank's placement as JSON before main() and exits.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "core/error.h"
#include "parallel/mpi_communicator.h"

namespace slkv {
namespace {

// ---- the child: one rank of `mpirun slkv_tests` ----

// SLKV_NODE_PLACEMENT_CHILD=init: MPI started by mpi_initialize() (as the slkv
// binary does); =direct: by a plain MPI_Init, so node_placement() runs the
// collective itself. Each rank then overwrites Open MPI's variables with
// wrong values: what it prints must come from MPI, not from them.
int run_child(const std::string& mode) {
  const char* env_rank = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  const nlohmann::json launcher_rank = env_rank ? nlohmann::json(std::atoi(env_rank)) : nlohmann::json();
  if (mode == "direct")
    MPI_Init(nullptr, nullptr);
  else
    mpi_initialize(nullptr, nullptr);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "7", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "9", 1);
  const NodePlacement placement = node_placement();
  const nlohmann::json line = {{"world_rank", world_rank()},
                               {"local_rank", placement.local_rank},
                               {"local_size", placement.local_size},
                               {"launcher_local_rank", launcher_rank}};
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
  mpi_finalize();
  return 0;
}

// Runs before main(): the child never reaches GoogleTest.
[[maybe_unused]] const bool kChildRan = [] {
  if (const char* mode = std::getenv("SLKV_NODE_PLACEMENT_CHILD")) std::exit(run_child(mode));
  return false;
}();

// ---- the launcher's environment ----

const char* const kVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                                  "MPI_LOCALRANKID",            "MPI_LOCALNRANKS",
                                  "SLURM_LOCALID",              "SLURM_NTASKS_PER_NODE"};

// Clears every launcher variable for the test and puts the old values back after.
class LauncherEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) {
      if (const char* value = std::getenv(name)) saved_[name] = value;
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : kVariables) {
      unsetenv(name);
      if (saved_.count(name)) setenv(name, saved_[name].c_str(), 1);
    }
  }
  static void set(const char* name, const char* value) { setenv(name, value, 1); }

 private:
  std::map<std::string, std::string> saved_;
};

using NodePlacementFromEnvironment = LauncherEnvironment;

TEST_F(NodePlacementFromEnvironment, SingleProcessIsRankZeroOfOne) {
  const NodePlacement placement = node_placement_from_environment();
  EXPECT_EQ(placement.local_rank, 0);
  EXPECT_EQ(placement.local_size, 1);
  if (!mpi_active()) {
    EXPECT_EQ(node_placement().local_rank, 0);
    EXPECT_EQ(node_placement().local_size, 1);
  }
}

TEST_F(NodePlacementFromEnvironment, OpenMpi) {
  set("OMPI_COMM_WORLD_LOCAL_RANK", "2");
  set("OMPI_COMM_WORLD_LOCAL_SIZE", "4");
  set("SLURM_LOCALID", "0");  // Open MPI's mpirun inside a Slurm allocation: mpirun's values count
  const NodePlacement placement = node_placement_from_environment();
  EXPECT_EQ(placement.local_rank, 2);
  EXPECT_EQ(placement.local_size, 4);
  if (!mpi_active()) {
    EXPECT_EQ(node_placement().local_rank, 2) << "before MPI starts, the environment";
  }
}

TEST_F(NodePlacementFromEnvironment, MpichHydra) {
  set("MPI_LOCALRANKID", "1");
  set("MPI_LOCALNRANKS", "3");
  const NodePlacement placement = node_placement_from_environment();
  EXPECT_EQ(placement.local_rank, 1);
  EXPECT_EQ(placement.local_size, 3);
}

TEST_F(NodePlacementFromEnvironment, SlurmWithoutTasksPerNodeCountsAtLeastItself) {
  set("SLURM_LOCALID", "3");
  NodePlacement placement = node_placement_from_environment();
  EXPECT_EQ(placement.local_rank, 3);
  EXPECT_EQ(placement.local_size, 4);
  set("SLURM_NTASKS_PER_NODE", "8");
  placement = node_placement_from_environment();
  EXPECT_EQ(placement.local_rank, 3);
  EXPECT_EQ(placement.local_size, 8);
}

TEST_F(NodePlacementFromEnvironment, RejectsValuesThatAreNotRanks) {
  for (const char* bad : {"x", "1x", "-1", "99999999999"}) {
    set("MPI_LOCALRANKID", bad);
    try {
      node_placement_from_environment();
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), std::string("MPI_LOCALRANKID is not a rank number: '") + bad + "'");
    }
  }
}

// ---- under mpirun ----

struct ChildRun {
  int exit_code = 0;
  std::string output;
};

// This test binary on `np` ranks in child `mode`, killed after 120 s.
ChildRun run_children(int np, const std::string& mode) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = "SLKV_NODE_PLACEMENT_CHILD=" + mode +
                              " timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -np " +
                              std::to_string(np) + " '" + self + "' 2>&1";
  ChildRun result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class NodePlacementUnderMpirun : public ::testing::TestWithParam<const char*> {};

TEST_P(NodePlacementUnderMpirun, ComesFromTheSharedMemoryCommunicator) {
  const int np = 3;
  const ChildRun run = run_children(np, GetParam());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::set<int> world_ranks, local_ranks;
  std::istringstream lines(run.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const nlohmann::json rank = nlohmann::json::parse(line);
    world_ranks.insert(rank["world_rank"].get<int>());
    local_ranks.insert(rank["local_rank"].get<int>());
    // One node: every rank of the job is local, and the launcher agrees.
    EXPECT_EQ(rank["local_size"], np) << line;
    EXPECT_EQ(rank["local_rank"], rank["launcher_local_rank"]) << line;
  }
  EXPECT_EQ(world_ranks, (std::set<int>{0, 1, 2})) << run.output;
  EXPECT_EQ(local_ranks, (std::set<int>{0, 1, 2})) << run.output;
}

INSTANTIATE_TEST_SUITE_P(MpiStartedBy, NodePlacementUnderMpirun, ::testing::Values("init", "direct"));

}  // namespace
}  // namespace slkv
