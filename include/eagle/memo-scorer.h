// eagle/memo-scorer.h - a scorer decorator that answers repeated masks from a memo (faiss IndexIDMap style).
//
//   auto session = model->new_session({.use_memo = false}); // a bare scorer
//   eagle::memo_scorer memo(*session);                      // the same scorer, repeated masks scored once
//   memo.prepare(request); memo.score(masks, probs);
//
// Masks are keyed by mask_hash (eagle/image.h). A mask seen before since the last prepare(), or earlier in
// the same batch, is copied from the memo and counted in stats().n_memo_hits; the distinct new masks go to
// the wrapped scorer in one batch, in first-seen order, so its n_evaluations excludes the memo hits.
// Ownership: memo_scorer borrows the wrapped scorer, which must outlive it; nobody else should call that
// scorer in between (the memo would go stale).
// Thread safety: like every scorer, one thread at a time.
#pragma once

#include "eagle/scorer.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace eagle {

class memo_scorer : public scorer {
public:
    explicit memo_scorer(scorer & inner) : inner_(inner) {}

    void prepare(const score_request & request) override; // clears the memo, then prepares the wrapped scorer
    int32_t n_targets() const override;
    void score(std::span<const mask> masks, std::span<float> probs) override;
    // the wrapped scorer's stats, plus this memo's hits; t_score_us is the wall time of this score()
    scorer_stats stats() const override;

    size_t memo_size() const { return memo_.size(); } // distinct masks remembered

private:
    scorer & inner_;
    std::unordered_map<mask_key, std::vector<float>, mask_key_hash> memo_;
    int64_t n_memo_hits_ = 0;
    int64_t t_score_us_  = 0;
};

} // namespace eagle
