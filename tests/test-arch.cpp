// The architecture matrix: for each vision-language architecture libmtmd runs (a tiny random-weight GGUF pair
// per architecture, tools/make-arch-fixture.py), eagle's batched
// scorer equals llama.cpp's own single-sequence path, and `eagle explain` runs end to end.
//
// The oracle is llama.cpp alone: one fresh context per masked image, the rendered prompt tokenized by libmtmd
// with the masked image, mtmd_helper_eval_chunks, then the answer teacher-forced by llama_decode and the
// softmax over the full vocabulary at each answer position. Nothing of eagle's batching (shared prefix, KV
// copies, several sequences per decode, its own image decode) is in it.
#include "cli-runner.h"
#include "eagle/backends.h"
#include "eagle/eagle.h"

#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace {

const std::string k_prompt = "describe the image";
constexpr int32_t k_answer_tokens = 5;
constexpr float k_tolerance = 1e-5f;

struct arch_case {
    std::string name;          // fixture file stem
    std::string chat_template; // the family eagle must detect from the fixture's template
};

// Qwen2-VL ships Qwen2.5-VL's template (eagle cannot tell them apart by it; they render alike); MiniCPM-V 2.6's
// is ChatML, and eagle knows it by the model name
const std::vector<arch_case> k_archs = {
    {"llava-1.5", "llava-1.5"}, {"qwen2-vl", "qwen2.5-vl"}, {"qwen2.5-vl", "qwen2.5-vl"}, {"qwen3-vl", "qwen3-vl"},
    {"gemma3", "gemma3"},       {"internvl", "internvl"},   {"pixtral", "pixtral"},     {"smolvlm", "smolvlm"},
    {"minicpm-v-2.6", "minicpm-v-2.6"}, {"llama4", "llama4"},
};

// ctest lists each case by its architecture
void PrintTo(const arch_case & c, std::ostream * os) {
    *os << c.name;
}

std::string fixture_path(const std::string & arch, const char * what) {
    return std::string(EAGLE_TEST_FIXTURE_DIR) + "/arch/" + arch + "-" + what + ".gguf";
}

// llama.cpp's single-sequence path for one (masked) image: p(answer[t]) for every t
class single_sequence_oracle {
public:
    explicit single_sequence_oracle(const std::string & arch) {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        model_ = llama_model_load_from_file(fixture_path(arch, "model").c_str(), mp);
        if (!model_) {
            throw std::runtime_error("oracle: cannot load " + fixture_path(arch, "model"));
        }
        mtmd_context_params cp = mtmd_context_params_default();
        cp.use_gpu = false;
        cp.n_threads = 1;
        cp.print_timings = false;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cp.warmup = false;
        mtmd_ = mtmd_init_from_file(fixture_path(arch, "mmproj").c_str(), model_, cp);
        if (!mtmd_) {
            throw std::runtime_error("oracle: cannot load " + fixture_path(arch, "mmproj"));
        }
    }
    ~single_sequence_oracle() {
        mtmd_free(mtmd_);
        llama_model_free(model_);
    }
    single_sequence_oracle(const single_sequence_oracle &) = delete;
    single_sequence_oracle & operator=(const single_sequence_oracle &) = delete;

    // prompt_text: the full prompt with libmtmd's marker where the image goes
    std::vector<double> score(const std::string & prompt_text, const eagle::image_rgb8 & image,
                              const std::vector<int32_t> & answer) const {
        llama_context_params cparams = llama_context_default_params();
        cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = 1024;
        cparams.n_seq_max = 1;
        cparams.n_threads = cparams.n_threads_batch = 1;
        cparams.type_k = cparams.type_v = GGML_TYPE_F32;
        cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        cparams.no_perf = true;
        std::unique_ptr<llama_context, decltype(&llama_free)> ctx(llama_init_from_model(model_, cparams), llama_free);
        if (!ctx) {
            throw std::runtime_error("oracle: no context");
        }
        std::unique_ptr<mtmd_bitmap, decltype(&mtmd_bitmap_free)> bitmap(
            mtmd_bitmap_init(uint32_t(image.nx), uint32_t(image.ny), image.rgb.data()), mtmd_bitmap_free);
        std::unique_ptr<mtmd_input_chunks, decltype(&mtmd_input_chunks_free)> chunks(mtmd_input_chunks_init(),
                                                                                     mtmd_input_chunks_free);
        const mtmd_input_text text{prompt_text.c_str(), prompt_text.size(), /*add_special =*/true, /*parse_special =*/true};
        const mtmd_bitmap * bitmaps[] = {bitmap.get()};
        if (mtmd_tokenize(mtmd_, chunks.get(), &text, bitmaps, 1) != 0) {
            throw std::runtime_error("oracle: mtmd_tokenize failed");
        }
        llama_pos n_past = 0;
        if (mtmd_helper_eval_chunks(mtmd_, ctx.get(), chunks.get(), 0, 0, int32_t(cparams.n_batch), true, &n_past) != 0) {
            throw std::runtime_error("oracle: mtmd_helper_eval_chunks failed");
        }
        std::vector<double> probs;
        probs.push_back(softmax_at(llama_get_logits_ith(ctx.get(), -1), answer[0]));
        if (answer.size() > 1) {
            llama_batch batch = llama_batch_init(int32_t(answer.size()), 0, 1);
            for (size_t i = 0; i + 1 < answer.size(); ++i) {
                batch.token[i] = answer[i];
                batch.pos[i] = n_past + llama_pos(i);
                batch.n_seq_id[i] = 1;
                batch.seq_id[i][0] = 0;
                batch.logits[i] = true;
            }
            batch.n_tokens = int32_t(answer.size() - 1);
            const int32_t ret = llama_decode(ctx.get(), batch);
            llama_batch_free(batch);
            if (ret != 0) {
                throw std::runtime_error("oracle: llama_decode failed");
            }
            for (size_t i = 0; i + 1 < answer.size(); ++i) {
                probs.push_back(softmax_at(llama_get_logits_ith(ctx.get(), int32_t(i)), answer[i + 1]));
            }
        }
        return probs;
    }

private:
    double softmax_at(const float * logits, int32_t id) const {
        const int32_t n = llama_vocab_n_tokens(llama_model_get_vocab(model_));
        const double top = *std::max_element(logits, logits + n);
        double sum = 0.0;
        for (int32_t i = 0; i < n; ++i) {
            sum += std::exp(double(logits[i]) - top);
        }
        return std::exp(double(logits[id]) - top) / sum;
    }

    llama_model * model_ = nullptr;
    mtmd_context * mtmd_ = nullptr;
};

// masks of several shapes: the full image, the left k/8 of it, blocks, a checkerboard, nothing
std::vector<eagle::mask> some_masks(int32_t nx, int32_t ny) {
    std::vector<eagle::mask> masks = {eagle::mask::full(nx, ny)};
    for (int i = 1; i < 6; ++i) {
        eagle::mask m = eagle::mask::empty(nx, ny);
        for (int32_t y = 0; y < ny; ++y) {
            for (int32_t x = 0; x < nx; ++x) {
                const int cell = (x / 16) + 8 * (y / 16);
                m.keep[size_t(y) * nx + x] = i == 1 ? x < nx / 2 : ((cell * 7 + i * 13) % 5) < (i % 4) + 1;
            }
        }
        masks.push_back(std::move(m));
    }
    masks.push_back(eagle::mask::empty(nx, ny));
    return masks;
}

class arch_test : public ::testing::TestWithParam<arch_case> {
protected:
    std::unique_ptr<eagle::vlm_model> load() const {
        eagle::model_params params;
        params.model_path = fixture_path(GetParam().name, "model");
        params.mmproj_path = fixture_path(GetParam().name, "mmproj");
        // ggml's own kernels: OpenBLAS's sgemm blocks differently for different batch shapes, so with BLAS
        // (on by default with OpenBLAS-OpenMP) a probability moves by ~2e-5 with the batch its mask is in;
        // these tests are about eagle's batching, exact to ~1e-8 without it
        params.blas = "off";
        return eagle::load_vlm(params);
    }
};

TEST_P(arch_test, batched_scores_equal_the_single_sequence_path) {
    const std::unique_ptr<eagle::vlm_model> model = load();
    EXPECT_EQ(eagle::chat_family_of(model->chat_format()).name, GetParam().chat_template);
    const single_sequence_oracle oracle(GetParam().name);
    const std::string prompt_text = model->format_prompt(k_prompt, false);
    double max_diff = 0.0;
    for (const char * sample : {"shapes-1.png", "shapes-2.png"}) { // square, and 5:3
        SCOPED_TRACE(sample);
        const eagle::image_rgb8 image = eagle::load_image(std::string(EAGLE_TEST_DATA_DIR) + "/samples/" + sample);
        const auto generator = model->new_session({});
        const eagle::generation answer = generator->generate({image, k_prompt, false, k_answer_tokens});
        ASSERT_FALSE(answer.tokens.empty());
        std::vector<int32_t> ids;
        for (const auto & token : answer.tokens) {
            ids.push_back(token.id);
            // the fixture's output layer only knows words and the end: the answer reads as words
            const std::string piece = model->token_piece(token.id);
            EXPECT_TRUE(token.is_eog || (piece.size() > 1 && piece.rfind("\xE2\x96\x81", 0) == 0) || piece[0] == ' ')
                << "token " << token.id << " '" << piece << "'";
        }
        const std::vector<eagle::mask> masks = some_masks(image.nx, image.ny);
        const eagle::image_rgb8 fill = eagle::make_fill_image(image, eagle::fill_mode::black);
        std::vector<std::vector<double>> expected;
        for (const auto & m : masks) {
            eagle::image_rgb8 masked;
            eagle::apply_mask(image, fill, m, masked);
            expected.push_back(oracle.score(prompt_text, masked, ids));
        }
        // the full image's scores are what generate reported
        for (size_t t = 0; t < ids.size(); ++t) {
            EXPECT_NEAR(expected[0][t], answer.tokens[t].prob, k_tolerance) << "token " << t;
        }
        for (int32_t n_seq : {1, 3, 8}) {
            SCOPED_TRACE("n_seq " + std::to_string(n_seq));
            eagle::session_params sp;
            sp.n_seq = n_seq;
            sp.use_memo = false;
            const auto session = model->new_session(sp);
            eagle::score_request req;
            req.image = image;
            req.prompt = k_prompt;
            req.answer = ids;
            session->prepare(req);
            std::vector<float> probs(masks.size() * ids.size());
            session->score(masks, probs);
            for (size_t i = 0; i < masks.size(); ++i) {
                for (size_t t = 0; t < ids.size(); ++t) {
                    const double diff = std::fabs(double(probs[i * ids.size() + t]) - expected[i][t]);
                    max_diff = std::max(max_diff, diff);
                    EXPECT_LE(diff, k_tolerance) << "mask " << i << " token " << t;
                }
            }
        }
        // the masks matter: removing the whole image moves some probability
        double moved = 0.0;
        for (size_t t = 0; t < ids.size(); ++t) {
            moved = std::max(moved, std::fabs(expected.back()[t] - expected[0][t]));
        }
        EXPECT_GT(moved, 1e-4) << "the image does not reach the answer";
    }
    RecordProperty("max_abs_diff", std::to_string(max_diff));
    std::printf("%s: max |p_eagle - p_llama.cpp| = %.3g\n", GetParam().name.c_str(), max_diff);
}

TEST_P(arch_test, explain_runs_end_to_end) {
    const std::string out = std::string(EAGLE_TEST_TMP_DIR) + "/arch-explain-" + GetParam().name;
    std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
    std::filesystem::remove_all(out);
    const eagle::testing::run_result r = eagle::testing::run_eagle(
        {"explain", "--model", fixture_path(GetParam().name, "model"), "--mmproj", fixture_path(GetParam().name, "mmproj"),
         "--image", std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapes-2.png", "--max-tokens", "3", "-D", "16",
         "--search", "exact", "--out", out, "-q"},
        EAGLE_TEST_TMP_DIR);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(out + "/explanation.json"));
    EXPECT_NE(eagle::testing::read_text(out + "/explanation.json").find("\"chat_template\": \"" + GetParam().chat_template),
              std::string::npos);
}

std::string test_name(const ::testing::TestParamInfo<arch_case> & param) {
    std::string name = param.param.name;
    std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(arch, arch_test, ::testing::ValuesIn(k_archs), test_name);

} // namespace
