// Attention products in BLAS (blas-attention.h): with ggml's BLAS backend on, the strided K, Q and V views of
// llama.cpp's and libmtmd's attention are made contiguous so that BLAS takes the products. The scores are the
// same products in another order: within 1e-5 of the same BLAS model without the copies. Its own executable: BLAS,
// once on, stays on in a process. This executable exports ggml_mul_mat as eagle's do.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "llama/blas-attention.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

const std::string k_models = EAGLE_TEST_MODELS_DIR;
const std::string k_image  = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld/000002.png";

// the left k/8 of the image kept, for k = 1..n
std::vector<eagle::mask> left_parts(const eagle::image_rgb8 & image, int n) {
    std::vector<eagle::mask> masks;
    for (int k = 1; k <= n; ++k) {
        eagle::mask m = eagle::mask::empty(image.nx, image.ny);
        for (int y = 0; y < image.ny; ++y) {
            for (int x = 0; x < image.nx * k / 8; ++x) {
                m.keep[size_t(y) * image.nx + x] = true;
            }
        }
        masks.push_back(std::move(m));
    }
    return masks;
}

std::vector<float> score(const eagle::vlm_model & model, const eagle::score_request & request, const std::vector<eagle::mask> & masks) {
    const auto session = model.new_session({});
    session->prepare(request);
    std::vector<float> probs(masks.size() * size_t(session->n_targets()));
    session->score(masks, probs);
    return probs;
}

} // namespace

TEST(blas_attention, the_attention_products_go_to_blas_and_score_as_without) {
    eagle::model_params params;
    params.model_path  = k_models + "/shapesworld-model.gguf";
    params.mmproj_path = k_models + "/shapesworld-mmproj.gguf";
    params.n_threads   = 1;
    params.blas        = "on";
    std::unique_ptr<eagle::vlm_model> model;
    try {
        model = eagle::load_vlm(params);
    } catch (const eagle::error & e) {
        GTEST_SKIP() << "no BLAS backend here: " << e.what();
    }
    eagle::score_request request;
    request.image  = eagle::load_image(k_image);
    request.prompt = "describe the image";
    request.answer = model->tokenize("a red circle , a yellow square and a green triangle .", /*add_bos =*/ false);
    const std::vector<eagle::mask> masks = left_parts(request.image, 8);

    const int64_t n_before = eagle::llama_backend::attention_products_made_contiguous();
    const std::vector<float> in_blas = score(*model, request, masks);
    const int64_t n_made = eagle::llama_backend::attention_products_made_contiguous() - n_before;
    // K·Q and V·KQ of every layer of the text model (4) and of the vision encoder, at least once
    EXPECT_GE(n_made, 2 * 4) << "the attention products were not given contiguous operands";

    eagle::llama_backend::set_attention_in_blas(false);
    const std::vector<float> on_cpu = score(*model, request, masks);
    EXPECT_EQ(eagle::llama_backend::attention_products_made_contiguous() - n_before, n_made) << "turned off, yet copied";
    eagle::llama_backend::set_attention_in_blas(true);

    ASSERT_EQ(in_blas.size(), on_cpu.size());
    float max_diff = 0.0f;
    for (size_t i = 0; i < in_blas.size(); ++i) {
        max_diff = std::max(max_diff, std::fabs(in_blas[i] - on_cpu[i]));
    }
    EXPECT_LE(max_diff, 1e-5f);
    EXPECT_GT(max_diff, 0.0f) << "bit-identical: the products did not run elsewhere";
}
