// Several images in one prompt (issue 12 §5) on the default model (the embedded ShapesWorld GGUF pair): the
// batched scorer equals llama.cpp's own single-sequence path on a two-image prompt, one ranking covers the
// regions of exactly the prompt's images, each image's map holds only its own regions, and the written folder and
// report show every image.
#include "base64-decode.h"
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/shapes.h"

#include <gtest/gtest.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace {

const std::string k_model  = std::string(EAGLE_TEST_MODELS_DIR) + "/shapesworld-model.gguf";
const std::string k_mmproj = std::string(EAGLE_TEST_MODELS_DIR) + "/shapesworld-mmproj.gguf";
// raw, so the oracle below feeds the very text eagle feeds (libmtmd's marker where each <image> is)
const std::string k_raw_prompt = "<image>\n<image>\ndescribe the first image";

// a w x h crop of an image (the second image gets another size, so a mixed-up split would show)
eagle::image_rgb8 crop(const eagle::image_rgb8 & image, int32_t w, int32_t h) {
    eagle::image_rgb8 out{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
    for (int32_t y = 0; y < h; ++y) {
        std::copy_n(image.rgb.begin() + (size_t(y) * image.nx) * 3, size_t(w) * 3, out.rgb.begin() + size_t(y) * w * 3);
    }
    return out;
}

class multi_image : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        eagle::model_params params;
        params.model_path  = k_model;
        params.mmproj_path = k_mmproj;
        params.blas = "off"; // compared with llama.cpp's single-sequence path: ggml's own kernels on both sides
        model_ = eagle::load_vlm(params);
        first_  = eagle::make_shapes_scene({}, 424242, 1).image;
        second_ = crop(eagle::make_shapes_scene({}, 424242, 2).image, 96, 64);
    }
    static void TearDownTestSuite() { model_.reset(); }

    static eagle::score_request two_image_request(const std::vector<int32_t> & answer) {
        eagle::score_request req;
        req.image = first_;
        req.more_images = {second_};
        req.prompt = k_raw_prompt;
        req.use_raw_prompt = true;
        req.answer = answer;
        return req;
    }

    static eagle::region_set joined_grid(int32_t cells) {
        return eagle::join_regions({eagle::make_grid_regions(first_.nx, first_.ny, cells, cells),
                                    eagle::make_grid_regions(second_.nx, second_.ny, cells, cells)});
    }

    static inline std::unique_ptr<eagle::vlm_model> model_;
    static inline eagle::image_rgb8 first_, second_;
};

// llama.cpp's own path, one sequence at a time: a fresh context, libmtmd's tokenizer on the two (already masked)
// images, mtmd_helper_eval_chunks, then the answer by llama_decode; softmax of the logits before each answer token.
std::vector<float> oracle_probs(const std::vector<eagle::image_rgb8> & images, const std::vector<int32_t> & answer) {
    llama_model_params mp = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(k_model.c_str(), mp);
    mtmd_context_params cp = mtmd_context_params_default();
    cp.use_gpu = false;
    cp.print_timings = false;
    cp.warmup = false;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    mtmd_context * mctx = mtmd_init_from_file(k_mmproj.c_str(), model, cp);
    llama_context_params ctxp = llama_context_default_params();
    ctxp.n_ctx = 4096;
    ctxp.n_batch = 4096;
    ctxp.n_ubatch = 4096;
    ctxp.type_k = GGML_TYPE_F32;
    ctxp.type_v = GGML_TYPE_F32;
    ctxp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, ctxp);

    std::string text = k_raw_prompt;
    for (size_t at = text.find("<image>"); at != std::string::npos; at = text.find("<image>", at + 1)) {
        text.replace(at, 7, mtmd_default_marker());
    }
    std::vector<mtmd::bitmap> bitmaps;
    std::vector<const mtmd_bitmap *> ptrs;
    for (const eagle::image_rgb8 & image : images) {
        bitmaps.emplace_back(uint32_t(image.nx), uint32_t(image.ny), image.rgb.data());
        ptrs.push_back(bitmaps.back().ptr.get());
    }
    mtmd::input_chunks chunks(mtmd_input_chunks_init());
    mtmd_input_text input{text.c_str(), text.size(), true, true};
    EXPECT_EQ(mtmd_tokenize(mctx, chunks.ptr.get(), &input, ptrs.data(), ptrs.size()), 0);
    llama_pos n_past = 0;
    EXPECT_EQ(mtmd_helper_eval_chunks(mctx, ctx, chunks.ptr.get(), 0, 0, 4096, true, &n_past), 0);
    const int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    auto softmax_at = [&](const float * logits, int32_t id) {
        const float top = *std::max_element(logits, logits + n_vocab);
        double sum = 0;
        for (int32_t v = 0; v < n_vocab; ++v) {
            sum += std::exp(double(logits[v]) - top);
        }
        return float(std::exp(double(logits[id]) - top) / sum);
    };
    // the prompt's last logits predict answer[0]; answer[t] is predicted at answer[t-1]
    std::vector<float> probs{softmax_at(llama_get_logits_ith(ctx, -1), answer[0])};
    const int32_t n_fed = int32_t(answer.size()) - 1;
    llama_batch batch = llama_batch_init(std::max(n_fed, 1), 0, 1);
    for (int32_t i = 0; i < n_fed; ++i) {
        batch.token[i] = answer[size_t(i)];
        batch.pos[i] = n_past + i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n_fed;
    if (n_fed > 0) {
        EXPECT_EQ(llama_decode(ctx, batch), 0);
    }
    for (int32_t i = 0; i < n_fed; ++i) {
        probs.push_back(softmax_at(llama_get_logits_ith(ctx, i), answer[size_t(i) + 1]));
    }
    llama_batch_free(batch);
    llama_free(ctx);
    mtmd_free(mctx);
    llama_model_free(model);
    return probs;
}

TEST_F(multi_image, two_image_scores_equal_llama_cpp_single_sequence_path) {
    const auto session_ptr = model_->new_session({});
    eagle::generate_request asked{first_, k_raw_prompt, true, 12};
    asked.more_images = {second_};
    const eagle::generation gen = session_ptr->generate(asked);
    std::vector<int32_t> answer;
    for (const eagle::generated_token & t : gen.tokens) {
        answer.push_back(t.id);
    }
    ASSERT_GE(answer.size(), 3u) << gen.text;

    const eagle::score_request req = two_image_request(answer);
    // masks over both images: everything, nothing, and region subsets that differ between the two images
    const eagle::region_set regions = joined_grid(3);
    std::vector<eagle::mask> masks;
    for (int32_t pattern : {0x3ffff, 0x0, 0x1ff, 0x3fe00, 0x15555, 0x2aaaa, 0x00f0f}) {
        std::vector<uint8_t> selected(size_t(regions.n_regions));
        for (int32_t r = 0; r < regions.n_regions; ++r) {
            selected[size_t(r)] = (pattern >> r) & 1;
        }
        masks.push_back(eagle::region_mask(regions, selected));
    }
    eagle::session_params batched;
    batched.n_seq = 3; // 7 masks: groups of 3, 3, 1
    batched.use_memo = false;
    const auto session = model_->new_session(batched);
    session->prepare(req);
    std::vector<float> probs(masks.size() * size_t(session->n_targets()));
    session->score(masks, probs);

    const eagle::image_rgb8 black0 = eagle::make_fill_image(first_, eagle::fill_mode::black);
    const eagle::image_rgb8 black1 = eagle::make_fill_image(second_, eagle::fill_mode::black);
    for (size_t i = 0; i < masks.size(); ++i) {
        std::vector<eagle::image_rgb8> masked(2);
        eagle::apply_mask(first_, black0, {first_.nx, first_.ny, eagle::image_pixels(masks[i].keep, regions, 0)}, masked[0]);
        eagle::apply_mask(second_, black1, {second_.nx, second_.ny, eagle::image_pixels(masks[i].keep, regions, 1)}, masked[1]);
        const std::vector<float> expected = oracle_probs(masked, answer);
        ASSERT_EQ(expected.size(), size_t(session->n_targets()));
        for (size_t t = 0; t < expected.size(); ++t) {
            EXPECT_NEAR(probs[i * expected.size() + t], expected[t], 1e-5f) << "mask " << i << " target " << t;
        }
    }
    // the two images both count: hiding either one moves the scores
    const size_t n_t = answer.size();
    EXPECT_GT(std::abs(probs[2 * n_t] - probs[0]) + std::abs(probs[3 * n_t] - probs[0]), 1e-4f);
}

TEST_F(multi_image, one_ranking_covers_exactly_the_prompts_images) {
    const auto session = model_->new_session({});
    const std::vector<int32_t> answer = model_->tokenize(" a red circle", false);
    const eagle::score_request req = two_image_request(answer);
    const eagle::region_set regions = joined_grid(2);
    ASSERT_EQ(eagle::n_images(regions), 2u);
    const eagle::explanation ex = eagle::explain(*session, req, regions, {});
    std::vector<int32_t> sorted = ex.order;
    std::sort(sorted.begin(), sorted.end());
    for (int32_t r = 0; r < regions.n_regions; ++r) {
        EXPECT_EQ(sorted[size_t(r)], r); // every region of both images ranked once
    }
    for (int32_t r : ex.order) {
        EXPECT_LT(eagle::image_of_region(regions, r), 2);
    }
    // regions of an image the prompt does not hold cannot enter the search
    eagle::region_set three = eagle::join_regions({eagle::make_grid_regions(first_.nx, first_.ny, 2, 2),
                                                   eagle::make_grid_regions(second_.nx, second_.ny, 2, 2),
                                                   eagle::make_grid_regions(8, 8, 2, 2)});
    try {
        eagle::explain(*session, req, three, {});
        FAIL() << "regions of three images explained a two-image prompt";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("regions cover 3 images but the prompt has 2"), std::string::npos) << e.what();
    }
    // nor regions cut for another image size
    const eagle::region_set swapped = eagle::join_regions({eagle::make_grid_regions(second_.nx, second_.ny, 2, 2),
                                                           eagle::make_grid_regions(first_.nx, first_.ny, 2, 2)});
    EXPECT_THROW(eagle::explain(*session, req, swapped, {}), eagle::error);
}

TEST_F(multi_image, placeholders_must_match_the_images_and_the_context_bounds_their_number) {
    const auto session = model_->new_session({});
    eagle::score_request req = two_image_request(model_->tokenize(" a red circle", false));
    req.prompt = "<image> describe it";
    try {
        session->prepare(req);
        FAIL() << "one placeholder for two images was accepted";
    } catch (const eagle::error & e) {
        EXPECT_NE(std::string(e.what()).find("1 <image> placeholders for 2 images"), std::string::npos) << e.what();
    }
    // images until the model's context is full: one clear error naming the count and the context
    req.use_raw_prompt = false;
    req.prompt = "describe the images";
    std::string message;
    for (int32_t n = 2; n <= 256 && message.empty(); ++n) {
        req.more_images.assign(size_t(n - 1), second_);
        try {
            session->prepare(req);
        } catch (const eagle::error & e) {
            message = e.what();
            EXPECT_NE(message.find(std::to_string(n) + " images"), std::string::npos) << message;
        }
    }
    EXPECT_NE(message.find("more than the model's context of " + std::to_string(model_->n_ctx_train())), std::string::npos)
        << message;
}

using eagle_test::base64_decode;

std::string read_bytes(const std::string & path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST_F(multi_image, folder_and_report_show_every_image_with_its_own_regions) {
    const auto session = model_->new_session({});
    eagle::explanation_request rq;
    rq.image = first_;
    rq.image_path = "first.png";
    rq.more_images = {second_};
    rq.more_image_paths = {"second.png"};
    rq.prompt = "describe the images";
    rq.answer_text = "a red circle";
    rq.regions.kind = eagle::region_kind::grid;
    rq.regions.n_cols = rq.regions.n_rows = 2;
    const eagle::explanation_record rec = eagle::run_explanation(*model_, *session, rq);
    ASSERT_EQ(rec.regions.n_regions, 8);

    // each image's map holds exactly the values of its own regions
    const std::vector<float> map = eagle::attribution_map(rec.result, rec.regions);
    for (size_t k = 0; k < 2; ++k) {
        const eagle::region_part & part = rec.regions.parts[k];
        const std::vector<int32_t> labels = eagle::image_pixels(rec.regions.labels, rec.regions, k);
        const std::vector<float> values = eagle::image_pixels(map, rec.regions, k);
        ASSERT_EQ(labels.size(), size_t(part.nx) * part.ny);
        for (size_t i = 0; i < labels.size(); ++i) {
            ASSERT_GE(labels[i], part.first_region);
            ASSERT_LT(labels[i], part.first_region + part.n_regions);
            ASSERT_EQ(values[i], rec.result.region_value[size_t(labels[i])]);
        }
    }

    const std::string dir = std::string(EAGLE_TEST_TMP_DIR) + "/multi-image-folder";
    std::filesystem::remove_all(dir);
    eagle::write_explanation_folder(dir, rec);
    for (size_t k = 0; k < 2; ++k) {
        const std::string suffix = k == 0 ? "" : "-" + std::to_string(k);
        const eagle::region_part & part = rec.regions.parts[k];
        // labels: 16-bit global ids, only the image's own
        const cv::Mat labels = cv::imread(dir + "/labels" + suffix + ".png", cv::IMREAD_UNCHANGED);
        ASSERT_EQ(labels.cols, part.nx);
        ASSERT_EQ(labels.rows, part.ny);
        std::set<int32_t> ids;
        for (int y = 0; y < labels.rows; ++y) {
            for (int x = 0; x < labels.cols; ++x) {
                ids.insert(labels.at<uint16_t>(y, x));
            }
        }
        EXPECT_EQ(int32_t(ids.size()), part.n_regions);
        EXPECT_EQ(*ids.begin(), part.first_region);
        EXPECT_EQ(*ids.rbegin(), part.first_region + part.n_regions - 1);
        // the overlay has the image's size
        const eagle::image_rgb8 overlay = eagle::load_image(dir + "/attribution" + suffix + ".png");
        EXPECT_EQ(overlay.nx, part.nx);
        EXPECT_EQ(overlay.ny, part.ny);
        EXPECT_TRUE(std::filesystem::exists(dir + "/regions" + suffix + ".npy"));
    }
    const std::string json = read_bytes(dir + "/explanation.json");
    EXPECT_NE(json.find("\"second.png\""), std::string::npos);
    EXPECT_NE(json.find("\"first_region\": 4"), std::string::npos);

    // the report shows both images, pixel for pixel
    const std::string html = read_bytes(dir + "/report.html");
    for (size_t k = 0; k < 2; ++k) {
        const eagle::image_rgb8 & image = k == 0 ? first_ : second_;
        const std::string alt = "alt=\"image " + std::to_string(k + 1) + " of 2\" src=\"data:image/png;base64,";
        const size_t at = html.find(alt);
        ASSERT_NE(at, std::string::npos) << "image " << k + 1 << " is not in the report";
        const size_t begin = at + alt.size();
        const std::string png = base64_decode(html.substr(begin, html.find('"', begin) - begin));
        EXPECT_EQ(png, eagle::png_bytes(image)) << "image " << k + 1;
    }
}

} // namespace
