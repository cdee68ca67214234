// llama.cpp engine: workers (see llama-workers.h).
#include "llama-workers.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <optional>

namespace eagle::llama_backend {

using detail::scoped_timer;

namespace {

// The CPUs this thread may run on, in order; empty when the set cannot be read.
std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) {
                cpus.push_back(cpu);
            }
        }
    }
    return cpus;
}

// One CPU per team thread, all different and all in `allowed`: the CPU each thread is on (`current`, where the
// kernel put it: several processes keep their spread), else the first allowed CPU no other thread has.
std::vector<int> assign_cpus(const std::vector<int> & current, const std::vector<int> & allowed) {
    std::vector<int> out(current.size(), -1);
    std::vector<int> taken;
    const auto is_free = [&](int cpu) {
        return std::find(allowed.begin(), allowed.end(), cpu) != allowed.end() && std::find(taken.begin(), taken.end(), cpu) == taken.end();
    };
    for (size_t t = 0; t < current.size(); ++t) {
        if (is_free(current[t])) {
            out[t] = current[t];
            taken.push_back(current[t]);
        }
    }
    for (size_t t = 0; t < current.size(); ++t) {
        for (size_t i = 0; out[t] < 0 && i < allowed.size(); ++i) {
            if (is_free(allowed[i])) {
                out[t] = allowed[i];
                taken.push_back(allowed[i]);
            }
        }
    }
    return out;
}

// Binds the calling thread to one CPU for the scope's life, then gives it back the CPUs it had. Threads it starts
// meanwhile inherit the binding (llama-workers.h says why that matters).
class cpu_binding {
public:
    explicit cpu_binding(int cpu) {
        if (cpu < 0 || pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) != 0) {
            return;
        }
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        is_bound_ = pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
    }
    ~cpu_binding() {
        if (is_bound_) {
            pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
        }
    }
    bool is_bound() const { return is_bound_; }
    cpu_binding(const cpu_binding &) = delete;
    cpu_binding & operator=(const cpu_binding &) = delete;

private:
    cpu_set_t saved_;
    bool is_bound_ = false;
};

} // namespace

llama_worker_session::llama_worker_session(const llama_vlm_model & model, const session_params & params)
    : model_(model), params_(params) {
    // a batch of n_seq masks is split over the workers, so each one's KV cache holds its share of the sequences
    // (at the 256M class that is ~190 MB less per worker than a whole batch's)
    session_params worker_params = params;
    worker_params.n_seq = std::max(1, (params.n_seq + model.n_workers() - 1) / model.n_workers());
    for (int32_t k = 0; k < model.n_workers(); ++k) {
        workers_.push_back(std::make_unique<llama_vlm_session>(model, worker_params, k));
    }
}

generation llama_worker_session::generate(const generate_request & request) {
    workers_.front()->set_n_threads(model_.n_threads());
    return workers_.front()->generate(request);
}

void llama_worker_session::prepare(const score_request & request) {
    scoped_timer timer(t_prepare_us_);
    is_prepared_ = false;
    for (const auto & worker : workers_) {
        worker->prepare(request);
    }
    is_prepared_ = true;
}

void llama_worker_session::score(std::span<const mask> masks, std::span<float> probs) {
    const size_t n_targets = size_t(this->n_targets());
    check_score_args(is_prepared_, masks.size(), probs.size(), n_targets);
    scoped_timer timer(t_score_us_);
    const int32_t n_active = int32_t(std::min(workers_.size(), masks.size()));
    if (n_active <= 1) {
        workers_.front()->set_n_threads(model_.n_threads());
        workers_.front()->score(masks, probs);
        return;
    }
    // worker k takes masks [begin(k), begin(k + 1)): the first n % n_active parts one longer
    const size_t n_each = masks.size() / size_t(n_active), n_longer = masks.size() % size_t(n_active);
    auto begin = [&](int32_t k) { return size_t(k) * n_each + std::min(size_t(k), n_longer); };
    std::vector<std::exception_ptr> errors(static_cast<size_t>(n_active));
    for (int32_t k = 0; k < n_active; ++k) {
        workers_[size_t(k)]->set_n_threads(1);
    }
    // one CPU per worker thread while the batch is scored, where the process may use that many
    const std::vector<int> allowed = model_.pins_workers() ? allowed_cpus() : std::vector<int>{};
    std::vector<int> current(size_t(n_active), -1), assigned;
    std::atomic<int32_t> n_bound{0};
#pragma omp parallel num_threads(n_active)
    {
        // the same for every thread of the team, so all of them meet the barrier below or none does
        const bool binds = omp_get_num_threads() == n_active && size_t(n_active) <= allowed.size();
        std::optional<cpu_binding> binding;
        if (binds) {
            current[size_t(omp_get_thread_num())] = sched_getcpu();
#pragma omp barrier
#pragma omp single
            assigned = assign_cpus(current, allowed); // the single's end is a barrier: every thread sees it
            binding.emplace(assigned[size_t(omp_get_thread_num())]);
            n_bound += binding->is_bound() ? 1 : 0;
        }
        // OpenMP may give fewer threads than asked (inside a caller's own parallel region: one); then a thread
        // takes several parts
        for (int32_t k = omp_get_thread_num(); k < n_active; k += omp_get_num_threads()) {
            try {
                const size_t i0 = begin(k), n = begin(k + 1) - i0;
                workers_[size_t(k)]->score(masks.subspan(i0, n), probs.subspan(i0 * n_targets, n * n_targets));
            } catch (...) {
                errors[size_t(k)] = std::current_exception(); // an exception must not leave the parallel region
            }
        }
    }
    n_bound_batches_ += n_bound == n_active ? 1 : 0;
    for (const std::exception_ptr & e : errors) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
}

scorer_stats llama_worker_session::stats() const {
    llama_counters sum;
    for (const auto & worker : workers_) {
        const llama_counters & c = worker->counters();
        sum.n_evaluations += c.n_evaluations;
        sum.n_decode_calls += c.n_decode_calls;
        sum.n_encode_calls += c.n_encode_calls;
        sum.t_encode_us += c.t_encode_us;
        sum.t_decode_us += c.t_decode_us;
    }
    sum.t_prepare_us = t_prepare_us_; // wall time, not the workers' sum
    sum.t_score_us   = t_score_us_;
    scorer_stats stats = to_scorer_stats(sum, int32_t(workers_.size()));
    stats.engine.push_back({"n_bound_batches", n_bound_batches_});
    return stats;
}

} // namespace eagle::llama_backend
