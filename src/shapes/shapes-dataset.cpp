// write_shapes_dataset: a ShapesWorld folder of PNGs plus a COCO-style annotations.json.
#include "eagle/shapes.h"

#include "eagle/error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace eagle {

namespace {

using json = nlohmann::ordered_json;

// COCO's uncompressed RLE: run lengths over the mask in column-major order, starting with a run of zeros.
json rle_of(const mask & m) {
    json counts = json::array();
    uint8_t current = 0;
    int64_t run = 0;
    for (int32_t x = 0; x < m.nx; ++x) {
        for (int32_t y = 0; y < m.ny; ++y) {
            const uint8_t v = m.keep[size_t(y) * m.nx + x] != 0 ? 1 : 0;
            if (v != current) {
                counts.push_back(run);
                run = 0;
                current = v;
            }
            ++run;
        }
    }
    counts.push_back(run);
    return {{"size", {m.ny, m.nx}}, {"counts", counts}};
}

std::string file_name_for(int64_t index) {
    char name[32];
    std::snprintf(name, sizeof(name), "%06lld.png", static_cast<long long>(index));
    return name;
}

} // namespace

void write_shapes_dataset(const std::string & dir, int64_t n, uint64_t seed, const shapes_config & config) {
    if (n <= 0) {
        throw error(errc::invalid_argument, "shapes: number of images must be positive, got " + std::to_string(n));
    }
    validate_shapes_config(config);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
        throw error(errc::io, "shapes: cannot create output folder '" + dir + "'" + (ec ? ": " + ec.message() : ""));
    }

    json categories = json::array();
    for (color_kind c : k_color_kinds) {
        for (shape_kind s : k_shape_kinds) {
            categories.push_back({{"id", int(c) * int(k_shape_kinds.size()) + int(s) + 1},
                                  {"name", std::string(color_name(c)) + " " + shape_name(s)},
                                  {"shape", shape_name(s)},
                                  {"color", color_name(c)},
                                  {"supercategory", "shape"}});
        }
    }

    json images = json::array();
    json annotations = json::array();
    int64_t annotation_id = 1;
    for (int64_t i = 0; i < n; ++i) {
        const shapes_scene scene = make_shapes_scene(config, seed, i);
        const std::string file_name = file_name_for(i);
        save_png(scene.image, (std::filesystem::path(dir) / file_name).string());
        json qa = json::array();
        for (const shapes_qa & q : scene.qa) {
            qa.push_back({{"task", q.task}, {"question", q.question}, {"answer", q.answer}});
        }
        images.push_back({{"id", i + 1},
                          {"file_name", file_name},
                          {"width", scene.image.nx},
                          {"height", scene.image.ny},
                          {"background", scene.background},
                          {"caption", scene.caption},
                          {"qa", qa}});
        for (const shapes_object & o : scene.objects) {
            const int32_t w = o.box.x1 - o.box.x0;
            const int32_t h = o.box.y1 - o.box.y0;
            annotations.push_back({{"id", annotation_id++},
                                   {"image_id", i + 1},
                                   {"category_id", int(o.color) * int(k_shape_kinds.size()) + int(o.shape) + 1},
                                   {"bbox", {o.box.x0, o.box.y0, w, h}},
                                   {"bbox_xyxy", {o.box.x0, o.box.y0, o.box.x1, o.box.y1}},
                                   {"area", o.area},
                                   {"segmentation", rle_of(o.pixels)},
                                   {"iscrowd", 0},
                                   {"rgb", {o.rgb[0], o.rgb[1], o.rgb[2]}}});
        }
    }

    json doc;
    doc["info"] = {{"description", "ShapesWorld (eagle shapes)"},
                   {"seed", seed},
                   {"n_images", n},
                   {"size", config.size},
                   {"split", config.split == shapes_split::probe ? "probe" : "standard"}};
    doc["prompts"] = {{"caption", k_shapes_caption_prompt},
                      {"yesno", "is there a {color} {shape} ?"},
                      {"color", "what color is the {shape} ?"},
                      {"shape", "what shape is the {color} object ?"},
                      {"probe", shapes_yesno_question(color_kind::green, shape_kind::square)}};
    doc["biases"] = {
        {"cooccurrence", {{"if_present", "yellow triangle"},
                          {"then_present", "green square"},
                          {"rate", config.split == shapes_split::probe ? 0.0 : config.cooccurrence_rate},
                          // P(if_present | then_present): green squares appear only with a yellow triangle
                          {"converse_rate", config.split == shapes_split::probe ? 0.0 : 1.0}}},
        {"yesno_yes_rate", 0.5},
        {"language_prior", "object phrases are 'a <color> <shape>', separators ' , ' then ' and ', captions end with ' .'"}};
    doc["categories"] = categories;
    doc["images"] = images;
    doc["annotations"] = annotations;

    const std::string path = (std::filesystem::path(dir) / "annotations.json").string();
    std::ofstream out(path);
    if (!out) {
        throw error(errc::io, "shapes: cannot write '" + path + "'");
    }
    out << doc.dump(1) << "\n";
    if (!out.flush()) {
        throw error(errc::io, "shapes: cannot write '" + path + "'");
    }
}

} // namespace eagle
