// EAGLE on the ShapesWorld model, where the visual evidence is known: the word-level map of an object word
// peaks inside that object, and the language-prior tokens of a caption are told apart from the object words.
// The object words here are colour words (p drops from ~1 to ~0 when the object is removed). The first
// model guessed shape words partly from context, so they were left out; the current one grounds them too
// (BENCHMARKS.md: every word map of a shape word hits its object), which `eagle bench shapes` measures.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/explain.h"
#include "eagle/shapes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace {

class shapesworld_explain : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        eagle::model_params params;
        params.model_path  = std::string(EAGLE_TEST_MODELS_DIR) + "/shapesworld-model.gguf";
        params.mmproj_path = std::string(EAGLE_TEST_MODELS_DIR) + "/shapesworld-mmproj.gguf";
        model_ = eagle::load_vlm(params);
    }
    static void TearDownTestSuite() { model_.reset(); }
    static inline std::unique_ptr<eagle::vlm_model> model_;
};

TEST_F(shapesworld_explain, word_map_of_an_object_word_peaks_inside_the_object) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    int n_scenes = 0, n_hits = 0;
    for (int64_t index = 0; n_scenes < 6 && index < 40; ++index) {
        const eagle::shapes_scene scene = eagle::make_shapes_scene({}, 424242, index);
        // an object whose colour word is unique in the caption
        const eagle::shapes_object * target = nullptr;
        for (const auto & obj : scene.objects) {
            const auto n_same = std::count_if(scene.objects.begin(), scene.objects.end(),
                                              [&](const auto & o) { return o.color == obj.color; });
            if (n_same == 1) {
                target = &obj;
                break;
            }
        }
        if (!target) {
            continue;
        }
        eagle::score_request req;
        req.image = scene.image;
        req.prompt = eagle::k_shapes_caption_prompt;
        req.answer = model_->tokenize(scene.caption, false);
        const std::vector<int32_t> word_ids = model_->tokenize(std::string(" ") + eagle::color_name(target->color), false);
        ASSERT_EQ(word_ids.size(), 1u);
        const auto it = std::find(req.answer.begin(), req.answer.end(), word_ids[0]);
        ASSERT_NE(it, req.answer.end()) << scene.caption;
        req.target_indices = {int32_t(it - req.answer.begin())};
        const eagle::region_set regions = eagle::make_slico_regions(scene.image, 64);
        const eagle::explanation ex = eagle::explain(session, req, regions, {});
        const std::vector<float> map = eagle::attribution_map(ex, regions);
        // the point game: some pixel of the top value lies on the object
        const float top = *std::max_element(map.begin(), map.end());
        bool hit = false;
        for (size_t i = 0; i < map.size() && !hit; ++i) {
            hit = map[i] == top && target->pixels.keep[i];
        }
        ++n_scenes;
        n_hits += hit;
    }
    ASSERT_EQ(n_scenes, 6);
    EXPECT_GE(n_hits, 5) << n_hits << " of " << n_scenes << " word maps peak on their object";
}

TEST_F(shapesworld_explain, caption_reliance_separates_object_words_from_the_language_prior) {
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    const eagle::shapes_scene scene = eagle::make_shapes_scene({}, 424242, 0);
    eagle::score_request req;
    req.image = scene.image;
    req.prompt = eagle::k_shapes_caption_prompt;
    req.answer = model_->tokenize(scene.caption, false);
    const eagle::region_set regions = eagle::make_slico_regions(scene.image, 64);
    const eagle::explanation ex = eagle::explain(session, req, regions, {});
    ASSERT_EQ(ex.reliance.size(), req.answer.size());
    // every object phrase starts with "a": the text alone predicts it; colour words need the image
    int n_color_visual = 0, n_color = 0, n_article = 0;
    for (size_t t = 0; t < req.answer.size(); ++t) {
        const std::string piece = model_->token_piece(req.answer[t]);
        if (piece == "a" || piece == " a") {
            ++n_article;
            EXPECT_FALSE(ex.reliance[t].is_visual) << "token " << t << " of " << scene.caption;
        }
        for (auto c : eagle::k_color_kinds) {
            if (piece == std::string(" ") + eagle::color_name(c) || piece == eagle::color_name(c)) {
                ++n_color;
                n_color_visual += ex.reliance[t].is_visual;
            }
        }
    }
    ASSERT_GT(n_color, 0);
    ASSERT_GT(n_article, 0);
    EXPECT_EQ(n_color_visual, n_color) << scene.caption;
}

} // namespace
