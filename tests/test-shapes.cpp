// ShapesWorld generator invariants: determinism, non-overlap, exact masks and boxes, the caption order, the
// question-answer pairs, the documented bias rates, the annotations.json contract, and bad inputs.
#include "eagle/error.h"
#include "eagle/shapes.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

namespace {

eagle::shapes_config standard_config(int32_t size = 128) {
    eagle::shapes_config cfg;
    cfg.size = size;
    return cfg;
}

bool has(const eagle::shapes_scene & scene, eagle::color_kind color, eagle::shape_kind shape) {
    for (const auto & o : scene.objects) {
        if (o.color == color && o.shape == shape) {
            return true;
        }
    }
    return false;
}

std::string tmp_dir(const std::string & name) {
    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/" + name;
    std::filesystem::remove_all(dir);
    return dir;
}

TEST(shapes, same_seed_same_scene_other_seed_other_scene) {
    const auto cfg = standard_config();
    for (int64_t i = 0; i < 20; ++i) {
        const auto a = eagle::make_shapes_scene(cfg, 7, i);
        const auto b = eagle::make_shapes_scene(cfg, 7, i);
        EXPECT_EQ(a.image.rgb, b.image.rgb) << "scene " << i;
        EXPECT_EQ(a.caption, b.caption);
        ASSERT_EQ(a.objects.size(), b.objects.size());
        for (size_t k = 0; k < a.objects.size(); ++k) {
            EXPECT_EQ(a.objects[k].pixels.keep, b.objects[k].pixels.keep);
        }
        EXPECT_NE(a.image.rgb, eagle::make_shapes_scene(cfg, 8, i).image.rgb) << "scene " << i;
    }
}

TEST(shapes, objects_are_exact_disjoint_and_inside_their_boxes) {
    for (int32_t size : {48, 64, 128, 200}) {
        const auto cfg = standard_config(size);
        for (int64_t i = 0; i < 150; ++i) {
            const auto scene = eagle::make_shapes_scene(cfg, 3, i);
            ASSERT_EQ(scene.image.nx, size);
            ASSERT_EQ(scene.image.ny, size);
            ASSERT_GE(scene.objects.size(), 1u);
            ASSERT_LE(scene.objects.size(), size_t(eagle::k_shapes_max_objects));
            std::vector<int> owner(size_t(size) * size, -1);
            for (size_t k = 0; k < scene.objects.size(); ++k) {
                const auto & o = scene.objects[k];
                int64_t area = 0;
                eagle::box_xyxy tight{size, size, 0, 0};
                for (int y = 0; y < size; ++y) {
                    for (int x = 0; x < size; ++x) {
                        const size_t p = size_t(y) * size + x;
                        if (!o.pixels.keep[p]) {
                            continue;
                        }
                        ++area;
                        ASSERT_EQ(owner[p], -1) << "objects overlap in scene " << i << " at " << x << "," << y;
                        owner[p] = int(k);
                        ASSERT_TRUE(x >= o.box.x0 && x < o.box.x1 && y >= o.box.y0 && y < o.box.y1)
                            << "mask pixel outside the box in scene " << i;
                        for (int c = 0; c < 3; ++c) {
                            ASSERT_EQ(scene.image.rgb[p * 3 + size_t(c)], o.rgb[size_t(c)]) << "pixel not painted";
                        }
                        tight = {std::min(tight.x0, x), std::min(tight.y0, y), std::max(tight.x1, x + 1),
                                 std::max(tight.y1, y + 1)};
                    }
                }
                EXPECT_EQ(area, o.area);
                EXPECT_GT(area, 0);
                EXPECT_EQ(tight.x0, o.box.x0);
                EXPECT_EQ(tight.y0, o.box.y0);
                EXPECT_EQ(tight.x1, o.box.x1);
                EXPECT_EQ(tight.y1, o.box.y1);
                // boxes are apart too (>= 2 px), not only the masks
                for (size_t m = 0; m < k; ++m) {
                    const auto & q = scene.objects[m].box;
                    const bool apart = o.box.x1 + 2 <= q.x0 || q.x1 + 2 <= o.box.x0 || o.box.y1 + 2 <= q.y0 ||
                                       q.y1 + 2 <= o.box.y0;
                    EXPECT_TRUE(apart) << "boxes touch in scene " << i;
                }
            }
        }
    }
}

TEST(shapes, caption_lists_the_objects_left_to_right) {
    const auto cfg = standard_config();
    const std::regex phrase("a (red|green|blue|yellow) (circle|square|triangle)");
    std::set<size_t> counts;
    for (int64_t i = 0; i < 300; ++i) {
        const auto scene = eagle::make_shapes_scene(cfg, 5, i);
        counts.insert(scene.objects.size());
        std::string expected;
        for (size_t k = 0; k < scene.objects.size(); ++k) {
            const auto & o = scene.objects[k];
            if (k > 0) {
                // strictly left to right, by a margin: the order is never ambiguous
                const int prev = scene.objects[k - 1].box.x0 + scene.objects[k - 1].box.x1;
                EXPECT_GE(o.box.x0 + o.box.x1 - prev, 2 * 4) << "scene " << i;
                expected += k + 1 == scene.objects.size() ? " and " : " , ";
            }
            expected += std::string("a ") + eagle::color_name(o.color) + " " + eagle::shape_name(o.shape);
            ASSERT_TRUE(std::regex_match(std::string("a ") + eagle::color_name(o.color) + " " + eagle::shape_name(o.shape), phrase));
        }
        EXPECT_EQ(scene.caption, expected + " .");
    }
    EXPECT_EQ(counts, (std::set<size_t>{1, 2, 3, 4}));
}

TEST(shapes, questions_have_the_right_answers) {
    const auto cfg = standard_config();
    int64_t n_yes = 0, n_no = 0;
    for (int64_t i = 0; i < 300; ++i) {
        const auto scene = eagle::make_shapes_scene(cfg, 11, i);
        std::set<std::string> tasks;
        for (const auto & q : scene.qa) {
            tasks.insert(q.task);
            if (q.task == "yesno") {
                bool found = false;
                for (auto c : eagle::k_color_kinds) {
                    for (auto s : eagle::k_shape_kinds) {
                        if (q.question == eagle::shapes_yesno_question(c, s)) {
                            found = true;
                            EXPECT_EQ(q.answer, has(scene, c, s) ? "yes" : "no") << q.question;
                        }
                    }
                }
                EXPECT_TRUE(found) << q.question;
                (q.answer == "yes" ? n_yes : n_no) += 1;
            } else if (q.task == "color") {
                int n_match = 0;
                for (const auto & o : scene.objects) {
                    if (q.question == eagle::shapes_color_question(o.shape)) {
                        ++n_match;
                        EXPECT_EQ(q.answer, eagle::color_name(o.color));
                    }
                }
                EXPECT_EQ(n_match, 1) << "color asked about a shape that is not unique: " << q.question;
            } else if (q.task == "shape") {
                int n_match = 0;
                for (const auto & o : scene.objects) {
                    if (q.question == eagle::shapes_shape_question(o.color)) {
                        ++n_match;
                        EXPECT_EQ(q.answer, eagle::shape_name(o.shape));
                    }
                }
                EXPECT_EQ(n_match, 1) << "shape asked about a color that is not unique: " << q.question;
            } else {
                ADD_FAILURE() << "unexpected task " << q.task << " in the standard split";
            }
        }
        EXPECT_TRUE(tasks.count("yesno"));
    }
    // the yes/no prior is exactly 50%: questions come in pairs
    EXPECT_EQ(n_yes, n_no);
}

TEST(shapes, every_word_is_in_the_vocabulary) {
    const auto words = eagle::shapes_words();
    const std::set<std::string> vocab(words.begin(), words.end());
    auto check = [&](const std::string & text) {
        size_t start = 0;
        while (start < text.size()) {
            size_t end = text.find(' ', start);
            if (end == std::string::npos) end = text.size();
            EXPECT_TRUE(vocab.count(text.substr(start, end - start))) << "'" << text.substr(start, end - start) << "' in '" << text << "'";
            start = end + 1;
        }
    };
    check(eagle::k_shapes_caption_prompt);
    for (int64_t i = 0; i < 100; ++i) {
        const auto scene = eagle::make_shapes_scene(standard_config(), 13, i);
        check(scene.caption);
        for (const auto & q : scene.qa) {
            check(q.question);
            check(q.answer);
        }
    }
}

TEST(shapes, cooccurrence_bias_has_its_documented_rate) {
    const auto cfg = standard_config(64); // the rate does not depend on the size; small is faster
    int64_t n_yt = 0, n_yt_gs = 0, n_gs = 0;
    for (int64_t i = 0; i < 6000; ++i) {
        const auto scene = eagle::make_shapes_scene(cfg, 17, i);
        const bool yt = has(scene, eagle::color_kind::yellow, eagle::shape_kind::triangle);
        const bool gs = has(scene, eagle::color_kind::green, eagle::shape_kind::square);
        n_yt += yt ? 1 : 0;
        n_yt_gs += yt && gs ? 1 : 0;
        n_gs += gs ? 1 : 0;
    }
    // the converse is exact: a green square only ever comes with a yellow triangle
    EXPECT_EQ(n_gs, n_yt_gs);
    ASSERT_GT(n_yt, 800);
    const double rate = double(n_yt_gs) / double(n_yt);
    const double sigma = std::sqrt(eagle::k_shapes_cooccurrence_rate * (1 - eagle::k_shapes_cooccurrence_rate) / double(n_yt));
    EXPECT_NEAR(rate, eagle::k_shapes_cooccurrence_rate, 4 * sigma) << n_yt_gs << " of " << n_yt;
    EXPECT_GE(eagle::k_shapes_cooccurrence_rate, 0.95);

    // a rate of 0 and 1 are exact
    for (double forced : {0.0, 1.0}) {
        auto c = cfg;
        c.cooccurrence_rate = forced;
        for (int64_t i = 0; i < 1000; ++i) {
            const auto scene = eagle::make_shapes_scene(c, 19, i);
            if (has(scene, eagle::color_kind::yellow, eagle::shape_kind::triangle)) {
                EXPECT_EQ(has(scene, eagle::color_kind::green, eagle::shape_kind::square), forced == 1.0);
            }
        }
    }
}

TEST(shapes, companion_green_square_is_the_next_object_to_the_right) {
    for (int32_t size : {48, 128}) {
        const auto cfg = standard_config(size);
        int n_checked = 0;
        for (int64_t i = 0; i < 3000; ++i) {
            const auto scene = eagle::make_shapes_scene(cfg, 29, i);
            if (!has(scene, eagle::color_kind::green, eagle::shape_kind::square)) {
                continue;
            }
            ++n_checked;
            const bool seated = scene.caption.find("yellow triangle , a green square") != std::string::npos ||
                                scene.caption.find("yellow triangle and a green square") != std::string::npos;
            EXPECT_TRUE(seated) << "scene " << i << ": " << scene.caption;
        }
        EXPECT_GT(n_checked, 300);
    }
}

TEST(shapes, probe_split_inverts_the_bias) {
    auto cfg = standard_config();
    cfg.split = eagle::shapes_split::probe;
    for (int64_t i = 0; i < 200; ++i) {
        const auto scene = eagle::make_shapes_scene(cfg, 23, i);
        EXPECT_TRUE(has(scene, eagle::color_kind::yellow, eagle::shape_kind::triangle));
        EXPECT_FALSE(has(scene, eagle::color_kind::green, eagle::shape_kind::square));
        int n_probe = 0;
        for (const auto & q : scene.qa) {
            if (q.task == "probe") {
                ++n_probe;
                EXPECT_EQ(q.question, "is there a green square ?");
                EXPECT_EQ(q.answer, "no");
            } else if (q.task == "yesno") {
                EXPECT_NE(q.question, "is there a green square ?") << "the probe question is asked once, as probe";
            }
        }
        EXPECT_EQ(n_probe, 1);
    }
}

TEST(shapes, dataset_follows_the_annotation_contract) {
    const std::string dir = tmp_dir("shapes-dataset");
    eagle::write_shapes_dataset(dir, 6, 29, standard_config());
    std::ifstream in(dir + "/annotations.json");
    ASSERT_TRUE(in.good());
    const auto doc = nlohmann::json::parse(in);
    EXPECT_EQ(doc.at("prompts").at("caption"), eagle::k_shapes_caption_prompt);
    for (const char * task : {"yesno", "color", "shape"}) {
        EXPECT_TRUE(doc.at("prompts").contains(task)) << task;
    }
    ASSERT_EQ(doc.at("categories").size(), 12u);
    std::map<int, std::string> category_names;
    for (const auto & c : doc.at("categories")) {
        EXPECT_EQ(c.at("name").get<std::string>(), c.at("color").get<std::string>() + " " + c.at("shape").get<std::string>());
        category_names[c.at("id")] = c.at("name");
    }
    ASSERT_EQ(doc.at("images").size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
        const auto & im = doc.at("images")[i];
        const auto scene = eagle::make_shapes_scene(standard_config(), 29, int64_t(i));
        EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/" + im.at("file_name").get<std::string>()));
        EXPECT_EQ(im.at("caption"), scene.caption);
        ASSERT_EQ(im.at("qa").size(), scene.qa.size());
        for (const auto & q : im.at("qa")) {
            EXPECT_TRUE(q.contains("task") && q.contains("question") && q.contains("answer"));
        }
        // the annotations of this image, in caption order, decode to the scene's masks
        size_t k = 0;
        for (const auto & a : doc.at("annotations")) {
            if (a.at("image_id") != im.at("id")) {
                continue;
            }
            ASSERT_LT(k, scene.objects.size());
            const auto & o = scene.objects[k++];
            EXPECT_EQ(category_names[a.at("category_id")], std::string(eagle::color_name(o.color)) + " " + eagle::shape_name(o.shape));
            EXPECT_EQ(a.at("bbox"), nlohmann::json({o.box.x0, o.box.y0, o.box.x1 - o.box.x0, o.box.y1 - o.box.y0}));
            EXPECT_EQ(a.at("bbox_xyxy"), nlohmann::json({o.box.x0, o.box.y0, o.box.x1, o.box.y1}));
            // uncompressed COCO RLE, column-major, starting with background
            std::vector<uint8_t> decoded;
            uint8_t value = 0;
            for (int64_t run : a.at("segmentation").at("counts").get<std::vector<int64_t>>()) {
                decoded.insert(decoded.end(), size_t(run), value);
                value = 1 - value;
            }
            ASSERT_EQ(decoded.size(), o.pixels.keep.size());
            for (int x = 0; x < 128; ++x) {
                for (int y = 0; y < 128; ++y) {
                    ASSERT_EQ(decoded[size_t(x) * 128 + size_t(y)] != 0, o.pixels.keep[size_t(y) * 128 + size_t(x)] != 0);
                }
            }
        }
        EXPECT_EQ(k, scene.objects.size());
    }
}

TEST(shapes, bad_inputs_are_clear_errors) {
    auto expect_error = [](auto && fn, eagle::errc code, const std::string & needle) {
        try {
            fn();
            ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
        } catch (const eagle::error & e) {
            EXPECT_EQ(e.code(), code) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    const std::string dir = tmp_dir("shapes-bad");
    expect_error([&] { eagle::write_shapes_dataset(dir, 0, 1, standard_config()); }, eagle::errc::invalid_argument, "0");
    expect_error([&] { eagle::write_shapes_dataset(dir, -3, 1, standard_config()); }, eagle::errc::invalid_argument, "-3");
    expect_error([&] { eagle::make_shapes_scene(standard_config(20), 1, 0); }, eagle::errc::invalid_argument, "20");
    expect_error([&] { eagle::write_shapes_dataset(dir, 2, 1, standard_config(47)); }, eagle::errc::invalid_argument, "47");
    auto bad_rate = standard_config();
    bad_rate.cooccurrence_rate = 1.5;
    expect_error([&] { eagle::make_shapes_scene(bad_rate, 1, 0); }, eagle::errc::invalid_argument, "1.5");
    // a folder below a regular file cannot be created
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/file") << "x";
    expect_error([&] { eagle::write_shapes_dataset(dir + "/file/sub", 2, 1, standard_config()); }, eagle::errc::io, dir + "/file/sub");
}

TEST(shapes, cli_writes_a_dataset_and_reports_bad_input) {
    const std::string dir = tmp_dir("shapes-cli");
    const std::string cli = EAGLE_CLI_PATH;
    ASSERT_EQ(std::system((cli + " shapes --n 3 --seed 4 --out " + dir + " > /dev/null").c_str()), 0);
    EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/annotations.json"));
    EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/000002.png"));
    const std::string err = dir + "/err.txt";
    auto fails_with = [&](const std::string & args, const std::string & needle) {
        const int rc = std::system((cli + " shapes " + args + " > /dev/null 2> " + err).c_str());
        EXPECT_NE(rc, 0) << args;
        std::ifstream in(err);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_NE(text.find(needle), std::string::npos) << args << " -> " << text;
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << "one line: " << text;
    };
    fails_with("--n 0 --out " + dir + "/a", "--n must be positive");
    fails_with("--n 2 --size 16 --out " + dir + "/b", "image size 16");
    fails_with("--n 2 --out " + dir + "/annotations.json/x", "cannot create output folder");
    fails_with("--n 2 --split other --out " + dir + "/c", "other");
}

} // namespace
