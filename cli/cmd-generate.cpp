#include "command.h"
#include "options.h"

#include "eagle/eagle.h"

#include <iostream>
#include <memory>

namespace eagle::cli {

command add_generate_command(CLI::App & parent) {
    struct state {
        model_options opts;
        int32_t max_tokens = 128; // the reference's max_new_tokens
    };
    auto st = std::make_shared<state>();
    CLI::App * app = parent.add_subcommand("generate", "greedy answer of the model for an image and a prompt");
    add_model_options(*app, st->opts);
    app->add_option("--max-tokens,-n", st->max_tokens, "most tokens to generate (>= 1)")->capture_default_str();
    add_log_flags(*app);

    return {app, [st] {
        const model_options & opts = st->opts;
        const model_params params = resolve_model(opts);
        const std::string image_path = resolve_image(opts);
        const image_rgb8 image = load_image(image_path);
        const std::unique_ptr<vlm_model> model = load_vlm(params);
        const std::unique_ptr<vlm_session> session = model->new_session(make_session_params(opts));
        const generation gen = session->generate({image, opts.prompt, opts.use_raw_prompt, st->max_tokens});
        if (!opts.is_json) {
            std::cout << gen.text << "\n";
            return 0;
        }
        json tokens = json::array();
        for (const generated_token & token : gen.tokens) {
            tokens.push_back({{"id", token.id}, {"piece", token.piece}, {"prob", token.prob}, {"eog", token.is_eog}});
        }
        json out = {{"text", gen.text}, {"tokens", tokens}, {"llama_cpp", llama_cpp_info().version}};
        out["run"] = run_identity(opts, params, *model, image_path);
        out["run"]["max_tokens"] = st->max_tokens;
        print_json(out);
        return 0;
    }};
}

} // namespace eagle::cli
