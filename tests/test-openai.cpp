// The openai engine (src/backends/openai), approximate scoring on OpenAI-compatible chat servers:
//   * the chat API as pure functions: word pieces, request bodies, response parsing (a documented OpenAI
//     response and a recorded llama-server one), the top-k lookup;
//   * vLLM's and SGLang's prompt log-probabilities (exact-api.h, not yet run against a live server): request
//     bodies and parsing against examples written from their documented formats;
//   * a real llama-server on 127.0.0.1 serving the default ShapesWorld model through its /v1/chat/completions:
//     every probability the approximate engine gives equals the in-process llama.cpp engine's (fed the sequence
//     the chat endpoint feeds, see chat_request) where the target is among the top k, and is 0 only where it
//     cannot be (p <= 1/(k+1)); generation equals in-process; the
//     explanation is marked approximate with its call count (library and CLI, which warns once); every failure is
//     one clear error. Skipped where the build found no llama-server.
#include "openai/exact-api.h"
#include "openai/openai-api.h"
#include "openai/openai-model.h"

#include "cli-runner.h"
#include "llama-server-process.h"
#include "server-test-util.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace {

using namespace eagle::openai_backend;
using eagle_test::error_of;
using eagle_test::scores;

const std::string k_models = EAGLE_TEST_MODELS_DIR;
const std::string k_model = k_models + "/shapesworld-model.gguf";
const std::string k_mmproj = k_models + "/shapesworld-mmproj.gguf";
const std::string k_image = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld/000002.png";
const std::string k_answer = "a yellow triangle , a green square and a red circle .";

// Measured on the default model (llama.cpp 0.7.0, CPU, this test's 24 masks x 12 targets x k = 1, 3, 20, both
// fed the same sequence): the server decodes the prompt and the prefilled answer prefix in its own batches, the
// llama engine teacher-forces the answer in one; the float rounding of the logits differs, which moves p by up
// to ~p(1-p) x the logit difference: at most 1.6e-3 seen, on uncertain tokens (p ~ 0.5-0.7), < 1e-4 on confident
// ones. The bound is twice the largest seen.
constexpr float k_tol = 3e-3f;

json read_json(const std::string & name) {
    std::ifstream in(std::string(EAGLE_TEST_SOURCE_DIR) + "/data/openai/" + name);
    return json::parse(in, nullptr, true, /*ignore_comments=*/true);
}

// ---------------------------------------------------------------------------------------------- pure API

TEST(openai_api, splits_text_into_word_pieces) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> table = {
        {"a yellow triangle , a", {"a", " yellow", " triangle", " ,", " a"}},
        {"red.", {"red", "."}},
        {"  two  spaces ", {"  two", "  spaces", " "}},
        {"caf\xc3\xa9 ok", {"caf\xc3\xa9", " ok"}}, // UTF-8 stays inside its word
        {"", {}},
        {"x1y!?", {"x1y", "!", "?"}},
    };
    for (const auto & [text, pieces] : table) {
        EXPECT_EQ(split_words(text), pieces) << text;
    }
}

TEST(openai_api, messages_put_the_image_first_and_the_prefix_as_the_assistant_turn) {
    json m = chat_messages("describe the image", "QUJD", "");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["role"], "user");
    EXPECT_EQ(m[0]["content"][0]["type"], "image_url");
    EXPECT_EQ(m[0]["content"][0]["image_url"]["url"], "data:image/png;base64,QUJD");
    EXPECT_EQ(m[0]["content"][1], json({{"type", "text"}, {"text", "describe the image"}}));
    m = chat_messages("describe the image", "QUJD", "a yellow");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[1], json({{"role", "assistant"}, {"content", "a yellow"}}));
    // --system: a system turn first (none unless given)
    m = chat_messages("describe the image", "QUJD", "a yellow", "You are a text continuation engine.");
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0], json({{"role", "system"}, {"content", "You are a text continuation engine."}}));
    EXPECT_EQ(m[1]["role"], "user");
    EXPECT_EQ(m[2]["role"], "assistant");
}

TEST(openai_api, bodies_ask_for_one_token_and_its_top_k) {
    const json m = chat_messages("p", "QUJD", "");
    json b = next_token_body("gpt-4o", m, 20);
    EXPECT_EQ(b["model"], "gpt-4o");
    EXPECT_EQ(b["messages"], m);
    EXPECT_EQ(b["max_tokens"], 1);
    EXPECT_EQ(b["temperature"], 0.0);
    EXPECT_EQ(b["logprobs"], true);
    EXPECT_EQ(b["top_logprobs"], 20);
    EXPECT_FALSE(next_token_body("", m, 5).contains("model")); // the server's only model
    b = generation_body("", m, 64);
    EXPECT_EQ(b["max_tokens"], 64);
    EXPECT_EQ(b["logprobs"], true);
    EXPECT_EQ(b["top_logprobs"], 1);
}

TEST(openai_api, parses_the_documented_chat_logprobs_response) {
    // OpenAI API reference, "Create chat completion", logprobs example (tests/data/openai/openai-chat-logprobs.json)
    const chat_result r = parse_chat(read_json("openai-chat-logprobs.json"), "https://api.openai.com");
    EXPECT_EQ(r.content, "Hello! How can I assist you today?");
    EXPECT_EQ(r.finish_reason, "stop");
    ASSERT_EQ(r.tokens.size(), 2u);
    EXPECT_EQ(r.tokens[0].text, "Hello");
    EXPECT_DOUBLE_EQ(r.tokens[0].logprob, -0.31725305);
    ASSERT_EQ(r.tokens[0].top.size(), 2u);
    EXPECT_EQ(r.tokens[0].top[1].first, "Hi");
    EXPECT_DOUBLE_EQ(r.tokens[0].top[1].second, -1.3190403);
    EXPECT_DOUBLE_EQ(top_k_probability(r, "Hi"), std::exp(-1.3190403));
    EXPECT_EQ(top_k_probability(r, "Hey"), 0.0);   // not among the top k: 0, as the authors score it
    EXPECT_EQ(top_k_probability(r, "!"), 0.0);     // a later token's candidate does not count
}

TEST(openai_api, parses_a_recorded_llama_server_response) {
    // llama-server 0.7.0 (b11669-Debian) /v1/chat/completions on the default model, the answer prefilled up to
    // "a yellow" (tests/data/openai/llama-server-chat.json, trimmed to 4 of the 20 candidates)
    const chat_result r = parse_chat(read_json("llama-server-chat.json"), "http://127.0.0.1:8080");
    EXPECT_EQ(r.finish_reason, "length");
    ASSERT_EQ(r.tokens.size(), 1u);
    EXPECT_EQ(r.tokens[0].text, " triangle");
    EXPECT_DOUBLE_EQ(top_k_probability(r, " triangle"), std::exp(-4.625427391147241e-05));
    EXPECT_DOUBLE_EQ(top_k_probability(r, " square"), std::exp(-11.955745697021484));
    // "circle" (no space) is another token than " circle": the leading-space-stripped match is not taken
    EXPECT_EQ(top_k_probability(r, "square"), 0.0);
}

TEST(openai_api, a_server_without_logprobs_is_one_clear_error) {
    json response = read_json("openai-chat-logprobs.json");
    response["choices"][0]["logprobs"] = nullptr;
    eagle::errc code{};
    std::string e = error_of([&] { parse_chat(response, "http://h:1"); }, &code);
    EXPECT_NE(e.find("returned no log-probabilities"), std::string::npos) << e;
    EXPECT_NE(e.find("http://h:1"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);
    e = error_of([&] { parse_chat(json::object({{"object", "error"}}), "http://h:1"); }, &code);
    EXPECT_NE(e.find("without choices"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::backend);
    // an answer ended at once has no token to report: every target is outside the top k
    response["choices"][0]["message"]["content"] = "";
    response["choices"][0]["logprobs"] = {{"content", json::array()}};
    const chat_result ended = parse_chat(response, "http://h:1");
    EXPECT_TRUE(ended.tokens.empty());
    EXPECT_EQ(top_k_probability(ended, "Hello"), 0.0);
}

TEST(openai_api, the_factory_checks_top_logprobs) {
    eagle::model_params p;
    p.engine = "openai";
    eagle::errc code{};
    EXPECT_NE(error_of([&] { eagle::load_vlm(p); }, &code).find("needs at least one server URL"), std::string::npos);
    p.servers = {"http://127.0.0.1:1"};
    p.top_logprobs = 21;
    EXPECT_NE(error_of([&] { eagle::load_vlm(p); }, &code).find("top_logprobs must be 1..20"), std::string::npos);
    EXPECT_EQ(code, eagle::errc::invalid_argument);
    const std::vector<std::string> engines = eagle::vlm_engines();
    EXPECT_NE(std::find(engines.begin(), engines.end(), "openai"), engines.end());
}

// ------------------------------------------------------------------------ vLLM and SGLang, from their docs

const std::vector<int32_t> k_yellow_triangle = {264, 447, 457}; // "a yellow triangle" in the default model

TEST(exact_api, vllm_body_continues_the_answer_as_the_final_assistant_turn) {
    const json b = vllm_score_body("m", "describe the image", "QUJD", "a yellow triangle");
    ASSERT_EQ(b["messages"].size(), 2u);
    EXPECT_EQ(b["messages"][0]["content"][0]["image_url"]["url"], "data:image/png;base64,QUJD");
    EXPECT_EQ(b["messages"][1], json({{"role", "assistant"}, {"content", "a yellow triangle"}}));
    EXPECT_EQ(b["continue_final_message"], true);
    EXPECT_EQ(b["add_generation_prompt"], false);
    EXPECT_EQ(b["prompt_logprobs"], 0);
    EXPECT_EQ(b["max_tokens"], 1);
    EXPECT_EQ(b["model"], "m");
}

TEST(exact_api, vllm_reads_the_answer_from_the_end_of_prompt_logprobs) {
    const json response = read_json("vllm-chat-prompt-logprobs.json");
    const std::vector<double> lp = vllm_answer_logprobs(response, k_yellow_triangle, "http://v:8000");
    EXPECT_EQ(lp, (std::vector<double>{-2.467662670824211e-05, -0.016795041039586067, -4.625427391147241e-05}));
    // a position whose dict also holds other tokens: the answer's id is looked up, not the first key
    json more = response;
    more["prompt_logprobs"][5] = json::parse(R"({"430": {"logprob": -0.01, "rank": 1}, "447": {"logprob": -4.7, "rank": 2}})");
    EXPECT_EQ(vllm_answer_logprobs(more, k_yellow_triangle, "http://v:8000")[1], -4.7);
    eagle::errc code{};
    // the server tokenized the answer otherwise
    std::string e = error_of([&] { vllm_answer_logprobs(response, std::vector<int32_t>{264, 447, 442}, "http://v:8000"); }, &code);
    EXPECT_NE(e.find("answer token 2"), std::string::npos) << e;
    EXPECT_NE(e.find("tokenizes the answer otherwise"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::backend);
    // no prompt_logprobs: the feature is missing
    json none = response;
    none.erase("prompt_logprobs");
    e = error_of([&] { vllm_answer_logprobs(none, k_yellow_triangle, "http://v:8000"); }, &code);
    EXPECT_NE(e.find("returned no prompt_logprobs"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);
    // an answer as long as the whole prompt: the first entry is null, there is nothing before the answer
    e = error_of([&] { vllm_answer_logprobs(response, std::vector<int32_t>(7, 1), "http://v:8000"); }, &code);
    EXPECT_NE(e.find("fewer than the prompt"), std::string::npos) << e;
}

TEST(exact_api, sglang_body_asks_for_the_answer_log_probabilities) {
    const json b = sglang_score_body("<|im_start|>user\n<image>\ndescribe<|im_end|>\n<|im_start|>assistant\n",
                                     "a yellow triangle", "QUJD", 17);
    EXPECT_EQ(b["text"], "<|im_start|>user\n<image>\ndescribe<|im_end|>\n<|im_start|>assistant\na yellow triangle");
    EXPECT_EQ(b["image_data"], "data:image/png;base64,QUJD");
    EXPECT_EQ(b["return_logprob"], true);
    EXPECT_EQ(b["logprob_start_len"], 17);
    EXPECT_EQ(b["sampling_params"]["max_new_tokens"], 1);
    EXPECT_EQ(b["sampling_params"]["temperature"], 0.0);
}

TEST(exact_api, sglang_reads_the_answer_from_the_end_of_input_token_logprobs) {
    const json response = read_json("sglang-generate-logprobs.json");
    EXPECT_EQ(sglang_answer_logprobs(response, k_yellow_triangle, "http://s:30000"),
              (std::vector<double>{-2.467662670824211e-05, -0.016795041039586067, -4.625427391147241e-05}));
    eagle::errc code{};
    std::string e = error_of([&] { sglang_answer_logprobs(response, std::vector<int32_t>{264, 430, 457}, "http://s:30000"); }, &code);
    EXPECT_NE(e.find("answer token 1 is 447, not 430"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::backend);
    json first = response; // logprob_start_len 0: the very first prompt token has no log-probability
    first["meta_info"]["input_token_logprobs"][1][0] = nullptr;
    e = error_of([&] { sglang_answer_logprobs(first, k_yellow_triangle, "http://s:30000"); }, &code);
    EXPECT_NE(e.find("has no log-probability"), std::string::npos) << e;
    json none = response;
    none["meta_info"].erase("input_token_logprobs");
    e = error_of([&] { sglang_answer_logprobs(none, k_yellow_triangle, "http://s:30000"); }, &code);
    EXPECT_NE(e.find("returned no meta_info.input_token_logprobs"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);
}

// ------------------------------------------------------------------------------------ a real llama-server

class live_openai : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!eagle_test::have_llama_server()) {
            return;
        }
        std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
        server_ = std::make_unique<eagle_test::llama_server_process>(k_model, k_mmproj, 2,
                                                                      std::string(EAGLE_TEST_TMP_DIR) + "/openai-server.log");
        eagle::model_params p;
        p.model_path = k_model;
        p.mmproj_path = k_mmproj;
        local_ = eagle::load_vlm(p);
    }
    static void TearDownTestSuite() {
        server_.reset();
        local_.reset();
    }
    void SetUp() override {
        if (!eagle_test::have_llama_server()) {
            GTEST_SKIP() << "this build found no llama-server";
        }
    }
    static std::unique_ptr<eagle::vlm_model> approximate(int32_t top_k, const std::vector<std::string> & urls = {}) {
        eagle::model_params p;
        p.engine = "openai";
        p.servers = urls.empty() ? std::vector<std::string>{server_->url()} : urls;
        p.top_logprobs = top_k;
        return eagle::load_vlm(p);
    }
    // llama-server 0.7.0's /v1/chat/completions joins the image part and the text part of a user turn without
    // the newline that its /completion prompt, eagle's format_prompt and libmtmd's LLaVA convention put after the
    // image ("<|im_start|>user\n<image>describe the image", usage.prompt_tokens 76 against 77), and the default
    // model answers otherwise without it. The oracle is the in-process engine fed that very sequence, as prompt
    // ids: the template's text around the image, the newline after it dropped, the image where the marker is.
    static constexpr int32_t k_placeholder = 7; // an id the prompt does not use, replaced by the image
    static std::vector<int32_t> chat_prompt_ids() {
        const std::string text = local_->format_prompt("describe the image", false);
        const size_t at = text.find("<__media");
        const size_t end = text.find("__>", at) + 3;
        EXPECT_EQ(text.substr(end, 1), "\n") << "eagle's prompt no longer puts a newline after the image: " << text;
        std::vector<int32_t> ids = local_->tokenize(text.substr(0, at), true, true);
        ids.insert(ids.end(), 4, k_placeholder);
        const std::vector<int32_t> after = local_->tokenize(text.substr(end + 1), false, true);
        ids.insert(ids.end(), after.begin(), after.end());
        return ids;
    }
    static eagle::score_request chat_request() {
        eagle::score_request r = request(*local_);
        r.prompt_ids = chat_prompt_ids();
        r.image_token = k_placeholder;
        return r;
    }
    static eagle::score_request request(const eagle::vlm_model & model) {
        eagle::score_request r;
        r.image = eagle::load_image(k_image);
        r.prompt = "describe the image";
        r.answer = model.tokenize(k_answer, false);
        return r;
    }
    static inline std::unique_ptr<eagle_test::llama_server_process> server_;
    static inline std::unique_ptr<eagle::vlm_model> local_;
};

TEST_F(live_openai, word_pieces_are_the_model_tokens) {
    // the default model's vocabulary is word-level: the engine's split of a text answer is the model's own
    const auto model = approximate(20);
    const std::vector<int32_t> mine = model->tokenize(k_answer, false);
    const std::vector<int32_t> theirs = local_->tokenize(k_answer, false);
    ASSERT_EQ(mine.size(), theirs.size());
    for (size_t i = 0; i < mine.size(); ++i) {
        EXPECT_EQ(model->token_piece(mine[i]), local_->token_piece(theirs[i])) << i;
    }
    EXPECT_EQ(model->detokenize(mine), k_answer);
    EXPECT_TRUE(model->is_approximate());
    EXPECT_FALSE(local_->is_approximate());
}

TEST_F(live_openai, probabilities_equal_exact_inside_the_top_k_and_0_only_outside) {
    const eagle::score_request exact_request = chat_request();
    std::vector<eagle::mask> masks = eagle_test::random_masks(exact_request.image, 23, 7);
    masks.push_back(eagle::mask::empty(exact_request.image.nx, exact_request.image.ny)); // many targets outside the top k
    const std::vector<float> exact = scores(*local_, exact_request, masks, nullptr, 4);
    const size_t n_targets = exact_request.answer.size();
    float max_diff = 0.0f;
    for (int32_t k : {1, 3, 20}) {
        const auto model = approximate(k);
        eagle::scorer_stats stats;
        const std::vector<float> approx = scores(*model, request(*model), masks, &stats, 4);
        ASSERT_EQ(approx.size(), exact.size());
        int64_t n_zero = 0;
        for (size_t i = 0; i < approx.size(); ++i) {
            if (approx[i] > 0.0f) {
                max_diff = std::max(max_diff, std::fabs(approx[i] - exact[i]));
                EXPECT_NEAR(approx[i], exact[i], k_tol) << "k " << k << " mask " << i / n_targets << " target " << i % n_targets;
            } else {
                ++n_zero;
                // outside the top k: k tokens are at least as probable, so (k + 1) p <= 1
                EXPECT_LE(exact[i], 1.0f / float(k + 1) + k_tol) << "k " << k << " mask " << i / n_targets << " target " << i % n_targets;
            }
        }
        EXPECT_EQ(stats.n_backend_calls, int64_t(masks.size() * n_targets)); // one call per masked image and target
        EXPECT_EQ(stats.engine_value("n_outside_top_k"), n_zero);
        EXPECT_EQ(stats.engine_value("top_logprobs"), k);
        if (k == 1) {
            EXPECT_GT(n_zero, 0) << "no target fell outside the top 1: the test does not reach p = 0";
        }
        if (k == 20) {
            EXPECT_LT(n_zero, int64_t(approx.size()) / 4);
        }
    }
    std::cout << "max |approximate - exact| inside the top k: " << max_diff << "\n";
}

TEST_F(live_openai, generation_equals_in_process) {
    const auto model = approximate(20);
    eagle::generate_request g{eagle::load_image(k_image), "describe the image", false, 32};
    const eagle::generation got = model->new_session({})->generate(g);
    g.prompt_ids = chat_prompt_ids();
    g.image_token = k_placeholder;
    const eagle::generation want = local_->new_session({})->generate(g);
    EXPECT_EQ(got.text, want.text);
    EXPECT_FALSE(got.is_cut);
    // the engine's answer has every token but the end token (llama-server shows it as an empty text, OpenAI not at all)
    ASSERT_EQ(got.tokens.size() + 1, want.tokens.size());
    EXPECT_TRUE(want.tokens.back().is_eog);
    for (size_t i = 0; i < got.tokens.size(); ++i) {
        EXPECT_EQ(got.tokens[i].piece, want.tokens[i].piece) << i;
        EXPECT_NEAR(got.tokens[i].prob, want.tokens[i].prob, k_tol) << i;
    }
}

TEST_F(live_openai, explanations_are_marked_approximate_with_their_calls) {
    const auto model = approximate(20);
    eagle::explanation_request rq;
    rq.image_path = k_image;
    rq.prompt = "describe the image";
    rq.append_eog = false;
    rq.regions.kind = eagle::region_kind::grid;
    rq.regions.n_cols = 2;
    rq.regions.n_rows = 2;
    const auto session = model->new_session({});
    const eagle::explanation_record rec = eagle::run_explanation(*model, *session, rq);
    EXPECT_TRUE(rec.engine.is_approximate);
    const int64_t n_calls = rec.scorer.n_backend_calls;
    // one generation, then one call per scored masked image and target
    EXPECT_EQ(n_calls, 1 + rec.scorer.n_evaluations * int64_t(rec.target_indices.size()));
    const nlohmann::ordered_json j = eagle::to_json(rec);
    EXPECT_EQ(j["run"]["approximate"], true);
    EXPECT_EQ(j["run"]["calls"], n_calls);
    // the in-process engine's explanation says it is exact
    const auto local_session = local_->new_session({});
    EXPECT_EQ(eagle::to_json(eagle::run_explanation(*local_, *local_session, rq))["run"]["approximate"], false);
}

TEST_F(live_openai, failures_are_one_clear_error) {
    eagle::errc code{};
    const std::string nobody = "http://127.0.0.1:" + std::to_string(eagle_test::free_port());
    std::string e = error_of([&] { approximate(20, {nobody}); }, &code);
    EXPECT_NE(e.find("OpenAI-compatible server at " + nobody + " does not answer"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::io);
    // a dead server among live ones is dropped, the others serve
    EXPECT_NE(approximate(20, {nobody, server_->url()})->description().find("on 1 OpenAI-compatible server ("), std::string::npos);

    // a model the server does not list
    eagle::model_params p;
    p.engine = "openai";
    p.servers = {server_->url()};
    p.model_path = "gpt-4o";
    e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("does not list the model 'gpt-4o'"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::model);

    // the end of the answer has no probability on these servers
    const auto model = approximate(20);
    eagle::score_request r = request(*model);
    r.answer.push_back(model->eog_token());
    e = error_of([&] { model->new_session({})->prepare(r); }, &code);
    EXPECT_NE(e.find("cannot score the end of the answer"), std::string::npos) << e;
    EXPECT_NE(e.find("--no-eog"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);

    // a raw prompt cannot be sent: the server applies its chat template
    eagle::score_request raw = request(*model);
    raw.use_raw_prompt = true;
    e = error_of([&] { model->new_session({})->prepare(raw); }, &code);
    EXPECT_NE(e.find("--raw-prompt"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);

    // a server that answers with an error: its status and message, naming the server
    eagle::server_backend::http_client client(server_->url(), 5.0, 30.0);
    const json body = next_token_body("", chat_messages("p", "bm90IGFuIGltYWdl", ""), 20); // "not an image"
    e = error_of([&] { eagle::server_backend::call(client, "/v1/chat/completions", body.dump(), {}, k_server_kind); }, &code);
    EXPECT_NE(e.find("OpenAI-compatible server at " + server_->url() + "/v1/chat/completions failed (HTTP "), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::backend);
}

TEST_F(live_openai, the_cli_selects_it_warns_once_and_fails_in_one_line) {
    const std::string out = std::string(EAGLE_TEST_TMP_DIR) + "/openai-cli-" + std::to_string(getpid());
    std::filesystem::remove_all(out);
    eagle::testing::run_result r = eagle::testing::run_eagle(
        {"explain", "--server", server_->url(), "--server-api", "openai", "--top-logprobs", "5", "-i", k_image, "--no-eog",
         "--segmenter", "grid", "--grid", "2x1", "-o", out},
        EAGLE_TEST_TMP_DIR);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    size_t n_warnings = 0;
    for (size_t at = r.err.find("is approximate"); at != std::string::npos; at = r.err.find("is approximate", at + 1)) {
        ++n_warnings;
    }
    EXPECT_EQ(n_warnings, 1u) << r.err;
    std::ifstream in(out + "/explanation.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["run"]["approximate"], true);
    // the generation, then a call per scored masked image and target
    const int64_t n_targets = int64_t(j["scored_tokens"]["answer"].size());
    EXPECT_EQ(j["run"]["calls"].get<int64_t>(), 1 + j["run"]["scorer"]["n_evaluations"].get<int64_t>() * n_targets);

    // a server that does not answer: one error line, nonzero exit
    const std::string nobody = "http://127.0.0.1:" + std::to_string(eagle_test::free_port());
    r = eagle::testing::run_eagle({"explain", "--server", nobody, "--server-api", "openai", "-i", k_image, "-o", out + "-x"},
                                  EAGLE_TEST_TMP_DIR);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("OpenAI-compatible server at " + nobody + " does not answer"), std::string::npos) << r.err;
    // an API the option does not know, and --server-api without --server
    r = eagle::testing::run_eagle({"explain", "--server", nobody, "--server-api", "grpc"}, EAGLE_TEST_TMP_DIR);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--server-api"), std::string::npos) << r.err;
    r = eagle::testing::run_eagle({"explain", "--server-api", "openai", "-i", k_image}, EAGLE_TEST_TMP_DIR);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--server-api openai needs --server URL"), std::string::npos) << r.err;
}

} // namespace
