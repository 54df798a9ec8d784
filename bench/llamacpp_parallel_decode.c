// llama.cpp anchor for the serving benchmark: N sequences decoded in
// parallel (one llama_batch per step holding one token of each sequence),
// as llama.cpp's server batches its slots. Built by
// scripts/bench_llamacpp_parallel.sh against the prebuilt libllama that
// ../shared/anchors/llamacpp-bench installs (node-llama-cpp's CPU build).
//
// usage: llamacpp_parallel_decode MODEL.gguf threads n_seq n_prompt n_gen [unified|split]
// unified (default): one KV cache shared by all sequences (llama-server's
// default); split: each sequence its own n_ctx / n_seq stream, whose
// attention does not scan the other sequences' cells.
// Every sequence gets its own n_prompt pseudo-random tokens (BOS first),
// prefilled together in one batch; then n_gen greedy tokens each.
// Prints one JSON line: prefill seconds, decode tokens/s over all sequences
// (first token excluded), and the end-to-end output tokens/s
// (n_seq * n_gen / (prefill + decode)), which is what `slkv generate
// --prompts-file` reports as batch_output_tokens_per_s.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "llama.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char* text, void* user) {
  (void)user;
  if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static llama_token argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

static void add(struct llama_batch* batch, llama_token token, int pos, int seq, int logits) {
  const int i = batch->n_tokens++;
  batch->token[i] = token;
  batch->pos[i] = pos;
  batch->n_seq_id[i] = 1;
  batch->seq_id[i][0] = seq;
  batch->logits[i] = (int8_t)logits;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s MODEL.gguf threads n_seq n_prompt n_gen\n", argv[0]);
    return 1;
  }
  const int threads = atoi(argv[2]), n_seq = atoi(argv[3]), n_prompt = atoi(argv[4]), n_gen = atoi(argv[5]);
  const int unified = argc < 7 || strcmp(argv[6], "split") != 0;
  if (threads < 1 || n_seq < 1 || n_prompt < 1 || n_gen < 2) {
    fprintf(stderr, "threads, n_seq, n_prompt >= 1 and n_gen >= 2\n");
    return 1;
  }
  llama_log_set(quiet, NULL);
  const char* backends = getenv("GGML_BACKEND_DIR");
  if (backends) ggml_backend_load_all_from_path(backends); else ggml_backend_load_all();
  llama_backend_init();
  struct llama_model_params model_params = llama_model_default_params();
  model_params.n_gpu_layers = 0;
  struct llama_model* model = llama_model_load_from_file(argv[1], model_params);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
  struct llama_context_params params = llama_context_default_params();
  const int total = n_seq * n_prompt;
  params.n_ctx = n_seq * (n_prompt + n_gen + 8);
  params.n_batch = params.n_ubatch = total > 512 ? total : 512;
  params.n_threads = params.n_threads_batch = threads;
  params.n_seq_max = n_seq;
  params.kv_unified = unified;
  struct llama_context* ctx = llama_init_from_model(model, params);
  if (!ctx) { fprintf(stderr, "cannot create the context\n"); return 1; }
  const struct llama_vocab* vocab = llama_model_get_vocab(model);
  const int vocab_size = llama_vocab_n_tokens(vocab);

  struct llama_batch batch = llama_batch_init(total > n_seq ? total : n_seq, 0, 1);
  unsigned state = 12345;
  for (int s = 0; s < n_seq; s++)
    for (int i = 0; i < n_prompt; i++) {
      state = state * 1103515245u + 12345u;
      const llama_token token = i == 0 ? llama_vocab_bos(vocab) : 3 + (int)(state % (unsigned)(vocab_size - 3));
      add(&batch, token, i, s, i == n_prompt - 1);
    }
  const double t0 = now();
  if (llama_decode(ctx, batch)) { fprintf(stderr, "prefill failed\n"); return 1; }
  llama_token* next = malloc(sizeof(llama_token) * n_seq);
  for (int s = 0; s < n_seq; s++) next[s] = argmax(llama_get_logits_ith(ctx, (s + 1) * n_prompt - 1), vocab_size);
  const double t1 = now();
  for (int step = 1; step < n_gen; step++) {
    batch.n_tokens = 0;
    for (int s = 0; s < n_seq; s++) add(&batch, next[s], n_prompt + step - 1, s, 1);
    if (llama_decode(ctx, batch)) { fprintf(stderr, "decode failed at step %d\n", step); return 1; }
    for (int s = 0; s < n_seq; s++) next[s] = argmax(llama_get_logits_ith(ctx, s), vocab_size);
  }
  const double t2 = now();
  printf("{\"kv\":\"%s\",\"n_seq\":%d,\"threads\":%d,\"n_prompt\":%d,\"n_gen\":%d,\"prefill_s\":%.4f,\"decode_tok_s\":%.2f,"
         "\"output_tok_s\":%.2f}\n",
         unified ? "unified" : "split", n_seq, threads, n_prompt, n_gen, t1 - t0, n_seq * (n_gen - 1) / (t2 - t1), n_seq * n_gen / (t2 - t0));
  free(next);
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
