// scorer_stats: the engine-counter lookup and the JSON form (the one place its keys are spelled).
#include "eagle/scorer-json.h"

namespace eagle {

int64_t scorer_stats::engine_value(std::string_view name) const {
    for (const engine_counter & c : engine) {
        if (c.name == name) {
            return c.value;
        }
    }
    return 0;
}

nlohmann::ordered_json to_json(const scorer_stats & stats) {
    nlohmann::ordered_json j = {{"n_evaluations", stats.n_evaluations},
                                {"n_memo_hits", stats.n_memo_hits},
                                {"n_backend_calls", stats.n_backend_calls},
                                {"t_prepare_us", stats.t_prepare_us},
                                {"t_score_us", stats.t_score_us},
                                {"t_backend_us", stats.t_backend_us}};
    for (const engine_counter & c : stats.engine) {
        j[c.name] = c.value;
    }
    return j;
}

nlohmann::ordered_json to_explanation_json(const scorer_stats & stats) {
    return {{"n_evaluations", stats.n_evaluations},
            {"n_memo_hits", stats.n_memo_hits},
            {"n_decode_calls", stats.engine_value("n_decode_calls")},
            {"n_encode_calls", stats.engine_value("n_encode_calls")},
            {"t_encode_us", stats.engine_value("t_encode_us")},
            {"t_decode_us", stats.engine_value("t_decode_us")}};
}

} // namespace eagle
