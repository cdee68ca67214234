// eagle/scorer-json.h - scorer_stats as JSON, for every output that records what a run cost.
// Pure functions; thread-safe.
#pragma once

#include "eagle/scorer.h"

#include <nlohmann/json.hpp>

namespace eagle {

// Every field: the six engine-neutral ones, then the engine's counters flattened in its order, e.g.
// {"n_evaluations": 64, "n_memo_hits": 2, "n_backend_calls": 9, "t_prepare_us": .., "t_score_us": ..,
//  "t_backend_us": .., "n_decode_calls": 5, "n_encode_calls": 4, "t_encode_us": .., "t_decode_us": .., "n_workers": 1}
// (the llama engine's counters; its t_encode_us / t_decode_us, like t_backend_us, are summed over its workers)
nlohmann::ordered_json to_json(const scorer_stats & stats);

// The fixed subset explanation.json's "run"."scorer" has always had (n_evaluations, n_memo_hits,
// n_decode_calls, n_encode_calls, t_encode_us, t_decode_us), llama.cpp's counters read by name and 0 for an
// engine without them, so the file format does not change with the engine.
nlohmann::ordered_json to_explanation_json(const scorer_stats & stats);

} // namespace eagle
