#include "command.h"
#include "options.h"

#include "eagle/eagle.h"
#include "eagle/scorer-json.h"

#include <cstdio>
#include <memory>

namespace eagle::cli {

command add_score_command(CLI::App & parent) {
    struct state {
        model_options opts;
        std::string answer_text;
        std::string answer_ids, prompt_ids;
        int32_t image_token = -1;
        std::string fit = "native";
        int32_t fit_size = 0;
        std::vector<std::string> mask_paths;
        bool append_eog = false;
        std::string fill = "black";
    };
    auto st = std::make_shared<state>();
    CLI::App * app = parent.add_subcommand("score", "teacher-forced probability of every answer token, per masked image");
    add_model_options(*app, st->opts);
    CLI::Option * answer = app->add_option("--answer,-a", st->answer_text, "answer text (tokenized without BOS, appended after the prompt)");
    CLI::Option * answer_ids = app->add_option("--answer-ids", st->answer_ids, "the answer as token ids (\"1 2 3\"), scored exactly");
    answer->excludes(answer_ids);
    app->add_option("--prompt-ids", st->prompt_ids,
                    "the whole prompt as token ids with one run of image placeholder ids where the image goes; replaces --prompt");
    app->add_option("--image-token", st->image_token, "the image placeholder id in --prompt-ids (default: found)");
    app->add_option("--image-fit", st->fit, "native | crop | pad: how the masked image is handed to the model")->capture_default_str();
    app->add_option("--fit-size", st->fit_size, "with --image-fit crop: the shortest side's size first (0 = none)")->capture_default_str();
    app->add_option("--mask", st->mask_paths, "PNG of the image's size, nonzero = keep (repeatable)");
    app->add_flag("--eog", st->append_eog, "append the end-of-generation token to the answer");
    app->add_option("--fill", st->fill, "what removed pixels become: black, mean or blur")->default_str("black");
    add_log_flags(*app);

    return {app, [st] {
        const model_options & opts = st->opts;
        const model_params params = resolve_model(opts);
        const std::string image_path = resolve_image(opts);
        score_request request;
        request.image = load_image(image_path);
        request.fill  = fill_mode_from_string(st->fill);
        request.prompt = opts.prompt;
        request.use_raw_prompt = opts.use_raw_prompt;
        request.fit = fit_mode_from_string(st->fit);
        request.fit_size = st->fit_size;
        if (!st->prompt_ids.empty()) {
            request.prompt_ids = parse_token_ids(st->prompt_ids, "--prompt-ids");
            request.image_token = st->image_token;
        }
        if (st->answer_text.empty() && st->answer_ids.empty()) {
            throw error(errc::invalid_argument, "the answer is empty: give --answer or --answer-ids");
        }
        std::vector<mask> masks = {mask::full(request.image.nx, request.image.ny)};
        for (const std::string & path : st->mask_paths) {
            masks.push_back(load_mask(path));
            const mask & m = masks.back();
            if (m.nx != request.image.nx || m.ny != request.image.ny) {
                throw error(errc::invalid_argument, "mask '" + path + "' is " + std::to_string(m.nx) + "x" + std::to_string(m.ny) +
                                                        " but image '" + image_path + "' is " + std::to_string(request.image.nx) +
                                                        "x" + std::to_string(request.image.ny));
            }
        }
        const std::unique_ptr<vlm_model> model = load_vlm(params);
        const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(opts));
        request.answer = st->answer_ids.empty() ? model->tokenize(st->answer_text, /*add_bos =*/ false)
                                                : parse_token_ids(st->answer_ids, "--answer-ids");
        if (st->append_eog) {
            request.answer.push_back(model->eog_token());
        }
        if (request.answer.empty()) {
            throw error(errc::invalid_argument, "--answer '" + st->answer_text + "' is empty: nothing to score");
        }
        session->prepare(request);
        std::vector<float> probs(masks.size() * session->n_targets());
        session->score(masks, probs);

        const size_t n_targets = size_t(session->n_targets());
        if (!opts.is_json) {
            std::printf("%-12s", "mask");
            for (int32_t id : request.answer) {
                std::printf(" %10.10s", model->token_piece(id).c_str());
            }
            std::printf("\n");
            for (size_t i = 0; i < masks.size(); ++i) {
                std::printf("%-12.12s", i == 0 ? "(none)" : st->mask_paths[i - 1].c_str());
                for (size_t t = 0; t < n_targets; ++t) {
                    std::printf(" %10.6f", probs[i * n_targets + t]);
                }
                std::printf("\n");
            }
            return 0;
        }
        json tokens = json::array();
        for (int32_t id : request.answer) {
            tokens.push_back({{"id", id}, {"piece", model->token_piece(id)}});
        }
        json scores = json::array();
        for (size_t i = 0; i < masks.size(); ++i) {
            scores.push_back(std::vector<float>(probs.begin() + i * n_targets, probs.begin() + (i + 1) * n_targets));
        }
        json out = {{"tokens", tokens}, {"scores", scores}, {"llama_cpp", llama_cpp_info().version}};
        out["run"] = run_identity(opts, params, *model, image_path);
        out["run"]["answer"] = st->answer_text;
        out["run"]["answer_ids"] = request.answer;
        out["run"]["prompt_ids"] = request.prompt_ids;
        out["run"]["image_fit"] = st->fit;
        out["run"]["fit_size"] = st->fit_size;
        out["run"]["masks"] = st->mask_paths;
        out["run"]["fill"] = st->fill;
        out["run"]["eog"] = st->append_eog;
        out["stats"] = to_json(session->stats());
        print_json(out);
        return 0;
    }};
}

} // namespace eagle::cli
