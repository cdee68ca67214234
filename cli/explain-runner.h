// The explain runner, shared by `eagle explain` (one image or a dataset) and `eagle bench`.
#pragma once

#include "command.h"
#include "options.h"

#include "eagle/explain.h"
#include "eagle/metrics.h"

#include <string>
#include <vector>

namespace eagle::cli {

struct explain_options {
    model_options model;
    std::string answer_text;             // empty: the model's own greedy answer
    int32_t max_tokens = 64;
    bool append_eog = true;              // the reference's sentence-level targets include the end token
    std::vector<std::string> target_words;
    std::vector<int32_t> target_indices;
    std::string target_text;             // explain a token the model did not produce
    std::string out_dir = "eagle-out";
    std::string search = "lazy";
    std::string method = "eagle";
    std::string segmenter = "slico";
    int32_t n_divisions = 64;
    std::string grid = "8x8";
    std::string labels_path;
    std::string fill = "black";
    explain_params params;
    bool revise = false;
    std::string dataset_path;            // --dataset FILE.jsonl
    std::string shard = "0/1";           // i/n: this process explains the records with index % n == i
};

// One thing to explain: from the command line, or one record of a dataset.
struct sample {
    std::string name;                    // folder name inside a dataset run
    std::string image_path;
    std::string prompt;
    std::string answer_text;
    std::vector<std::string> target_words;
    std::vector<int32_t> target_indices;
    std::string target_text;
    bool revise = false;
    json ground_truth = json::object();  // copied into explanation.json
    std::string out_dir;
};

// Fills params.method / params.mode / lambdas from the option strings (throws on unknown names).
void resolve_method(explain_options & o);

// One explanation into smp.out_dir; explanation.json is written last (atomically), so its presence means done.
void explain_sample(const explain_options & o, const sample & smp, const model_params & mparams, const vlm_model & model,
                    vlm_session & session, bool show_progress, bool show_summary);

// A dataset run (see cmd-explain.cpp); returns the exit code (1 if some record failed).
int run_dataset(const explain_options & o, const model_params & mparams);

// The summary `eagle eval --json` prints, over explanation folders (or folders of them); errors are fatal.
eval_summary evaluate_explanation_dirs(const std::vector<std::string> & dirs);

} // namespace eagle::cli
