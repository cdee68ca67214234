// !!! Internal header, to be used by the llama.cpp engine (src/backends/llama) only !!!
// Workers: a session that splits each batch of masks over several single-thread llama_vlm_sessions.
//
// On a CPU, one evaluation is a few hundred small graph nodes; a team of ggml threads meets at a barrier after
// each, and OpenBLAS and ggml hand the cores back and forth. Two workers of one thread each, every one with its
// own llama.cpp context and its own libmtmd context (model_params::n_workers), never wait for each other inside
// an evaluation: on 2 cores that scores masks 1.2-1.6x faster than one 2-thread team on models up to the
// 256M class (BENCHMARKS.md); at 3B, where the products are bound by memory, it is 5% slower.
//
// The workers are an OpenMP team. Inside it OpenMP does not nest by default (ggml's own parallel regions get one
// thread) and OpenBLAS built with OpenMP runs single-threaded (it checks omp_in_parallel), so a worker keeps to
// its core; with nesting turned on (OMP_MAX_ACTIVE_LEVELS > 1) or OpenBLAS on its own pthreads it would not. A batch
// of one mask is scored outside the team, by worker 0 on all threads; so is generation.
//
// While a batch is scored each worker thread is bound to a CPU of its own (model_params::pin_workers), where the
// process may use as many CPUs as there are workers, and gets its CPUs back after: the CPU it is on when the batch
// starts (so that several processes keep the spread the kernel gave them), else a free one. ggml's BLAS backend
// starts threads inside every image encode (to convert the patch product's f16 operand) and waits for them;
// unbound, the kernel put them on the other worker's busy core. Bound, they inherit the worker's CPU, where it
// waits for them: on 2 cores the encoder's summed time fell from 1.32 to 1.08 s on the default image
// (BENCHMARKS.md). Any thread started while a worker is bound keeps that CPU, so the window holds only what a
// worker runs: nested OpenMP regions are inactive and OpenBLAS on OpenMP runs single-threaded there; OpenBLAS on
// its own pthreads could grow its pool inside it, so with that BLAS the workers are not bound
// (llama_vlm_model::pins_workers). A one-mask batch and generation, on all threads, are never bound. On Linux 6.2
// and later a thread that was bound once keeps its restored CPU set as a request: a cpuset that grows later is
// not taken up (--no-pin-workers where that matters).
#pragma once

#include "llama-session.h"

#include <memory>
#include <vector>

namespace eagle::llama_backend {

class llama_worker_session final : public vlm_session {
public:
    llama_worker_session(const llama_vlm_model & model, const session_params & params); // model.n_workers() workers
    const session_params & params() const override { return params_; }

    generation generate(const generate_request & request) override; // worker 0, all threads
    void prepare(const score_request & request) override;              // every worker
    int32_t n_targets() const override { return workers_.front()->n_targets(); }
    // masks split in min(n_workers, masks) contiguous parts of near-equal size, one per worker; probs as if one session
    // had scored them (without BLAS the same values to the last bit: a worker is the same computation)
    void score(std::span<const mask> masks, std::span<float> probs) override;
    // counts summed over workers; t_prepare_us and t_score_us are this session's wall time, t_backend_us and
    // the engine's t_encode_us / t_decode_us the workers' summed time (up to n_workers x the wall time);
    // n_bound_batches: batches scored with each worker bound to a CPU of its own (model_params::pin_workers)
    scorer_stats stats() const override;

private:
    const llama_vlm_model & model_;
    session_params params_;
    std::vector<std::unique_ptr<llama_vlm_session>> workers_;
    bool is_prepared_ = false;
    int64_t t_prepare_us_ = 0;
    int64_t t_score_us_ = 0;
    int64_t n_bound_batches_ = 0;
};

} // namespace eagle::llama_backend
