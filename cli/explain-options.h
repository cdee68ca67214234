// The options of `eagle explain`, shared with `eagle bench` (which explains with the same knobs): they parse
// into the library's explanation_request, whose defaults they show.
#pragma once

#include "command.h"
#include "options.h"
#include "shard.h"

#include "eagle/run.h"

#include <string>

namespace eagle::cli {

struct explain_options {
    model_options model;
    explanation_request request;         // the library's defaults; the strings below fill its enums
    std::string search    = search_mode_name(explain_params{}.mode);
    std::string segmenter = region_kind_name(region_params{}.kind);
    std::string grid      = grid_text(region_params{});
    std::string fill      = fill_mode_name(fill_mode::black);
    std::string fit       = fit_mode_name(fit_mode::native);
    std::string out_dir   = "eagle-out";
    std::string layout    = "eagle";       // eagle | reference (the authors' json/ + npy/)
    std::string answer_ids;                // --answer-ids "1 2 3" (also "[1, 2, 3]" or "1,2,3")
    std::string prompt_ids;                // --prompt-ids
    std::string image_dir;                 // --images: where a reference dataset's image names point
    std::string dataset_path;            // --dataset FILE.jsonl
    std::string shard = "0/1";           // i/n: this process explains the records with index % n == i
    std::string video_path;              // --video FILE: its frames are the prompt's images
    int32_t n_frames = 8;                // --frames N: frames sampled from --video, evenly spaced
    bool is_segmenter_given = false;     // --segmenter given (else --video cuts each frame into a grid, as the authors)
    bool is_grid_given = false;          // --grid given (else --video's grid is 5x5, as the authors')
    bool is_frames_given = false;        // --frames given (an error without --video)
};


// every option of `eagle explain` (model, targets, output, dataset, and add_explain_options); returns --answer
CLI::Option * add_explain_command_options(CLI::App & app, explain_options & o);

// the search, region, fill and image-fit options (explain and bench)
void add_explain_options(CLI::App & app, explain_options & o);

// the search knobs alone: lambdas, each search's parameters, the budget (explain and bench)
void add_search_options(CLI::App & app, explain_params & p);

// The option strings into o.request (method, search, segmenter, grid, fill, fit, token ids); throws on unknown
// names and malformed id lists.
void resolve_explain_options(explain_options & o);

enum class output_layout { eagle, reference };
output_layout output_layout_from_string(const std::string & name); // "eagle" | "reference"

// One explanation of `request` written under out_dir: the folder out_dir (eagle; explanation.json last), or
// out_dir/json/<name>.json + out_dir/npy/<name>.npy (reference). Progress bars when show_progress.
explanation_record explain_into(const vlm_model & model, vlm_session & session, const explanation_request & request,
                                const std::string & out_dir, bool show_progress, output_layout layout = output_layout::eagle,
                                const std::string & name = "");

} // namespace eagle::cli
