// memo_scorer: repeated masks answered from a memo, the rest scored by the wrapped scorer in one batch.
#include "eagle/memo-scorer.h"

#include "eagle/error.h"
#include "common/timing.h"

#include <algorithm>

namespace eagle {

void memo_scorer::prepare(const score_request & request) {
    memo_.clear(); // first: a failed prepare must not leave the previous request's scores behind
    inner_.prepare(request);
}

int32_t memo_scorer::n_targets() const { return inner_.n_targets(); }

void memo_scorer::score(std::span<const mask> masks, std::span<float> probs) {
    const size_t n_targets = size_t(inner_.n_targets());
    if (probs.size() != masks.size() * n_targets) {
        throw error(errc::invalid_argument, "score: output has " + std::to_string(probs.size()) + " values for " +
                                                std::to_string(masks.size()) + " masks x " + std::to_string(n_targets) + " targets");
    }
    detail::scoped_timer timer(t_score_us_);
    // distinct masks not in the memo, in first-seen order
    std::vector<mask_key> keys(masks.size());
    std::vector<mask> todo;
    std::vector<mask_key> todo_keys;
    std::unordered_map<mask_key, size_t, mask_key_hash> fresh; // key -> index in todo
    for (size_t i = 0; i < masks.size(); ++i) {
        keys[i] = mask_hash(masks[i]);
        if (memo_.count(keys[i]) || fresh.count(keys[i])) {
            ++n_memo_hits_;
            continue;
        }
        fresh.emplace(keys[i], todo.size());
        todo.push_back(masks[i]);
        todo_keys.push_back(keys[i]);
    }
    if (!todo.empty()) {
        std::vector<float> out(todo.size() * n_targets);
        inner_.score(todo, out);
        for (size_t j = 0; j < todo.size(); ++j) {
            memo_.emplace(todo_keys[j], std::vector<float>(out.begin() + j * n_targets, out.begin() + (j + 1) * n_targets));
        }
    }
    for (size_t i = 0; i < masks.size(); ++i) {
        const std::vector<float> & p = memo_.at(keys[i]);
        std::copy(p.begin(), p.end(), probs.begin() + i * n_targets);
    }
}

scorer_stats memo_scorer::stats() const {
    scorer_stats s = inner_.stats();
    s.n_memo_hits += n_memo_hits_;
    s.t_score_us = t_score_us_;
    return s;
}

} // namespace eagle
