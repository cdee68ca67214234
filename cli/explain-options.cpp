#include "explain-options.h"

#include "eagle/eagle.h"

#include <cstdio>

namespace eagle::cli {

namespace {

// "a | b | c" from one of the library's name tables
std::string alternatives(const std::vector<std::string> & names) {
    std::string out;
    for (const std::string & n : names) {
        out += (out.empty() ? "" : " | ") + n;
    }
    return out;
}

} // namespace

void add_explain_options(CLI::App & app, explain_options & o) {
    explanation_request & rq = o.request;
    explain_params & p = rq.params;
    app.add_option("--method", rq.method, alternatives(method_names()))->capture_default_str();
    app.add_option("--search", o.search, "EAGLE's search: " + alternatives(search_mode_names()) +
                   " (shortlist, two-sided: within 0.8% of the exact greedy's insertion AUC and 2.3% of its deletion AUC for captions at 14-16% of its "
                   "evaluations, single words up to 1.20x its deletion AUC, on four seeds' held-out scenes; efficient, the reference's variant: within "
                   "0.9% and 1.1% at 35%, words up to 1.33x; lazy and the one-sided shortlist: less faithful; BENCHMARKS.md)")->capture_default_str();
    app.add_option("--seed", p.sampling.seed, "seed of the random, rise and lime baselines")->capture_default_str();
    app.add_option("--samples", p.sampling.n_samples, "masked images sampled by rise and lime")->capture_default_str();
    app.add_option("--segmenter", o.segmenter, "slico | grid | labels (--video: grid 5x5 unless given)")
        ->capture_default_str()->each([&o](const std::string &) { o.is_segmenter_given = true; });
    app.add_option("--divisions,-D", rq.regions.n_divisions, "SLICO division number D (region size floor(sqrt(HW/D)))")->capture_default_str();
    app.add_option("--grid", o.grid, "grid cells COLSxROWS for --segmenter grid")
        ->capture_default_str()->each([&o](const std::string &) { o.is_grid_given = true; });
    app.add_option("--labels", rq.regions.labels_path, "PNG of region ids for --segmenter labels");
    app.add_option("--fill", o.fill, "what removed pixels become: black, mean or blur")->capture_default_str();
    app.add_option("--image-fit", o.fit,
                   "how the masked image is handed to the model: native (the engine's own preprocessing), crop (centred "
                   "square: what LLaVA-1.5's Hugging Face processor shows its model), pad (centred on a square)")
        ->capture_default_str();
    app.add_option("--fit-size", rq.fit_size, "with --image-fit crop: resize the shortest side to this first, as the "
                                              "reference's processor (336 for LLaVA-1.5; 0 = crop at full resolution)")
        ->capture_default_str();
    add_search_options(app, p);
}

void add_search_options(CLI::App & app, explain_params & p) {
    app.add_option("--lambda1", p.lambda1, "weight of insight")->capture_default_str();
    app.add_option("--lambda2", p.lambda2, "weight of necessity")->capture_default_str();
    app.add_option("--search-scope", p.efficient.search_scope, "efficient search: window size")->capture_default_str();
    app.add_option("--pending-samples", p.efficient.pending_samples, "efficient search: removal candidates")->capture_default_str();
    app.add_option("--update-step", p.efficient.update_step, "efficient search: full re-sort period")->capture_default_str();
    app.add_option("--lazy-batch", p.lazy.batch, "lazy search: candidates re-evaluated per round")->capture_default_str();
    app.add_option("--lazy-epsilon", p.lazy.epsilon, "lazy search: accept a fresh gain within epsilon")->capture_default_str();
    app.add_option("--shortlist-top", p.shortlist.n_top,
                   "shortlist search: stale candidates re-evaluated per round, the highest (predicted) gains")
        ->capture_default_str();
    app.add_option("--shortlist-predict-gains", p.shortlist.predict_gains,
                   "shortlist search: rank stale candidates by the gain their last measurement predicts now (each target's "
                   "log-odds moved by what the base's moved since); false: by the last-known gain")->capture_default_str();
    app.add_option("--shortlist-top-last-known", p.shortlist.n_top_last_known,
                   "shortlist search, with --shortlist-predict-gains: also re-evaluate this many of the highest last-known gains")
        ->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--shortlist-rounds", p.shortlist.max_rounds,
                   "shortlist search: rounds per step while a stale gain beats the best fresh one (0 = as lazy)")
        ->capture_default_str();
    app.add_option("--shortlist-neighbours", p.shortlist.use_neighbours,
                   "shortlist search: also re-evaluate the regions touching the last chosen one")->capture_default_str();
    app.add_option("--shortlist-max-neighbours", p.shortlist.max_neighbours,
                   "shortlist search: of the regions touching the last chosen one, re-evaluate at most this many, the "
                   "highest (predicted) gains first (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--shortlist-tolerance", p.shortlist.tolerance,
                   "shortlist search: gains closer than this count as equal (further rounds, neighbours)")->capture_default_str();
    app.add_option("--shortlist-rescreen-loss", p.shortlist.rescreen_loss,
                   "shortlist search: re-evaluate every region when the best fresh gain is below minus this (0 = never)")
        ->capture_default_str();
    app.add_option("--shortlist-rescreen-predicted", p.shortlist.rescreen_predicted,
                   "shortlist search: a re-evaluation of every region on a loss or a stall first scores this many, the highest "
                   "(predicted) gains, and the rest only when none of them ends the loss or stall (0 = all at once)")
        ->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--shortlist-rescreen", p.shortlist.rescreen_every,
                   "shortlist search: re-evaluate every remaining region every k steps (0 = never)")->capture_default_str();
    app.add_option("--shortlist-rescreen-first", p.shortlist.rescreen_first,
                   "shortlist search: the first k steps re-evaluate every remaining region (as exact)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--shortlist-saturation", p.shortlist.saturation,
                   "shortlist search: order the rest by last-known gain once both curves covered this fraction of "
                   "their range (1 = never)")->capture_default_str();
    app.add_option("--shortlist-stall-room", p.shortlist.stall_room,
                   "shortlist search: re-evaluate every region when none on the shortlist gains while F is below F(all regions) by more than this share of its range (0 = off)")
        ->capture_default_str();
    app.add_option("--shortlist-stall-backoff", p.shortlist.stall_backoff,
                   "shortlist search: after k stall re-screens in a row that found no gain, wait 2^(k-1) - 1 steps before the next "
                   "(when the language prior says the targets, --shortlist-prior-margin: re-screens that kept the shortlist's choice)")
        ->capture_default_str();
    app.add_option("--shortlist-one-mask-margin", p.shortlist.one_mask_margin,
                   "shortlist search: score only a candidate's deletion mask while the image so far gives the targets an "
                   "insertion probability within this of 1 (insight cannot gain more), and only its insertion mask while its "
                   "deletion probability is within this of 0; the best candidate's other mask is then scored before it is "
                   "taken (0 = off: both masks)")->capture_default_str();
    app.add_option("--shortlist-back-loss-predicted", p.shortlist.back_loss_predicted,
                   "two-sided shortlist search, with --shortlist-predict-gains: the back side's loss re-screen compares the best "
                   "fresh gain with the best predicted one (false: with the best last-known one)")->capture_default_str();
    app.add_option("--shortlist-back-neighbours", p.shortlist.back_neighbours,
                   "two-sided shortlist search: the back side also re-evaluates the regions touching its last removal")
        ->capture_default_str();
    app.add_option("--shortlist-back-rescreen", p.shortlist.back_rescreen,
                   "two-sided shortlist search: the back side also re-evaluates every region when its best fresh gain is a loss (--shortlist-rescreen-loss)")
        ->capture_default_str();
    app.add_option("--shortlist-prior-margin", p.shortlist.prior_margin,
                   "two-sided shortlist search: when the black image gives the targets within this of the full image's probability "
                   "(the language prior says them), the front alone orders every region (0 = never)")
        ->capture_default_str();
    app.add_option("--shortlist-two-sided", p.shortlist.two_sided,
                   "shortlist search: grow the order from both ends (as the efficient search), each side by the shortlist rule")
        ->capture_default_str();
    app.add_option("--max-regions", p.budget.max_regions, "stop the search after k regions (0 = all; exact, lazy and one-sided shortlist search: --shortlist-two-sided false)")->capture_default_str();
    app.add_option("--stop-fraction", p.budget.stop_fraction,
                   "stop when the insertion score reaches this fraction of the full-image score (0 = never; exact, lazy and one-sided shortlist search)")->capture_default_str();
}

void resolve_explain_options(explain_options & o) {
    explanation_request & rq = o.request;
    rq.params.mode = search_mode_from_string(o.search);
    set_method(rq.params, rq.method);
    if (o.video_path.empty() && o.is_frames_given) {
        throw error(errc::invalid_argument, "--frames " + std::to_string(o.n_frames) + " without --video: it says how many "
                                            "frames to take from the video");
    }
    if (!o.video_path.empty()) {
        // the authors cut every frame of a video into a 5x5 grid; --segmenter and --grid still choose
        if (!o.is_segmenter_given) o.segmenter = "grid";
        if (!o.is_grid_given) o.grid = "5x5";
    }
    rq.regions.kind = region_kind_from_string(o.segmenter);
    parse_grid(o.grid, rq.regions);
    rq.fill = fill_mode_from_string(o.fill);
    rq.fit = fit_mode_from_string(o.fit);
    rq.prompt = o.model.prompt;
    rq.use_raw_prompt = o.model.use_raw_prompt;
    if (!o.answer_ids.empty()) {
        rq.answer_ids = parse_token_ids(o.answer_ids, "--answer-ids");
    }
    if (!o.prompt_ids.empty()) {
        rq.prompt_ids = parse_token_ids(o.prompt_ids, "--prompt-ids");
    }
    // their scripts read every revised answer (eval_hallucination_correction.py slices each one: a null would
    // stop it), so their layout gets the complete walk, as the reference generates it
    rq.revise_all = rq.revise_all || output_layout_from_string(o.layout) == output_layout::reference;
    check_explain_params(rq.params); // the library's rules, before any model or dataset is loaded
}

output_layout output_layout_from_string(const std::string & name) {
    if (name == "eagle") return output_layout::eagle;
    if (name == "reference") return output_layout::reference;
    throw error(errc::invalid_argument, "unknown --layout '" + name + "' (expected eagle or reference)");
}

CLI::Option * add_explain_command_options(CLI::App & app, explain_options & o) {
    explanation_request & rq = o.request;
    add_model_options(app, o.model);
    CLI::Option * answer_opt =
        app.add_option("--answer,-a", rq.answer_text, "answer to explain (default: the model's own greedy answer)");
    app.add_option("--answer-ids", o.answer_ids,
                   "answer as token ids (\"1 2 3\", \"1,2,3\" or \"[1, 2, 3]\"), scored exactly; give the end token yourself");
    app.add_option("--prompt-ids", o.prompt_ids,
                   "the whole prompt as token ids (chat template included) with one run of image placeholder ids where the "
                   "image goes; replaces --prompt");
    app.add_option("--image-token", rq.image_token,
                   "the image placeholder id in --prompt-ids (default: the vocabulary's <image>-like token, else the longest "
                   "run of one id)");
    app.add_option("--max-tokens,-n", rq.max_tokens,
                   "most tokens of the generated answer (>= 1; the reference's 128); a cut answer is warned about")
        ->capture_default_str();
    app.add_flag("!--no-eog", rq.append_eog, "do not count the end-of-generation token as a target");
    app.add_option("--target-word", rq.target_words,
                   "explain this answer word: W = its first occurrence (as the reference), W@k = the k-th, W@all = every "
                   "one (repeatable; default: every token)");
    app.add_option("--target-id", rq.target_token_ids,
                   "score this token id at the targets instead of the answer's own (one for all, or one per target; "
                   "the reference's counter_word_id)");
    app.add_option("--target-index", rq.target_indices, "explain the answer token at this index (repeatable)");
    app.add_option("--target-text", rq.target_text,
                   "explain this token instead of the model's own at the target index (default index 0), e.g. the correct answer");
    app.add_option("--out,-o", o.out_dir, "output folder")->capture_default_str();
    add_explain_options(app, o);
    app.add_option("--layout", o.layout,
                   "eagle: one folder per explanation; reference: --out/json/<name>.json + --out/npy/<name>.npy, the "
                   "authors' layout their evaluation scripts read (put --out below a folder named interpretation_results)")
        ->capture_default_str();
    app.add_option("--dataset", o.dataset_path,
                   "explain every record of a JSON-lines file, or of one of the reference's datasets/*.json (their token "
                   "ids scored exactly), into --out (resumable)");
    app.add_option("--images", o.image_dir, "folder of a reference dataset's images (default: the dataset file's folder)");
    app.add_option("--shard", o.shard,
                   "i/n: explain the records with index % n == i (spread a dataset over machines); auto: i and n from a "
                   "Slurm job array ($SLURM_ARRAY_TASK_ID, _COUNT or _MIN/_MAX); auto/N: i from a Kubernetes Indexed "
                   "Job ($JOB_COMPLETION_INDEX), N its completions (docs/scale-out.md)")
        ->capture_default_str();
    app.add_option("--video", o.video_path,
                   "explain an answer about a video: --frames frames sampled evenly (OpenCV), each an image of the prompt, "
                   "ranked together; regions default to a 5x5 grid per frame, as the authors'");
    app.add_option("--frames", o.n_frames, "with --video: frames sampled (>= 1)")
        ->capture_default_str()->each([&o](const std::string &) { o.is_frames_given = true; });
    app.add_flag("--revise", rq.revise, "regenerate the answer with the top-k regions kept; find the minimal correction region");
    app.add_flag("--revise-all", rq.revise_all,
                 "with --revise: generate every revised answer (k = n..1), as the reference, not only down to the first "
                 "correct one (implied by --layout reference)");
    return answer_opt;
}

} // namespace eagle::cli
