// eagle/correction.h - the hallucination diagnosis: the smallest removal of low-ranked regions after which the
// model answers correctly (the reference's minimal correction region, eval_hallucination_correction.py).
//
// The walk regenerates the answer with the top k regions of a ranking kept, k = n, n-1, ..., 1, and stops at
// the first answer that starts with the correct one. Which step counts, and the removed area, are decided by
// eagle::minimal_correction (eagle/metrics.h) over the answers the walk produced: one rule for the diagnosis
// and for `eagle eval`.
// Thread safety: uses the session it is given (one thread at a time).
#pragma once

#include "eagle/explain.h"
#include "eagle/metrics.h"
#include "eagle/regions.h"
#include "eagle/vlm.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace eagle {

struct hallucination_record {
    std::string correct_answer;                                // what a corrected answer starts with
    std::vector<std::optional<std::string>> revised_answering; // [k-1]: the answer with the top k regions kept
                                                               // (nullopt: not generated, the walk stopped first)
    correction result;                                         // minimal_correction over revised_answering
    std::vector<float> target_probability_curve;               // insertion_word_score[k][0]
};

struct correction_walk_params {
    std::string prompt;
    bool use_raw_prompt = false;
    std::vector<int32_t> prompt_ids;   // as in score_request
    int32_t image_token = -1;
    int32_t max_tokens = 128;
    fill_mode fill = fill_mode::black;
    fit_mode fit = fit_mode::native;
    int32_t fit_size = 0;
    bool walk_all = false;             // generate every revised answer (k = n..1), as the reference does, instead
                                       // of stopping at the first correct one (whose smaller k stay nullopt)
};

// n_done answers generated of at most n_total; return false to stop (the record then holds what was found)
using correction_progress = std::function<bool(int32_t n_done, int32_t n_total)>;

// Walks the ranking of `ex` (ex.order over `regions` of `image`). correct_answer is compared after trimming
// white space. Throws errc::invalid_argument for regions that do not fit the image or the explanation.
hallucination_record find_minimal_correction(vlm_session & session, const image_rgb8 & image, const region_set & regions,
                                             const explanation & ex, const std::string & correct_answer,
                                             const correction_walk_params & params,
                                             const correction_progress & progress = {});

} // namespace eagle
