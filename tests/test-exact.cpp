// The exact engines on vLLM and SGLang (src/backends/openai/exact-*), implemented from their documentation:
//   * their request bodies and response parsing as pure functions (tokenize, detokenize, generation);
//   * mock servers started in the test that speak the documented vLLM (/tokenize, /detokenize,
//     /v1/chat/completions with prompt_logprobs) and SGLang (/tokenize, /detokenize, /generate with
//     input_token_logprobs) formats and check the requests' documented parameters; their log-probabilities come
//     from an oracle, the in-process llama.cpp engine scoring the very masked image each request carries. Every
//     probability and a whole explanation through --server-api vllm / sglang equal the oracle's own;
//   * every failure is one clear error: server down, an answer that is not JSON, no prompt_logprobs, a server
//     that tokenizes the answer otherwise, a model the server does not serve, the end of the answer.
// Skipped (the mock-server part) where the build has no in-process llama.cpp engine.
#include "openai/exact-api.h"

#include "base64-decode.h"
#include "cli-runner.h"
#include "llama-server-process.h"
#include "mock-http-server.h"
#include "server-test-util.h"

#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

namespace {

using namespace eagle::openai_backend;
using eagle_test::error_of;
using eagle_test::max_abs_diff;
using eagle_test::random_masks;
using eagle_test::scores;

const std::string k_models = EAGLE_TEST_MODELS_DIR;
const std::string k_model = k_models + "/shapesworld-model.gguf";
const std::string k_mmproj = k_models + "/shapesworld-mmproj.gguf";
const std::string k_image = std::string(EAGLE_TEST_DATA_DIR) + "/samples/shapesworld/000002.png";
const std::string k_prompt = "describe the image";
const std::string k_qwen_image = "<|vision_start|><|image_pad|><|vision_end|>"; // SGLang's image token for Qwen2.5-VL

// The oracle scores each masked image alone, the in-process explanation scores masks in batches: llama.cpp's
// CPU logits do not depend on the batch without flash attention (test-server's bound, kept).
constexpr float k_tol = 1e-4f;

// ---------------------------------------------------------------------------------------------- pure API

TEST(exact_api, tokenize_and_detokenize_follow_the_documented_shapes) {
    const json t = tokenize_body("m", "a yellow", false);
    EXPECT_EQ(t, json::parse(R"({"prompt": "a yellow", "add_special_tokens": false, "model": "m"})"));
    EXPECT_FALSE(tokenize_body("", "x", true).contains("model"));
    // vLLM TokenizeResponse: count, max_model_len, tokens
    EXPECT_EQ(parse_tokens(json::parse(R"({"count": 2, "max_model_len": 4096, "tokens": [264, 447]})"), exact_api::vllm, "http://v"),
              (std::vector<int32_t>{264, 447}));
    eagle::errc code{};
    std::string e = error_of([&] { parse_tokens(json::parse(R"({"count": 2})"), exact_api::sglang, "http://s"); }, &code);
    EXPECT_NE(e.find("SGLang server at http://s: /tokenize answered without \"tokens\""), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::backend);
    e = error_of([&] { parse_tokens(json::parse(R"({"tokens": ["a"]})"), exact_api::vllm, "http://v"); }, &code);
    EXPECT_NE(e.find("not an id"), std::string::npos) << e;
    const std::vector<int32_t> ids = {264, 447};
    EXPECT_EQ(detokenize_body("", ids), json::parse(R"({"tokens": [264, 447]})"));
    // vLLM DetokenizeResponse {"prompt"}, SGLang {"text"}: each reads its own field only
    EXPECT_EQ(parse_detokenized(json::parse(R"({"prompt": "a yellow"})"), exact_api::vllm, "http://v"), "a yellow");
    EXPECT_EQ(parse_detokenized(json::parse(R"({"text": "a yellow"})"), exact_api::sglang, "http://s"), "a yellow");
    e = error_of([&] { parse_detokenized(json::parse(R"({"text": "a yellow"})"), exact_api::vllm, "http://v"); }, &code);
    EXPECT_NE(e.find("/detokenize answered without \"prompt\""), std::string::npos) << e;
}

TEST(exact_api, vllm_generation_reads_token_ids) {
    const json b = vllm_generation_body("m", "describe", "QUJD", 32, "be brief");
    EXPECT_EQ(b["messages"][0], json({{"role", "system"}, {"content", "be brief"}}));
    EXPECT_EQ(b["messages"][1]["role"], "user");
    EXPECT_EQ(b["return_tokens_as_token_ids"], true);
    EXPECT_EQ(b["logprobs"], true);
    EXPECT_EQ(b["max_tokens"], 32);
    json response = json::parse(R"({"object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "a yellow"}, "finish_reason": "stop",
        "logprobs": {"content": [{"token": "token_id:264", "logprob": -0.01, "bytes": null, "top_logprobs": []},
                                 {"token": "token_id:447", "logprob": -0.5, "bytes": null, "top_logprobs": []}]}}]})");
    const exact_generation g = vllm_parse_generation(response, "http://v");
    EXPECT_TRUE(g.is_stopped);
    EXPECT_EQ(g.tokens, (std::vector<std::pair<int32_t, double>>{{264, -0.01}, {447, -0.5}}));
    response["choices"][0]["logprobs"]["content"][1]["token"] = " yellow"; // a vLLM that ignored the parameter
    eagle::errc code{};
    const std::string e = error_of([&] { vllm_parse_generation(response, "http://v"); }, &code);
    EXPECT_NE(e.find("not as token_id:<id>"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::unsupported);
}

TEST(exact_api, sglang_generation_reads_output_logprobs_and_the_matched_stop) {
    const json b = sglang_generation_body("<prompt>", "QUJD", 16);
    EXPECT_EQ(b["return_logprob"], true);
    EXPECT_EQ(b["sampling_params"]["max_new_tokens"], 16);
    EXPECT_FALSE(b.contains("logprob_start_len")); // output tokens only
    json response = json::parse(R"({"text": "a yellow", "meta_info": {"finish_reason": {"type": "stop", "matched": 2},
        "output_token_logprobs": [[-0.01, 264, null], [-0.5, 447, null], [-0.02, 2, null]]}})");
    exact_generation g = sglang_parse_generation(response, "http://s");
    EXPECT_TRUE(g.is_stopped);
    EXPECT_EQ(g.stop_token, 2);
    ASSERT_EQ(g.tokens.size(), 3u);
    EXPECT_EQ(g.tokens[1], (std::pair<int32_t, double>{447, -0.5}));
    response["meta_info"]["finish_reason"] = json::parse(R"({"type": "length", "length": 3})");
    g = sglang_parse_generation(response, "http://s");
    EXPECT_FALSE(g.is_stopped);
    EXPECT_EQ(g.stop_token, -1);
    response["meta_info"].erase("output_token_logprobs");
    eagle::errc code{};
    EXPECT_NE(error_of([&] { sglang_parse_generation(response, "http://s"); }, &code).find("no meta_info.output_token_logprobs"),
              std::string::npos);
    EXPECT_EQ(code, eagle::errc::unsupported);
}

// ------------------------------------------------------------------------------------------ mock servers

using eagle_test::base64_decode;

// What a mock server gets wrong on purpose, one failure each.
struct mock_fault {
    bool is_not_json = false;          // scoring answers with an HTML page
    bool drops_prompt_logprobs = false; // vLLM: no prompt_logprobs in the answer
    bool tokenizes_otherwise = false;  // the scored prompt's answer tokens differ from /tokenize's
};

// A vLLM or SGLang server of the documented request and response shapes, its numbers from the oracle.
class mock_server {
public:
    static constexpr int32_t k_placeholder = 7; // an id the prompts do not use, where the oracle puts the image

    mock_server(exact_api api, const eagle::vlm_model & oracle, std::string model = "shapesworld", mock_fault fault = {})
        : api_(api), oracle_(oracle), model_(std::move(model)), fault_(fault),
          http_([this](const eagle_test::http_request & r) { return handle(r); }) {}

    std::string url() const { return http_.url(); }
    int n_scored() const { return n_scored_; }

    // The prompt ids an SGLang prompt text stands for: the image token's run replaced by placeholders.
    static std::vector<int32_t> sglang_prompt_ids(const eagle::vlm_model & oracle, const std::vector<int32_t> & ids) {
        const std::vector<int32_t> image = oracle.tokenize(k_qwen_image, false, true);
        const auto at = std::search(ids.begin(), ids.end(), image.begin(), image.end());
        if (at == ids.end()) {
            throw std::runtime_error("mock SGLang: no image token in the prompt");
        }
        std::vector<int32_t> out = ids;
        std::fill_n(out.begin() + (at - ids.begin()), image.size(), k_placeholder);
        return out;
    }

private:
    using reply = std::pair<int, std::string>;

    static reply error_reply(int status, const std::string & message) {
        return {status, json({{"object", "error"}, {"message", message}, {"code", status}}).dump()};
    }

    eagle::image_rgb8 decode_image(const std::string & data_uri) {
        const std::string prefix = "data:image/png;base64,";
        if (data_uri.rfind(prefix, 0) != 0) {
            throw std::runtime_error("not a PNG data URI");
        }
        // one counter for every mock server of the process: two servers (and their request threads) must never
        // write the same file
        static std::atomic<int64_t> n_images{0};
        std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
        const std::string path = std::string(EAGLE_TEST_TMP_DIR) + "/mock-exact-" + std::to_string(getpid()) + "-" +
                                 std::to_string(n_images++) + ".png";
        std::ofstream(path, std::ios::binary) << base64_decode(data_uri.substr(prefix.size()));
        eagle::image_rgb8 image = eagle::load_image(path);
        std::filesystem::remove(path);
        return image;
    }

    // The oracle's probabilities of answer after the prompt, the image as given (already masked).
    std::vector<float> oracle_probs(eagle::score_request r) {
        eagle::session_params sp;
        sp.use_memo = false;
        sp.n_seq = 1;
        const auto session = oracle_.new_session(sp);
        session->prepare(r);
        std::vector<float> probs(r.answer.size());
        const eagle::mask all = eagle::mask::full(r.image.nx, r.image.ny);
        session->score(std::span<const eagle::mask>(&all, 1), probs);
        ++n_scored_;
        return probs;
    }

    reply handle(const eagle_test::http_request & r) {
        std::lock_guard<std::mutex> lock(mutex_); // the oracle serves one request at a time
        try {
            const json body = r.body.empty() ? json() : json::parse(r.body);
            if (r.method == "GET" && r.path == "/v1/models") {
                return {200, json({{"object", "list"}, {"data", {{{"id", model_}, {"object", "model"}}}}}).dump()};
            }
            if (body.contains("model") && body["model"] != model_) {
                return error_reply(404, "The model `" + body["model"].get<std::string>() + "` does not exist.");
            }
            if (r.path == "/tokenize") {
                const std::vector<int32_t> ids = oracle_.tokenize(body.at("prompt").get<std::string>(), body.value("add_special_tokens", true), true);
                return {200, json({{"count", ids.size()}, {"max_model_len", 4096}, {"tokens", ids}}).dump()};
            }
            if (r.path == "/detokenize") {
                const std::string text = oracle_.detokenize(body.at("tokens").get<std::vector<int32_t>>());
                return {200, json({{api_ == exact_api::vllm ? "prompt" : "text", text}}).dump()};
            }
            if (fault_.is_not_json) {
                return {200, "<html><body>502 Bad Gateway</body></html>"};
            }
            if (api_ == exact_api::vllm && r.path == "/v1/chat/completions") {
                return vllm_chat(body);
            }
            if (api_ == exact_api::sglang && r.path == "/generate") {
                return sglang_generate(body);
            }
            return error_reply(404, "Not Found");
        } catch (const std::exception & e) {
            return error_reply(400, std::string("mock: ") + e.what());
        }
    }

    reply vllm_chat(const json & body) {
        const json & messages = body.at("messages");
        eagle::score_request r;
        for (const json & part : messages.at(0).at("content")) {
            if (part.at("type") == "image_url") {
                r.image = decode_image(part.at("image_url").at("url").get<std::string>());
            } else {
                r.prompt = part.at("text").get<std::string>();
            }
        }
        if (body.contains("prompt_logprobs")) {
            // the documented way to score a given answer: the final assistant turn continued, its tokens in the prompt
            if (body.value("continue_final_message", false) != true || body.value("add_generation_prompt", true) != false ||
                messages.size() != 2 || messages[1].at("role") != "assistant") {
                return error_reply(400, "mock vLLM: scoring needs the answer as a continued final assistant message");
            }
            r.answer = oracle_.tokenize(messages[1].at("content").get<std::string>(), false, true);
            const std::vector<float> probs = oracle_probs(r);
            json prompt_logprobs = json::array({nullptr});
            for (int32_t id : oracle_.tokenize(oracle_.format_prompt(r.prompt, false), true, true)) {
                prompt_logprobs.push_back({{std::to_string(id), {{"logprob", -1.5}, {"rank", 3}, {"decoded_token", "x"}}}});
            }
            for (size_t i = 0; i < r.answer.size(); ++i) {
                const int32_t id = r.answer[i] + (fault_.tokenizes_otherwise && i == 1 ? 1 : 0);
                prompt_logprobs.push_back(
                    {{std::to_string(id), {{"logprob", std::log(double(probs[i]))}, {"rank", 1}, {"decoded_token", oracle_.token_piece(id)}}}});
            }
            json response = {{"id", "chatcmpl-1"}, {"object", "chat.completion"}, {"model", model_},
                             {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", " "}}}, {"logprobs", nullptr},
                                           {"finish_reason", "length"}}}}};
            if (!fault_.drops_prompt_logprobs) {
                response["prompt_logprobs"] = prompt_logprobs;
            }
            return {200, response.dump()};
        }
        if (body.value("return_tokens_as_token_ids", false) != true || body.value("logprobs", false) != true) {
            return error_reply(400, "mock vLLM: generation is checked with token ids and logprobs");
        }
        eagle::generate_request g{r.image, r.prompt, false, body.at("max_tokens").get<int32_t>()};
        const eagle::generation gen = oracle_.new_session({})->generate(g);
        json content = json::array();
        for (const eagle::generated_token & t : gen.tokens) { // the stop token included, as vLLM's output ids have it
            content.push_back({{"token", "token_id:" + std::to_string(t.id)}, {"logprob", std::log(double(t.prob))},
                               {"bytes", nullptr}, {"top_logprobs", json::array()}});
        }
        return {200, json({{"object", "chat.completion"}, {"model", model_},
                           {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", gen.text}}},
                                         {"logprobs", {{"content", content}}}, {"finish_reason", gen.is_cut ? "length" : "stop"}}}}})
                              .dump()};
    }

    reply sglang_generate(const json & body) {
        eagle::score_request r;
        r.image = decode_image(body.at("image_data").get<std::string>());
        const std::vector<int32_t> ids = oracle_.tokenize(body.at("text").get<std::string>(), true, true);
        r.image_token = k_placeholder;
        if (body.value("return_logprob", false) != true) {
            return error_reply(400, "mock SGLang: asked without return_logprob");
        }
        if (body.contains("logprob_start_len")) {
            const int32_t start = body.at("logprob_start_len").get<int32_t>();
            if (start < 1 || start > int32_t(ids.size())) {
                return error_reply(400, "mock SGLang: logprob_start_len " + std::to_string(start) + " outside the prompt");
            }
            const std::vector<int32_t> prompt = sglang_prompt_ids(oracle_, std::vector<int32_t>(ids.begin(), ids.begin() + start));
            r.prompt_ids = prompt;
            r.answer.assign(ids.begin() + start, ids.end());
            const std::vector<float> probs = oracle_probs(r);
            json input = json::array();
            for (int32_t i = std::max(0, start - 3); i < start; ++i) { // prompt tokens before the answer, as an
                input.push_back({-1.5, ids[size_t(i)], nullptr});        // image's expansion shifts the start
            }
            for (size_t i = 0; i < r.answer.size(); ++i) {
                const int32_t id = r.answer[i] + (fault_.tokenizes_otherwise && i == 1 ? 1 : 0);
                input.push_back({std::log(double(probs[i])), id, nullptr});
            }
            return {200, json({{"text", " "}, {"meta_info", {{"prompt_tokens", ids.size()}, {"input_token_logprobs", input},
                                                            {"finish_reason", {{"type", "length"}, {"length", 1}}}}}})
                             .dump()};
        }
        eagle::generate_request g;
        g.image = r.image;
        g.prompt_ids = sglang_prompt_ids(oracle_, ids);
        g.image_token = k_placeholder;
        g.max_tokens = body.at("sampling_params").at("max_new_tokens").get<int32_t>();
        const eagle::generation gen = oracle_.new_session({})->generate(g);
        json output = json::array();
        for (const eagle::generated_token & t : gen.tokens) {
            output.push_back({std::log(double(t.prob)), t.id, nullptr});
        }
        json finish = gen.is_cut ? json({{"type", "length"}, {"length", gen.tokens.size()}})
                                 : json({{"type", "stop"}, {"matched", gen.tokens.back().id}});
        return {200, json({{"text", gen.text}, {"meta_info", {{"output_token_logprobs", output}, {"finish_reason", finish}}}}).dump()};
    }

    exact_api api_;
    const eagle::vlm_model & oracle_;
    std::string model_;
    mock_fault fault_;
    std::mutex mutex_;
    std::atomic<int> n_scored_{0};
    eagle_test::mock_http_server http_; // last: stopped first, before what its handler uses
};

class mock_exact : public ::testing::Test {
protected:
    static bool have_oracle() {
        const std::vector<std::string> engines = eagle::vlm_engines();
        return std::find(engines.begin(), engines.end(), "llama") != engines.end();
    }
    static void SetUpTestSuite() {
        if (!have_oracle()) {
            return;
        }
        std::filesystem::create_directories(EAGLE_TEST_TMP_DIR);
        eagle::model_params p;
        p.model_path = k_model;
        p.mmproj_path = k_mmproj;
        oracle_ = eagle::load_vlm(p);
    }
    static void TearDownTestSuite() { oracle_.reset(); }
    void SetUp() override {
        if (!have_oracle()) {
            GTEST_SKIP() << "this build has no in-process llama.cpp engine to be the oracle";
        }
    }
    static std::unique_ptr<eagle::vlm_model> exact(const std::string & engine, const std::vector<std::string> & urls,
                                                   const std::string & model = "") {
        eagle::model_params p;
        p.engine = engine;
        p.servers = urls;
        p.model_path = model;
        if (engine == "sglang") {
            p.chat_template = "qwen2.5-vl";
        }
        return eagle::load_vlm(p);
    }
    // The explanation request; SGLang's prompt is the Qwen2.5-VL rendering eagle sends, given to the oracle as ids.
    static eagle::explanation_request explanation() {
        eagle::explanation_request rq;
        rq.image_path = k_image;
        rq.prompt = k_prompt;
        rq.append_eog = false;
        rq.regions.kind = eagle::region_kind::grid;
        rq.regions.n_cols = 3;
        rq.regions.n_rows = 2;
        return rq;
    }
    static std::vector<int32_t> sglang_oracle_prompt() {
        const std::string text = eagle::render_chat_prompt(eagle::chat_family::qwen2_5_vl, std::nullopt, k_prompt, k_qwen_image);
        return mock_server::sglang_prompt_ids(*oracle_, oracle_->tokenize(text, true, true));
    }
    static void expect_same_explanation(const eagle::explanation_record & got, const eagle::explanation_record & want) {
        EXPECT_EQ(got.answer, want.answer);
        EXPECT_EQ(got.answer_text, want.answer_text);
        EXPECT_EQ(got.result.order, want.result.order);
        EXPECT_LE(max_abs_diff(got.result.insertion_score, want.result.insertion_score), k_tol);
        EXPECT_LE(max_abs_diff(got.result.deletion_score, want.result.deletion_score), k_tol);
        EXPECT_LE(max_abs_diff(got.result.region_value, want.result.region_value), k_tol);
        EXPECT_EQ(got.result.n_evaluations, want.result.n_evaluations);
        EXPECT_FALSE(got.engine.is_approximate);
    }
    static inline std::unique_ptr<eagle::vlm_model> oracle_;
};

TEST_F(mock_exact, vllm_probabilities_and_explanation_equal_the_oracle) {
    mock_server a(exact_api::vllm, *oracle_), b(exact_api::vllm, *oracle_);
    const auto model = exact("vllm", {a.url(), b.url()});
    EXPECT_FALSE(model->is_approximate());
    eagle::score_request r;
    r.image = eagle::load_image(k_image);
    r.prompt = k_prompt;
    r.answer = oracle_->tokenize("a yellow triangle , a green square", false);
    const std::vector<eagle::mask> masks = random_masks(r.image, 6, 3);
    // two requests in flight per server: both servers take work
    EXPECT_LE(max_abs_diff(scores(*model, r, masks, nullptr, 2), scores(*oracle_, r, masks)), k_tol);
    EXPECT_GT(a.n_scored(), 0);
    EXPECT_GT(b.n_scored(), 0);

    const eagle::explanation_request rq = explanation();
    const auto oracle_session = oracle_->new_session({});
    const eagle::explanation_record want = eagle::run_explanation(*oracle_, *oracle_session, rq);
    const auto session = model->new_session({});
    const eagle::explanation_record got = eagle::run_explanation(*model, *session, rq);
    expect_same_explanation(got, want);
    const nlohmann::ordered_json run = eagle::to_json(got)["run"];
    EXPECT_EQ(run["engine"], "vllm");
    EXPECT_EQ(run["servers"].get<std::vector<std::string>>(), (std::vector<std::string>{a.url(), b.url()}));
    EXPECT_EQ(run["approximate"], false);
}

TEST_F(mock_exact, sglang_probabilities_and_explanation_equal_the_oracle) {
    mock_server a(exact_api::sglang, *oracle_);
    const auto model = exact("sglang", {a.url()});
    eagle::score_request r;
    r.image = eagle::load_image(k_image);
    r.prompt = k_prompt;
    r.answer = oracle_->tokenize("a yellow triangle , a green square", false);
    const std::vector<eagle::mask> masks = random_masks(r.image, 4, 5);
    eagle::score_request oracle_request = r;
    oracle_request.prompt_ids = sglang_oracle_prompt();
    oracle_request.image_token = mock_server::k_placeholder;
    EXPECT_LE(max_abs_diff(scores(*model, r, masks), scores(*oracle_, oracle_request, masks)), k_tol);

    eagle::explanation_request rq = explanation();
    const auto session = model->new_session({});
    const eagle::explanation_record got = eagle::run_explanation(*model, *session, rq);
    rq.prompt_ids = sglang_oracle_prompt();
    rq.image_token = mock_server::k_placeholder;
    const auto oracle_session = oracle_->new_session({});
    const eagle::explanation_record want = eagle::run_explanation(*oracle_, *oracle_session, rq);
    expect_same_explanation(got, want);
    EXPECT_EQ(eagle::to_json(got)["run"]["engine"], "sglang");
}

TEST_F(mock_exact, failures_are_one_clear_error) {
    eagle::errc code{};
    eagle::score_request r;
    r.image = eagle::load_image(k_image);
    r.prompt = k_prompt;
    r.answer = oracle_->tokenize("a yellow triangle", false);
    const std::vector<eagle::mask> masks = random_masks(r.image, 1, 9);
    auto score_error = [&](const eagle::vlm_model & model) { return error_of([&] { scores(model, r, masks); }, &code); };

    // a server that does not answer
    const std::string nobody = "http://127.0.0.1:" + std::to_string(eagle_test::free_port());
    std::string e = error_of([&] { exact("vllm", {nobody}); }, &code);
    EXPECT_NE(e.find("vLLM server at " + nobody + " does not answer"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::io);
    for (exact_api api : {exact_api::vllm, exact_api::sglang}) {
        const std::string engine = api == exact_api::vllm ? "vllm" : "sglang";
        const std::string kind = server_kind(api);
        {   // a model the server does not serve
            mock_server s(api, *oracle_);
            e = error_of([&] { exact(engine, {s.url()}, "Qwen/Qwen2.5-VL-7B-Instruct"); }, &code);
            EXPECT_NE(e.find(kind + " at " + s.url() + " does not list the model 'Qwen/Qwen2.5-VL-7B-Instruct'"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::model);
        }
        {   // two servers with different models
            mock_server s(api, *oracle_), t(api, *oracle_, "other-model");
            e = error_of([&] { exact(engine, {s.url(), t.url()}); }, &code);
            EXPECT_NE(e.find("every --server must run the same model"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::model);
        }
        {   // an answer that is not JSON
            mock_server s(api, *oracle_, "shapesworld", {.is_not_json = true});
            e = score_error(*exact(engine, {s.url()}));
            EXPECT_NE(e.find(kind + " at " + s.url()), std::string::npos) << e;
            EXPECT_NE(e.find("answered no JSON"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::backend);
        }
        {   // the server tokenizes the answer otherwise than its /tokenize
            mock_server s(api, *oracle_, "shapesworld", {.tokenizes_otherwise = true});
            e = score_error(*exact(engine, {s.url()}));
            EXPECT_NE(e.find("answer token 1 is"), std::string::npos) << e;
            EXPECT_NE(e.find("tokenizes the answer otherwise"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::backend);
        }
        {   // the end of the answer cannot be scored; nor another token than the answer's own
            mock_server s(api, *oracle_);
            const auto model = exact(engine, {s.url()});
            e = error_of([&] { model->eog_token(); }, &code);
            EXPECT_NE(e.find("--no-eog"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::unsupported);
            eagle::score_request other = r;
            other.target_indices = {1};
            other.target_ids = {r.answer[2]};
            e = error_of([&] { model->new_session({})->prepare(other); }, &code);
            EXPECT_NE(e.find("scores the answer's own tokens only"), std::string::npos) << e;
            EXPECT_EQ(code, eagle::errc::unsupported);
        }
    }
    {   // vLLM without prompt_logprobs in its answer
        mock_server s(exact_api::vllm, *oracle_, "shapesworld", {.drops_prompt_logprobs = true});
        e = score_error(*exact("vllm", {s.url()}));
        EXPECT_NE(e.find("vLLM server at " + s.url() + " returned no prompt_logprobs"), std::string::npos) << e;
        EXPECT_EQ(code, eagle::errc::unsupported);
    }
    // SGLang needs a template family eagle can render with its image token
    eagle::model_params p;
    p.engine = "sglang";
    p.servers = {nobody};
    e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("give the model's --chat-template"), std::string::npos) << e;
    EXPECT_EQ(code, eagle::errc::invalid_argument);
    p.chat_template = "gemma3";
    e = error_of([&] { eagle::load_vlm(p); }, &code);
    EXPECT_NE(e.find("not 'gemma3'"), std::string::npos) << e;
}

TEST_F(mock_exact, the_cli_selects_vllm_and_records_it) {
    mock_server s(exact_api::vllm, *oracle_);
    const std::string out = std::string(EAGLE_TEST_TMP_DIR) + "/exact-cli-" + std::to_string(getpid());
    std::filesystem::remove_all(out);
    eagle::testing::run_result r = eagle::testing::run_eagle(
        {"explain", "--server", s.url(), "--server-api", "vllm", "-i", k_image, "--no-eog", "--segmenter", "grid", "--grid",
         "2x1", "-o", out},
        EAGLE_TEST_TMP_DIR);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(out + "/explanation.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["run"]["engine"], "vllm");
    EXPECT_EQ(j["run"]["approximate"], false);
    // the end of the answer asked for: one error line, nonzero exit
    r = eagle::testing::run_eagle({"explain", "--server", s.url(), "--server-api", "vllm", "-i", k_image, "--answer",
                                   "a yellow triangle", "-o", out + "-eog"},
                                  EAGLE_TEST_TMP_DIR);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--no-eog"), std::string::npos) << r.err;
}

} // namespace
