// `eagle shapes`: write a ShapesWorld dataset (PNGs + COCO-style annotations.json with captions and
// question-answer pairs). Needs no model.
#include "command.h"

#include "eagle/eagle.h"
#include "eagle/shapes.h"

#include <cstdio>
#include <memory>

namespace eagle::cli {

command add_shapes_command(CLI::App & parent) {
    struct state {
        int64_t n = 0;
        uint64_t seed = 1;
        std::string out_dir;
        int32_t size = 128;
        std::string split = "standard";
    };
    auto st = std::make_shared<state>();
    CLI::App * app = parent.add_subcommand("shapes", "write a ShapesWorld dataset: images with exact ground truth, captions, questions");
    app->add_option("--n", st->n, "number of images")->required();
    app->add_option("--seed", st->seed, "random seed (same seed, same dataset)")->default_str("1");
    app->add_option("--out", st->out_dir, "output folder (created)")->required();
    app->add_option("--size", st->size, "image side in pixels")->default_str("128");
    app->add_option("--split", st->split, "standard (with the co-occurrence bias) or probe (yellow triangle, no green square)")
        ->default_str("standard");
    add_log_flags(*app);

    return {app, [st] {
        // checked here rather than with CLI11 validators so the messages follow eagle's one-line error format
        if (st->n <= 0) {
            throw error(errc::invalid_argument, "--n must be positive, got " + std::to_string(st->n));
        }
        shapes_config config;
        config.size = st->size;
        if (st->split == "standard") {
            config.split = shapes_split::standard;
        } else if (st->split == "probe") {
            config.split = shapes_split::probe;
        } else {
            throw error(errc::invalid_argument, "unknown --split '" + st->split + "' (expected standard or probe)");
        }
        write_shapes_dataset(st->out_dir, st->n, st->seed, config);
        std::printf("wrote %lld images and annotations.json to %s\n", static_cast<long long>(st->n), st->out_dir.c_str());
        return 0;
    }};
}

} // namespace eagle::cli
