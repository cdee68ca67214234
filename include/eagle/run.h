// eagle/run.h - one explanation end to end, the call every front end makes (the CLI, a binding, a server):
//
//   eagle::explanation_request req;  req.image_path = "cat.png";  req.prompt = "describe the image";
//   eagle::explanation_record rec = eagle::run_explanation(model, session, req);
//   eagle::write_explanation_folder("out/cat", rec);                       // eagle/report.h
//
// It loads the image (unless given), cuts the regions, takes the answer (given, or the model's own greedy
// answer), resolves the targets, runs the search (eagle/explain.h), and with request.revise walks to the
// minimal correction region. It prints nothing and writes nothing.
// Ownership: borrows the model and the session for the call. Thread safety: the session is used by this call
// alone (one thread at a time per session, as eagle/vlm.h says).
#pragma once

#include "eagle/record.h"
#include "eagle/vlm.h"

#include <cstdint>
#include <functional>

namespace eagle {

enum class run_phase {
    search, // n_done of n_total regions ranked
    revise, // n_done of at most n_total revised answers generated (the hallucination walk)
};
using run_progress_callback = std::function<bool(run_phase phase, int32_t n_done, int32_t n_total)>; // false = cancel

// Throws errc::invalid_argument for a request that names no valid target (unknown word, index outside the
// answer, empty answer or target text), errc::io for an unreadable image, and what the session throws.
// Numbers are checked first, before the image is loaded (errc::invalid_argument naming the parameter and the
// value): max_tokens >= 1, regions.n_divisions >= 1, grid cells >= 1, and check_explain_params(params).
explanation_record run_explanation(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                   const run_progress_callback & progress = {});

} // namespace eagle
