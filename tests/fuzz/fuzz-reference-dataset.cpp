// Any bytes as one of the reference's evaluation lists (`eagle explain --dataset their.json`: a JSON array of
// records with generated_ids). Each record either gives a request whose token ids and targets agree (prompt and
// answer both present, every target a position in the answer with one id each) and whose output name is one safe
// file name, or throws eagle::error, as the CLI expects.
#include "fuzz-common.h"

#include "dataset-record.h"
#include "eagle/dataset.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    nlohmann::json file;
    try {
        file = nlohmann::json::parse(data, data + size);
    } catch (const nlohmann::json::exception &) {
        return 0; // the CLI turns a parse error into its own one-line error before any record is read
    }
    if (!eagle::is_reference_dataset(file)) {
        return 0;
    }
    eagle::explanation_request base;
    for (const nlohmann::json & record : file) {
        try {
            const eagle::dataset_job job = eagle::reference_dataset_job(record, base, "/data/images");
            const eagle::explanation_request & rq = job.request;
            const size_t n_answer = rq.answer_ids.size();
            if (rq.prompt_ids.empty() || n_answer == 0 || rq.target_indices.empty() ||
                rq.target_indices.size() != rq.target_token_ids.size()) {
                __builtin_trap();
            }
            for (int32_t t : rq.target_indices) {
                if (t < 0 || size_t(t) >= n_answer) __builtin_trap();
            }
            const std::string name = eagle::cli::safe_name(job.name);
            if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
                name.find('\0') != std::string::npos) {
                __builtin_trap();
            }
        } catch (const eagle::error &) {
        }
    }
    return 0;
}
