// eagle/record.h - one explanation as one typed record: what was asked, how the model was run, what it
// answered, what the search found, the hallucination diagnosis, counts and timings.
//
// run_explanation() (eagle/run.h) makes it; the report layer writes it (explanation.json, the folder, the HTML
// page) and the metrics read it in memory (to_eval_sample). src/report/explanation-json.cpp is the only file
// that spells its JSON keys.
// Ownership: plain values, copied and moved freely. Thread safety: none needed (no shared state).
#pragma once

#include "eagle/correction.h"
#include "eagle/explain.h"
#include "eagle/image.h"
#include "eagle/metrics.h"
#include "eagle/regions.h"
#include "eagle/scorer.h"
#include "eagle/vlm.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eagle {

// What to explain and how: everything a run needs besides the model and its session.
struct explanation_request {
    std::string image_path;              // recorded in the output; also read when `image` is empty
    image_rgb8 image;                    // the pixels (empty: loaded from image_path)
    std::vector<std::string> more_image_paths; // the prompt's further images, in order after the first (a video's
                                         // frames are images too); one ranking covers the regions of all of them
    std::vector<image_rgb8> more_images; // their pixels (empty: loaded from more_image_paths)
    std::string prompt;
    bool use_raw_prompt = false;         // see score_request::use_raw_prompt
    std::vector<int32_t> prompt_ids;     // non-empty: the prompt as token ids (score_request::prompt_ids), e.g.
                                         // the reference's generated_ids up to the answer; prompt then ignored
    int32_t image_token = -1;            // the image placeholder id in prompt_ids (-1: find_image_span finds it)
    std::string answer_text;             // empty: the model's own greedy answer
    std::vector<int32_t> answer_ids;     // non-empty: the answer as token ids, scored exactly as given
                                         // (answer_text and append_eog then ignored: give the end token yourself)
    int32_t max_tokens = 128;            // most tokens of a generated (or revised) answer (the reference's
                                         // max_new_tokens); a generated answer cut here is logged as a warning
    bool append_eog = true;              // the end-of-generation token is a target (the reference's sentences)
    // targets: default every answer token
    std::vector<std::string> target_words; // target specs (parse_target_word): "W" the first answer token whose
                                           // trimmed text equals W (case-insensitive), "W@k" the k-th, "W@all" every
    std::vector<int32_t> target_indices;   // answer positions
    std::string target_text;               // score this token instead of the answer's own (default position 0)
    std::vector<int32_t> target_token_ids; // the same as token ids: one for every target, or one per target
                                           // (the reference's counter_word_id); not with target_text
    bool revise = false;                 // hallucination diagnosis: walk to the minimal correction region
    bool revise_all = false;             // with revise: generate all n revised answers, as the reference (its
                                         // scripts read every one), not only down to the first correct one
    fill_mode fill = fill_mode::black;
    fit_mode fit = fit_mode::native;     // the shape the masked image is handed to the engine in (fit_image)
    int32_t fit_size = 0;                // with fit_mode::crop: the crop's side after a shortest-side resize
    region_params regions;
    std::string method = "eagle";        // the method's name as given (eagle, insight-only, rise, ...)
    explain_params params;               // the search parameters, the method's name already applied
    nlohmann::ordered_json ground_truth = nlohmann::ordered_json::object(); // a dataset's keys (location,
                                         // segmentation, label, ...), copied into explanation.json for eagle eval
};

// How the model was run, recorded so a run can be repeated.
struct engine_record {
    std::string eagle_version;
    std::string llama_cpp_version;   // the engine's version (server: "llama-server <build>")
    std::string engine;              // model_params::engine: "llama", "server", "openai", "vllm", "sglang", "mock"
    std::vector<std::string> servers;     // server, openai: the server URLs given (normalized); empty otherwise
    std::vector<std::string> rpc_servers; // llama: the ggml RPC servers the model was split over
    std::string model_path;
    std::string mmproj_path;
    int32_t n_threads = 0;
    int32_t n_workers = 1;           // the workers that scored (vlm_model::n_workers)
    int32_t n_seq = 0;
    int32_t n_ctx = 0;
    bool use_flash_attn = false;
    bool use_f32_kv = true;
    bool use_blas = false;       // the engine ran the products through BLAS (model_params::blas resolved)
    std::string chat_template;   // the family prompts were rendered with (eagle/chat-format.h names)
    std::string system_prompt;   // the system turn rendered ("" = none)
    bool is_approximate = false; // the engine only approximates the probabilities (vlm_model::is_approximate)
};

// One --target-word spec: a word and which of its occurrences in the answer ("cat" = the first, "cat@2" the
// second, "cat@all" every one). The reference explains one position, the object word's first token.
struct target_word_spec {
    std::string word;
    int32_t occurrence = 1; // 1-based; 0 = every occurrence
};
// Parses "W", "W@k" (k >= 1) or "W@all"; a trailing "@" with anything else is part of the word only when it is not
// a number (so "a@b" is the word "a@b"). Throws errc::invalid_argument naming the spec for "W@0", "@2" or "".
target_word_spec parse_target_word(const std::string & spec);

struct explanation_record {
    explanation_request request;
    engine_record engine;
    region_set regions;                  // the regions the ranking refers to (several images: join_regions of
                                         // each image's, cut with the same region_params)
    std::vector<sequence_part> prompt_sequence; // what the model is fed before the answer: text ids and the
                                         // image chunk, exactly as scored (vlm_model::prompt_sequence)
    // the answer
    std::string answer_text;             // detokenized, control tokens dropped
    bool is_answer_cut = false;          // a generated answer stopped at max_tokens without its end token
    std::vector<int32_t> answer;         // token ids (the end token included when it is a target)
    std::vector<std::string> words;      // piece of every answer token ("" for the end token)
    std::vector<int32_t> target_indices; // ascending positions in the answer
    std::vector<int32_t> target_ids;     // the token scored at each target
    std::vector<std::string> target_pieces; // piece of each target id ("" for the end token): what is explained
    // the search
    explanation result;
    std::optional<hallucination_record> hallucination;
    scorer_stats scorer;                 // the session's counters after the search (cumulative over the session)
};

} // namespace eagle
