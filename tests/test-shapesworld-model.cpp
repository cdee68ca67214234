// The committed ShapesWorld model (models/shapesworld-*.gguf) through the real llama.cpp path:
//   * parity: the libtorch model's next-token probabilities, stored at export time
//     (models/shapesworld-parity/parity.json), are reproduced by eagle::vlm_session to <= 1e-3, and the token
//     sequences the trainer used are exactly those llama.cpp builds from the chat template;
//   * quality smoke test: on held-out scenes (a seed the trainer never saw) the greedy answers are right;
//   * the CLI's embedded default run (model, sample image, caption prompt) prints the sample's caption.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/shapes.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

namespace {

const std::string k_models = EAGLE_TEST_MODELS_DIR;
const std::string k_parity_dir = k_models + "/shapesworld-parity";

class shapesworld_model : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        eagle::model_params params;
        params.model_path = k_models + "/shapesworld-model.gguf";
        params.mmproj_path = k_models + "/shapesworld-mmproj.gguf";
        model_ = eagle::load_vlm(params);
    }
    static void TearDownTestSuite() { model_.reset(); }
    static inline std::unique_ptr<eagle::vlm_model> model_;
};

nlohmann::json read_parity() {
    std::ifstream in(k_parity_dir + "/parity.json");
    EXPECT_TRUE(in.good()) << k_parity_dir << "/parity.json";
    return nlohmann::json::parse(in);
}

std::vector<int32_t> ids_of(const nlohmann::json & j) { return j.get<std::vector<int32_t>>(); }

TEST_F(shapesworld_model, trainer_token_sequences_are_what_llama_cpp_builds) {
    const nlohmann::json doc = read_parity();
    ASSERT_FALSE(doc.at("cases").empty());
    for (const auto & c : doc.at("cases")) {
        // the chat template puts the image first: "<|im_start|>user\n<__media__>\nPROMPT<|im_end|>\n<|im_start|>assistant\n"
        const std::string text = model_->format_prompt(c.at("prompt"), false);
        const std::string marker = "<__media__>";
        const size_t at = text.find(marker);
        ASSERT_NE(at, std::string::npos) << text;
        EXPECT_EQ(model_->tokenize(text.substr(0, at), true, true), ids_of(c.at("prefix_ids"))) << text;
        EXPECT_EQ(model_->tokenize(text.substr(at + marker.size()), false, true), ids_of(c.at("prompt_ids"))) << text;
        std::vector<int32_t> answer = model_->tokenize(c.at("answer"), false);
        answer.push_back(model_->eog_token());
        EXPECT_EQ(answer, ids_of(c.at("answer_ids"))) << c.at("answer");
    }
}

// The model is trained on llama.cpp's chatml rendering (tools/train/shapes-model.h): its template is no Hugging
// Face family's, so "auto" keeps that rendering, character for character.
TEST_F(shapesworld_model, its_prompt_rendering_is_the_one_it_was_trained_on) {
    EXPECT_EQ(model_->chat_format(), eagle::chat_family::llama_cpp);
    EXPECT_EQ(model_->format_prompt("describe the image", false),
              "<|im_start|>user\n<__media__>\ndescribe the image<|im_end|>\n<|im_start|>assistant\n");
}

// --system on a llama.cpp-rendered model: a system turn through llama.cpp's template table
TEST_F(shapesworld_model, a_system_prompt_opens_the_chat) {
    eagle::model_params params = model_->params();
    params.system_prompt = "be brief";
    const auto model = eagle::load_vlm(params);
    EXPECT_EQ(model->format_prompt("describe the image", false),
              "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\n<__media__>\ndescribe the image<|im_end|>\n"
              "<|im_start|>assistant\n");
    params.system_prompt = "";
    EXPECT_EQ(eagle::load_vlm(params)->format_prompt("describe the image", false),
              model_->format_prompt("describe the image", false));
}

// A Hugging Face family forced on this model: the family's text, with its BOS text dropped because the
// tokenizer adds BOS itself (Pixtral's template writes "<s>", this vocabulary's BOS), so the prompt holds one BOS.
TEST_F(shapesworld_model, a_forced_family_renders_its_template_with_one_bos) {
    eagle::model_params params = model_->params();
    params.chat_template = "pixtral";
    const auto model = eagle::load_vlm(params);
    EXPECT_EQ(model->chat_format(), eagle::chat_family::pixtral);
    const std::string text = model->format_prompt("describe the image", false);
    const std::string hf = eagle::render_chat_prompt(eagle::chat_family::pixtral, std::nullopt, "describe the image",
                                                     "<__media__>");
    ASSERT_TRUE(hf.starts_with("<s>")) << hf;
    EXPECT_EQ(text, hf.substr(3));
    const std::vector<int32_t> ids = model->tokenize(text.substr(0, text.find("<__media__>")), true, true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(std::count(ids.begin(), ids.end(), ids.front()), 1) << "one BOS";
    EXPECT_EQ(model->token_piece(ids.front()), "<s>");
    // a family whose template writes no BOS text keeps its text whole
    params.chat_template = "qwen2.5-vl";
    EXPECT_EQ(eagle::load_vlm(params)->format_prompt("describe the image", false),
              eagle::render_chat_prompt(eagle::chat_family::qwen2_5_vl, std::nullopt, "describe the image", "<__media__>"));
}

TEST_F(shapesworld_model, llama_cpp_reproduces_the_libtorch_probabilities) {
    const nlohmann::json doc = read_parity();
    constexpr double k_tolerance = 1e-3;
    double max_diff = 0.0;
    size_t n_compared = 0;
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    for (const auto & c : doc.at("cases")) {
        eagle::score_request req;
        req.image = eagle::load_image(k_parity_dir + "/" + c.at("image").get<std::string>());
        req.prompt = c.at("prompt");
        req.answer = ids_of(c.at("answer_ids"));
        // the targets hold, per answer position, the answer token and its strongest rivals; score them in
        // rounds of at most one token per position (target indices must ascend)
        std::vector<nlohmann::json> pending(c.at("targets").begin(), c.at("targets").end());
        while (!pending.empty()) {
            std::vector<nlohmann::json> round, rest;
            int64_t last_index = -1;
            for (const auto & t : pending) {
                if (t.at("index").get<int64_t>() > last_index) {
                    round.push_back(t);
                    last_index = t.at("index");
                } else {
                    rest.push_back(t);
                }
            }
            req.target_indices.clear();
            req.target_ids.clear();
            for (const auto & t : round) {
                req.target_indices.push_back(t.at("index"));
                req.target_ids.push_back(t.at("id"));
            }
            session.prepare(req);
            const std::vector<eagle::mask> masks = {eagle::mask::full(req.image.nx, req.image.ny)};
            std::vector<float> probs(size_t(session.n_targets()));
            session.score(masks, probs);
            for (size_t i = 0; i < round.size(); ++i) {
                const double expected = round[i].at("prob");
                const double diff = std::fabs(double(probs[i]) - expected);
                max_diff = std::max(max_diff, diff);
                ++n_compared;
                EXPECT_LE(diff, k_tolerance) << c.at("image") << " '" << c.at("prompt") << "' answer position "
                                             << round[i].at("index") << " token " << round[i].at("id")
                                             << ": libtorch " << expected << ", llama.cpp " << probs[i];
            }
            pending = std::move(rest);
        }
    }
    EXPECT_GE(n_compared, 20u);
    std::printf("parity: %zu probabilities, max |libtorch - llama.cpp| = %.3g\n", n_compared, max_diff);
}

TEST_F(shapesworld_model, answers_held_out_scenes) {
    // seed 99: neither the training stream (seed 1) nor the benchmark set (seed 2)
    constexpr int64_t k_n = 40;
    const auto session_ptr = model_->new_session({});
    eagle::vlm_session & session = *session_ptr;
    eagle::shapes_config cfg;
    int64_t n_caption = 0, n_yesno = 0, n_yesno_total = 0;
    for (int64_t i = 0; i < k_n; ++i) {
        const eagle::shapes_scene scene = eagle::make_shapes_scene(cfg, 99, i);
        const std::string caption = session.generate({scene.image, eagle::k_shapes_caption_prompt, false, 32}).text;
        n_caption += caption == scene.caption ? 1 : 0;
        for (const auto & q : scene.qa) {
            if (q.task == "yesno") {
                n_yesno += session.generate({scene.image, q.question, false, 4}).text == q.answer ? 1 : 0;
                ++n_yesno_total;
            }
        }
    }
    std::printf("smoke: caption exact %lld/%lld, yes/no %lld/%lld\n", static_cast<long long>(n_caption),
                static_cast<long long>(k_n), static_cast<long long>(n_yesno), static_cast<long long>(n_yesno_total));
    // below the committed model's benchmark numbers (BENCHMARKS.md: caption 0.908, yes/no 1.000 on 500
    // scenes; 37/40 and 80/80 here) by a margin for 40-scene noise, so that a broken, mis-exported or
    // stale model fails (the first model, caption 0.47 / yes-no 0.89, would)
    EXPECT_GE(double(n_caption) / k_n, 0.70);
    EXPECT_GE(double(n_yesno) / double(n_yesno_total), 0.95);
}

TEST_F(shapesworld_model, default_cli_run_captions_the_default_sample) {
    // `eagle generate` with no --model, --image or --prompt: the embedded default model on the default sample
    // (data/samples/shapesworld/000002.png) with the caption prompt must print that sample's caption
    std::ifstream in(std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld/annotations.json");
    ASSERT_TRUE(in.good());
    const nlohmann::json doc = nlohmann::json::parse(in);
    const auto & im = doc.at("images").at(2);
    ASSERT_EQ(im.at("file_name"), "000002.png");
    const std::string cmd = std::string(EAGLE_CLI_PATH) + " generate -q";
    FILE * pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buf[256];
    while (fgets(buf, sizeof(buf), pipe)) {
        out += buf;
    }
    ASSERT_EQ(pclose(pipe), 0) << cmd;
    EXPECT_EQ(out, im.at("caption").get<std::string>() + "\n");
}

} // namespace
