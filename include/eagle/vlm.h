// eagle/vlm.h - the engine seam: a vision-language model, and scoring sessions on it (whisper's
// context/state split). Engines implement both classes; eagle/backends.h's load_vlm() picks one.
//
//   std::unique_ptr<eagle::vlm_model> model = eagle::load_vlm({.model_path = "m.gguf", .mmproj_path = "p.gguf"});
//   std::unique_ptr<eagle::vlm_session> session = model->new_session({}); // context, KV cache, memo
//   eagle::generation gen = session->generate({image, "describe the image"});
//   session->prepare({image, "describe the image", false, answer_ids});
//   session->score(masks, probs);                                          // many masked images per batch
//
// Ownership: load_vlm and new_session hand over ownership; a session borrows its model, which must outlive it.
// Thread safety: a vlm_model is immutable after loading and may be shared by sessions on different threads
// (an engine serializes what it must inside). A vlm_session must be used by one thread at a time.
#pragma once

#include "eagle/chat-format.h"
#include "eagle/image.h"
#include "eagle/scorer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace eagle {

struct model_params {
    std::string engine = "llama"; // which engine loads it: "llama" (llama.cpp in process), "server" (running
                                  // llama-server processes over HTTP), "openai" (any OpenAI-compatible chat
                                  // server, approximate: top-k log-probabilities), "vllm" / "sglang" (exact, from
                                  // their prompt log-probabilities; implemented from their documentation, not yet
                                  // run against a live server) or "mock" (weight-free and analytic, for tests and
                                  // examples; no files)
    std::string model_path;       // text model GGUF (server: optional; when set, each server must serve a model
                                  // file of this name; openai: the model's name on the servers, default the
                                  // first one they list)
    std::string mmproj_path;      // multimodal projector GGUF (libmtmd; server: unused)
    std::vector<std::string> servers; // server: llama-server base URLs ("http://host:port"); the work is spread
                                      // over all of them, one that stops answering is dropped with a warning
    int32_t top_logprobs = 20;    // openai: log-probabilities asked per call (1..20); a target outside them scores 0
    std::vector<std::string> rpc_servers; // llama: ggml RPC servers ("host:port", llama.cpp's rpc-server) the
                                          // model's layers are split over (by their memory); the projector and
                                          // the rest stay in process. Unreachable: errc::io at load
    int32_t n_threads    = 0;     // 0 = all hardware threads (or $EAGLE_THREADS); load_vlm rejects < 0
    int32_t n_workers    = 0;     // llama: the masks of a batch are split over this many workers, each one thread
                                  // with its own llama.cpp context and its own copy of the projector (its weights
                                  // once more in memory per worker); a batch of one mask runs on all threads.
                                  // 0 = auto: one per thread on a CPU-only model with BLAS on, 2..4 threads and
                                  // a text model under 1B parameters (on 2 cores 1.2-1.6x faster per evaluation
                                  // than one 2-thread team; at 3B 5% slower, BENCHMARKS.md), else 1.
                                  // 1..n_threads, > 1 only on the CPU (no GPU layers, no RPC); checked by load_vlm
                                  // (other engines ignore it). Scores do not depend on it without BLAS; with BLAS,
                                  // as for the batch, by ~2e-5.
    bool    pin_workers  = true;  // llama, n_workers > 1: each worker thread bound to a CPU of its own while a batch is
                                  // scored (where the process may use that many), so that the threads a library
                                  // starts from a worker (ggml's BLAS backend, per image) run beside it, not on the
                                  // other worker's busy core; the scores do not depend on it
    int32_t n_gpu_layers = 0;     // layers offloaded to a GPU backend if one is loaded; -1 = all; < -1 rejected;
                                  // with rpc_servers, 0 means all (to the RPC servers, then local GPUs)
    std::string blas = "auto";    // llama: ggml's BLAS backend for the large matrix products of the text model
                                  // and the vision encoder, on the libblas.so.3 the process finds (Debian: the
                                  // one update-alternatives selects). "on", "off", or "auto": on when that
                                  // library is OpenBLAS built with OpenMP (libopenblas0-openmp; it then runs on
                                  // ggml's own OpenMP threads: 1.4-2.9x faster per evaluation, BENCHMARKS.md),
                                  // off for any other (the reference BLAS is slower than ggml; OpenBLAS's own
                                  // pthreads contend with ggml's). With BLAS a probability depends on the batch
                                  // its mask is in by ~2e-5 (OpenBLAS blocks by shape). Checked by load_vlm.
                                  // Process-wide once on: every llama.cpp context made afterwards in the
                                  // process uses it too ("off" then cannot take it back).
    std::string chat_template = "auto"; // how a prompt is rendered (eagle/chat-format.h): a family's name
                                        // ("qwen2.5-vl", "llama.cpp", ...) or "auto" (detect_chat_family on the
                                        // model's GGUF template and name); checked by load_vlm
    std::optional<std::string> system_prompt; // the system turn; nullopt: the family's default (Qwen2-VL's
                                              // "You are a helpful assistant."), "": none
};

struct session_params {
    int32_t n_seq        = 16;   // masked images per engine batch (llama.cpp: sequences per llama_decode), 1..256
    int32_t n_ctx        = 0;    // context size; 0 = sized from the request
    bool    share_prefix = true; // decode the text before the image once; all sequences share its KV cache
    bool    use_memo     = true; // wrap the session in a memo_scorer: repeated masks are scored once
    bool    use_unified_kv = false; // one KV buffer for all sequences (less memory, attention ~ n_seq^2)
                                    // instead of one stream per sequence
    bool    use_batch_encode = false; // encode several images per libmtmd call (mtmd_batch_encode) where the
                                      // projector allows it; off: in llama.cpp 0.7.0 it measured 5-100x slower
                                      // than one image per call on CPU (BENCHMARKS.md)
    bool    use_f32_kv = true;  // the KV cache in float32 (llama.cpp's default is f16): faster on CPU and exact
                                // as the reference's float32 models; twice the KV memory (small here: one
                                // image and prompt per sequence)
    bool    use_flash_attn = false; // llama.cpp's flash attention: faster on GPUs, but on CPU its f16
                                    // accumulation makes scores depend (~1e-3) on the batch a mask is in
};

struct generate_request {
    image_rgb8 image;            // the unmasked (or already masked) image
    std::string prompt;          // user prompt; see use_raw_prompt
    bool use_raw_prompt = false; // as in score_request: verbatim, "<image>" marks the image
    int32_t max_tokens  = 128;   // most tokens generated, the end-of-generation token included (the
                                 // reference's max_new_tokens)
    std::vector<int32_t> prompt_ids{}; // as in score_request: the prompt as token ids (prompt then ignored)
    int32_t image_token = -1;        // as in score_request
    fit_mode fit = fit_mode::native; // as in score_request (applied to `image`)
    int32_t fit_size = 0;
    std::vector<image_rgb8> more_images{}; // as in score_request: the prompt's further images, in order
};

struct generated_token {
    int32_t id = 0;
    std::string piece;           // token text
    float prob = 0.0f;           // probability the model gave it (softmax over the full vocabulary)
    bool is_eog = false;         // the end-of-generation token (included last when the model stopped)
};

struct generation {
    std::string text;                     // answer text, end-of-generation token excluded
    std::vector<generated_token> tokens;  // every generated token
    bool is_cut = false;                  // max_tokens reached before the end-of-generation token
};

// One piece of the token sequence a model is fed before the answer: text token ids, or one image chunk
// (the engine's own image tokens, counted).
struct sequence_part {
    bool is_image = false;
    std::vector<int32_t> ids;   // text: the token ids fed
    int32_t n_image_tokens = 0; // image: embeddings fed (libmtmd's image chunk)
    int32_t n_image_pos = 0;    // image: positions they take (differs from n_image_tokens under M-RoPE)
};

// Where the image goes in a prompt given as token ids: the half-open run [begin, end) of placeholder ids.
struct image_span {
    size_t begin = 0;
    size_t end = 0;
    int32_t token = -1; // the placeholder id
};

// A scoring session: per-run state on a model. Scores masks (scorer) and generates answers.
class vlm_session : public scorer {
public:
    // Greedy decoding on the image, up to max_tokens tokens or the end-of-generation token. Throws
    // errc::invalid_argument on an empty image or max_tokens <= 0.
    virtual generation generate(const generate_request & request) = 0;

    virtual const session_params & params() const = 0;
};

class vlm_model;

// The image placeholder run in prompt ids. image_token >= 0 names the placeholder; -1 finds it: the first of
// the vocabulary's image placeholder tokens ("<image>", "<|image_pad|>", "<IMG_CONTEXT>", "<image_soft_token>",
// "<|image|>", ...) that occurs in ids, else the longest run (at least 4) of one repeated id. Throws
// errc::invalid_argument naming the ids when there is no placeholder or when it forms more than one run
// (a prompt given as token ids takes one image; several images need a text prompt).
image_span find_image_span(const vlm_model & model, std::span<const int32_t> ids, int32_t image_token = -1);

// A user prompt with the engine's image marker in place, before any chat template: its "<image>" placeholder
// replaced by marker, or (none, not raw) the marker and a newline put first, as LLaVA-style models are trained.
// Throws errc::invalid_argument for more than one placeholder, or a raw prompt without one. Engines'
// format_prompt share it.
// With n_images > 1: the prompt holds one "<image>" per image, each replaced in order, or (none, not raw) one marker
// and newline per image put first; another count throws, naming it.
std::string place_image_marker(const std::string & prompt, const std::string & marker, bool use_raw_prompt,
                               int32_t n_images = 1);

// The chat-rendered prompt an engine tokenizes, for a family other than llama_cpp: render_chat_prompt, less
// the leading BOS text when the model's tokenizer adds BOS itself (so the sequence has one BOS, as the Hugging
// Face processor's). Engines' format_prompt share it.
std::string render_for_engine(const vlm_model & model, chat_family family, const std::optional<std::string> & system,
                              const std::string & prompt, const std::string & marker, int32_t n_images = 1);

// The family an engine renders prompts with: model_params::chat_template's, or for "auto" detect_chat_family on
// the model's chat template and name. Logs which (info). Throws like parse_chat_family.
chat_family resolve_chat_family(const std::string & choice, std::string_view chat_template, std::string_view model_name);

class vlm_model {
public:
    virtual ~vlm_model() = default;

    virtual const model_params & params() const = 0;
    virtual std::string description() const = 0; // architecture, size, parameter count
    // The inference engine's version, recorded in every output ("0.7.0 (build 11669, Debian)" for llama.cpp)
    virtual std::string engine_version() const { return ""; }
    // True when scores only approximate the teacher-forced probabilities (the openai engine: top-k
    // log-probabilities, 0 outside them); explanations record it.
    virtual bool is_approximate() const { return false; }
    // True when the engine runs the model's matrix products through a BLAS library (model_params::blas,
    // "auto" resolved); explanations record it.
    virtual bool uses_blas() const { return false; }
    // How many workers score a batch's masks side by side (model_params::n_workers, "auto" resolved);
    // explanations record it.
    virtual int32_t n_workers() const { return 1; }
    virtual int32_t n_vocab() const = 0;
    virtual int32_t n_ctx_train() const = 0;
    virtual bool has_chat_template() const = 0;
    // The family prompts are rendered with (model_params::chat_template, "auto" resolved)
    virtual chat_family chat_format() const { return chat_family::llama_cpp; }

    // Text <-> tokens with the model's vocabulary. parse_special: control-token text becomes control tokens.
    virtual std::vector<int32_t> tokenize(const std::string & text, bool add_bos, bool parse_special = false) const = 0;
    virtual std::string token_piece(int32_t id) const = 0;           // text of one token (control tokens as written)
    virtual std::string detokenize(std::span<const int32_t> ids) const = 0; // text of an answer, control tokens dropped
    virtual bool is_eog(int32_t id) const = 0;                       // end-of-generation token?
    virtual int32_t eog_token() const = 0;                           // the token the chat template ends a turn with

    // The full prompt text for a user prompt: chat template (image first) or raw with "<image>" replaced.
    virtual std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const = 0;

    // The exact sequence this engine feeds before the answer for request's image and prompt (text or
    // prompt_ids), as prepare() builds it: what an explanation records as scored. Throws like prepare().
    virtual std::vector<sequence_part> prompt_sequence(const score_request & request) const = 0;

    // A new session on this model. Checks params (errc::invalid_argument naming the value), asks the engine
    // for a session and, when params.use_memo, wraps it in a memo_scorer. The session borrows this model.
    std::unique_ptr<vlm_session> new_session(const session_params & params) const;

protected:
    // The engine's own session, without a memo (new_session adds it).
    virtual std::unique_ptr<vlm_session> make_session(const session_params & params) const = 0;
};

} // namespace eagle
