// Attention products in BLAS (blas-attention.h): with ggml's BLAS backend on, the strided K, Q and V views of
// llama.cpp's and libmtmd's attention are made contiguous so that BLAS takes the products. The scores are the
// same products in another order: within 1e-5 of the same BLAS model without the copies. Its own executable: BLAS,
// once on, stays on in a process. This executable exports ggml_mul_mat as eagle's do.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "llama/blas-attention.h"

#include <ggml-backend.h>
#include <ggml.h>
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

// ShapesWorld with BLAS on (which registers ggml's BLAS backend and turns the copies on); null where this machine
// has no BLAS backend to load
std::unique_ptr<eagle::vlm_model> load_with_blas() {
    eagle::model_params params;
    params.model_path  = k_models + "/shapesworld-model.gguf";
    params.mmproj_path = k_models + "/shapesworld-mmproj.gguf";
    params.n_threads   = 1;
    params.blas        = "on";
    try {
        return eagle::load_vlm(params);
    } catch (const eagle::error & e) {
        if (e.code() != eagle::errc::backend) {
            throw; // a missing model is a failure, not a skip
        }
        return nullptr;
    }
}

// The name of the backend ggml's scheduler, given BLAS and the CPU, puts llama.cpp's K·Q product on ("" where
// either backend cannot be made): per-head views of a KV cache of 8 heads of 64 floats and 256 cells against 64
// tokens' permuted queries, built through this executable's ggml_mul_mat as libllama builds it
std::string kq_backend_name() {
    ggml_init_params ip{ggml_tensor_overhead() * 16 + ggml_graph_overhead(), nullptr, /*no_alloc =*/ true};
    ggml_context * ctx = ggml_init(ip);
    const int64_t head = 64, n_head = 8, n_kv = 256, n_tokens = 64;
    ggml_tensor * cache = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, head * n_head, n_kv);
    ggml_tensor * queries = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, head, n_head, n_tokens);
    ggml_set_input(cache); // allocated by the scheduler, as a graph's inputs
    ggml_set_input(queries);
    ggml_tensor * k = ggml_permute(ctx, ggml_view_3d(ctx, cache, head, n_head, n_kv, cache->nb[0] * head, cache->nb[1], 0), 0, 2, 1, 3);
    ggml_tensor * q = ggml_permute(ctx, queries, 0, 2, 1, 3);
    ggml_tensor * kq = ggml_mul_mat(ctx, k, q);
    ggml_cgraph * graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, kq);

    ggml_backend_t backends[2] = {ggml_backend_init_by_name("BLAS", nullptr), ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr)};
    std::string name;
    if (backends[0] && backends[1]) {
        ggml_backend_sched_t sched = ggml_backend_sched_new(backends, nullptr, 2, GGML_DEFAULT_GRAPH_SIZE, false, false);
        if (ggml_backend_sched_alloc_graph(sched, graph)) {
            name = ggml_backend_name(ggml_backend_sched_get_tensor_backend(sched, kq));
        }
        ggml_backend_sched_free(sched);
    }
    for (ggml_backend_t b : backends) {
        if (b) {
            ggml_backend_free(b);
        }
    }
    ggml_free(ctx);
    return name;
}

std::vector<float> score(const eagle::vlm_model & model, const eagle::score_request & request, const std::vector<eagle::mask> & masks) {
    const auto session = model.new_session({});
    session->prepare(request);
    std::vector<float> probs(masks.size() * size_t(session->n_targets()));
    session->score(masks, probs);
    return probs;
}

} // namespace

// ggml's scheduler puts the K·Q product on BLAS with the copies and on the CPU without: the premise (BLAS refuses
// the strided views) and the lever, on the graph llama.cpp builds
TEST(blas_attention, the_scheduler_puts_the_attention_product_on_blas) {
    const std::unique_ptr<eagle::vlm_model> model = load_with_blas();
    if (!model) {
        GTEST_SKIP() << "no BLAS backend here";
    }
    eagle::llama_backend::set_attention_in_blas(true);
    EXPECT_EQ(kq_backend_name(), "BLAS");
    eagle::llama_backend::set_attention_in_blas(false);
    EXPECT_EQ(kq_backend_name(), "CPU");
    eagle::llama_backend::set_attention_in_blas(true);
}

TEST(blas_attention, the_attention_products_go_to_blas_and_score_as_without) {
    const std::unique_ptr<eagle::vlm_model> model = load_with_blas();
    if (!model) {
        GTEST_SKIP() << "no BLAS backend here";
    }
    eagle::llama_backend::set_attention_in_blas(true); // whatever $EAGLE_BLAS_ATTENTION says
    eagle::score_request request;
    request.image  = eagle::load_image(k_image);
    request.prompt = "describe the image";
    request.answer = model->tokenize("a red circle , a yellow square and a green triangle .", /*add_bos =*/ false);
    const std::vector<eagle::mask> masks = left_parts(request.image, 8);

    const int64_t n_before = eagle::llama_backend::attention_products_made_contiguous();
    const std::vector<float> in_blas = score(*model, request, masks);
    const int64_t n_made = eagle::llama_backend::attention_products_made_contiguous() - n_before;
    // K·Q and V·KQ of every layer of the text model (4) and of the vision encoder, at least once (graph builds,
    // the contexts' reserve graphs included: the placement is the test above)
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
    EXPECT_LE(max_diff, 2e-5f); // BLAS's own order dependence (README)
    EXPECT_GT(max_diff, 0.0f) << "bit-identical: the products did not run elsewhere";
}
