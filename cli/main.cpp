// eagle: the command-line tool. It parses, calls the library, and hands results to a writer; nothing else.
//
// Exit codes: 0 ok, 1 bad usage or value, 2 unreadable/corrupt file or model, 3 backend failure,
// 130 interrupted.
#include "eagle/eagle.h"
#include "options.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace eagle::cli {

using json = nlohmann::ordered_json;

namespace {

log_level g_min_level = log_level::warn;

void log_to_stderr(log_level level, const char * text, void * /*user_data*/) {
    if (level >= g_min_level) {
        std::fputs(text, stderr);
    }
}

int exit_code_for(errc code) {
    switch (code) {
        case errc::invalid_argument: return 1;
        case errc::io:
        case errc::model:            return 2;
        case errc::backend:
        case errc::unsupported:      return 3;
    }
    return 3;
}

json identity(const model_params & params) {
    return {{"eagle", version()},
            {"llama_cpp", llama_cpp_info().version},
            {"model", params.model_path},
            {"mmproj", params.mmproj_path}};
}

int run_generate(const model_options & opts, int32_t max_tokens) {
    const model_params params = resolve_model(opts);
    const image_rgb8 image = load_image(resolve_image(opts));
    vlm_model model(params);
    vlm_session session(model, make_session_params(opts));
    const std::string prompt = opts.prompt.empty() ? EAGLE_DEFAULT_PROMPT : opts.prompt;
    const generation gen = session.generate(image, prompt, opts.use_raw_prompt, max_tokens);
    if (!opts.is_json) {
        std::cout << gen.text << "\n";
        return 0;
    }
    json tokens = json::array();
    for (const generated_token & token : gen.tokens) {
        tokens.push_back({{"id", token.id}, {"piece", token.piece}, {"prob", token.prob}, {"eog", token.is_eog}});
    }
    json out = {{"text", gen.text}, {"tokens", tokens}, {"llama_cpp", llama_cpp_info().version}};
    out["run"] = identity(params);
    out["run"]["image"] = resolve_image(opts);
    out["run"]["prompt"] = prompt;
    out["run"]["raw_prompt"] = opts.use_raw_prompt;
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
}

int run_score(const model_options & opts, const std::string & answer_text, const std::vector<std::string> & mask_paths,
              bool append_eog, const std::string & fill) {
    const model_params params = resolve_model(opts);
    const std::string image_path = resolve_image(opts);
    score_request request;
    request.image = load_image(image_path);
    request.fill  = fill_mode_from_string(fill);
    std::vector<mask> masks = {mask::full(request.image.nx, request.image.ny)};
    for (const std::string & path : mask_paths) {
        masks.push_back(load_mask(path));
        const mask & m = masks.back();
        if (m.nx != request.image.nx || m.ny != request.image.ny) {
            throw error(errc::invalid_argument, "mask '" + path + "' is " + std::to_string(m.nx) + "x" + std::to_string(m.ny) +
                                                    " but image '" + image_path + "' is " + std::to_string(request.image.nx) +
                                                    "x" + std::to_string(request.image.ny));
        }
    }
    vlm_model model(params);
    vlm_session session(model, make_session_params(opts));
    request.prompt = opts.prompt.empty() ? EAGLE_DEFAULT_PROMPT : opts.prompt;
    request.use_raw_prompt = opts.use_raw_prompt;
    request.answer = model.tokenize(answer_text, /*add_bos =*/ false);
    if (append_eog) {
        request.answer.push_back(model.eog_token());
    }
    if (request.answer.empty()) {
        throw error(errc::invalid_argument, "--answer '" + answer_text + "' is empty: nothing to score");
    }
    session.prepare(request);
    std::vector<float> probs(masks.size() * session.n_targets());
    session.score(masks, probs);

    const size_t n_targets = size_t(session.n_targets());
    if (!opts.is_json) {
        std::printf("%-10s", "mask");
        for (int32_t id : request.answer) {
            std::printf(" %10.10s", model.token_piece(id).c_str());
        }
        std::printf("\n");
        for (size_t i = 0; i < masks.size(); ++i) {
            std::printf("%-10.10s", i == 0 ? "(none)" : mask_paths[i - 1].c_str());
            for (size_t t = 0; t < n_targets; ++t) {
                std::printf(" %10.6f", probs[i * n_targets + t]);
            }
            std::printf("\n");
        }
        return 0;
    }
    json tokens = json::array();
    for (int32_t id : request.answer) {
        tokens.push_back({{"id", id}, {"piece", model.token_piece(id)}});
    }
    json scores = json::array();
    for (size_t i = 0; i < masks.size(); ++i) {
        scores.push_back(std::vector<float>(probs.begin() + i * n_targets, probs.begin() + (i + 1) * n_targets));
    }
    const scorer_stats stats = session.stats();
    json out = {{"tokens", tokens}, {"scores", scores}, {"llama_cpp", llama_cpp_info().version}};
    out["run"] = identity(params);
    out["run"]["image"] = image_path;
    out["run"]["prompt"] = request.prompt;
    out["run"]["raw_prompt"] = opts.use_raw_prompt;
    out["run"]["masks"] = mask_paths;
    out["run"]["fill"] = fill;
    out["stats"] = {{"n_evaluations", stats.n_evaluations}, {"n_memo_hits", stats.n_memo_hits},
                    {"n_decode_calls", stats.n_decode_calls}, {"t_encode_us", stats.t_encode_us},
                    {"t_decode_us", stats.t_decode_us}, {"t_score_us", stats.t_score_us}};
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
}

} // namespace

int main(int argc, char ** argv) {
    CLI::App app{"eagle: why did the vision-language model say that? (EAGLE attribution on llama.cpp)"};
    app.require_subcommand(0, 1);
    bool show_version = false, is_quiet = false, is_verbose = false;
    app.add_flag("--version", show_version, "print eagle's and llama.cpp's versions");
    app.add_flag("--quiet,-q", is_quiet, "print errors only")->trigger_on_parse();
    app.add_flag("--verbose,-v", is_verbose, "also print llama.cpp's log")->trigger_on_parse();

    model_options gen_opts;
    int32_t max_tokens = 64;
    CLI::App * gen = app.add_subcommand("generate", "greedy answer of the model for an image and a prompt");
    add_model_options(*gen, gen_opts);
    gen->add_option("--max-tokens,-n", max_tokens, "most tokens to generate")->check(CLI::PositiveNumber);

    model_options score_opts;
    std::string answer_text, fill = "black";
    std::vector<std::string> mask_paths;
    bool append_eog = false;
    CLI::App * score = app.add_subcommand("score", "teacher-forced probability of every answer token, per masked image");
    add_model_options(*score, score_opts);
    score->add_option("--answer,-a", answer_text, "answer text (tokenized without BOS, appended after the prompt)")->required();
    score->add_option("--mask", mask_paths, "PNG of the image's size, nonzero = keep (repeatable)");
    score->add_flag("--eog", append_eog, "append the end-of-generation token to the answer");
    score->add_option("--fill", fill, "what removed pixels become: black, mean or blur")->default_str("black");

    for (CLI::App * sub : {gen, score}) {
        sub->add_flag("--quiet,-q", is_quiet, "print errors only");
        sub->add_flag("--verbose,-v", is_verbose, "also print llama.cpp's log");
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError & e) {
        return app.exit(e);
    }
    g_min_level = is_verbose ? log_level::debug : is_quiet ? log_level::error : log_level::warn;
    set_log_callback(log_to_stderr, nullptr);

    if (show_version) {
        std::printf("eagle %s\nllama.cpp %s (%s)\n", version(), llama_cpp_info().version.c_str(),
                    llama_cpp_info().source.c_str());
        return 0;
    }
    try {
        if (gen->parsed()) {
            return run_generate(gen_opts, max_tokens);
        }
        if (score->parsed()) {
            return run_score(score_opts, answer_text, mask_paths, append_eog, fill);
        }
        std::cout << app.help();
        return 1;
    } catch (const error & e) {
        std::fprintf(stderr, "eagle: error: %s\n", e.what());
        return exit_code_for(e.code());
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "eagle: error: out of memory\n");
        return 3;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "eagle: error: %s\n", e.what());
        return 3;
    }
}

} // namespace eagle::cli

int main(int argc, char ** argv) {
    return eagle::cli::main(argc, argv);
}
