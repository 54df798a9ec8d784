#pragma once
// EngineSequence: the coordinator's state of one sequence: its token
// history (everything fed or to be fed), how much of it the KV cache holds,
// where it is in the schedule, and what a rebuild after preemption needs.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/engine/engine_request.h"
#include "runtime/sampler.h"

namespace slkv {

struct EngineSequence {
  enum class State {
    Waiting,  // queued for admission (new, extended, or preempted)
    Running,  // admitted: gets a chunk in the steps
    Idle,     // finished and kept: holds its KV until extended, forked or released
  };

  SequenceId id = 0;
  EngineRequest request;
  KvPolicyConfig policy;
  Sampler sampler;
  State state = State::Waiting;

  std::vector<int32_t> tokens;  // the history: prompts, generated ids, extensions
  int64_t prompt_tokens = 0;    // the first prompt's length (what the policy observes)
  int64_t computed = 0;         // tokens whose KV the cache holds
  int64_t trim_position = 0;    // retention applies once computed reaches it
  // Ends of the chunks that ran at or after the trim position. A rebuild
  // replays exactly these chunks, so windowed layers see what they saw.
  std::vector<int64_t> boundaries;
  bool in_cache = false;     // the cache and the policy hold it on every rank
  bool preempted = false;    // it was in the cache and must be rebuilt
  int64_t admitted_order = 0;

  // Sessions (kept sequences extended turn by turn):
  int64_t turns = 1;
  bool new_turn = false;  // extended while its KV is cached: the turn starts at its admission
  bool parks = false;     // what its lazy layers drop is parked for the next turn (DroppedKvStore)
  bool lost = false;      // its parked KV was evicted: the next turn re-prefills its history
  int64_t reprefilled_tokens = 0;  // history tokens prefilled again because their KV was gone
  std::chrono::steady_clock::time_point idle_since;  // least recently used sessions are evicted first

  int64_t turn_start = 0;      // index in tokens of this turn's first generated id
  int64_t turn_generated = 0;  // ids generated this turn
  int64_t turn_max_new = 0;

  std::chrono::steady_clock::time_point queued_at, admitted_at, first_token_at;
  bool has_first_token = false;

  EngineSequence(SequenceId id_, EngineRequest request_, KvPolicyConfig policy_)
      : id(id_), request(std::move(request_)), policy(policy_), sampler(request.sampling) {}

  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - computed; }
};

}  // namespace slkv
