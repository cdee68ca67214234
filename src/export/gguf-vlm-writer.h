// gguf-vlm-writer.h - write a LLaVA-style GGUF pair (text model + mmproj)
// that llama.cpp's libllama + libmtmd load and run.
//
// The pair is:
//   * a text model, arch "llama" (RMSNorm, RoPE, SwiGLU, no biases), F32,
//     with a word-level SentencePiece ("llama") vocabulary, and
//   * an mmproj, arch "clip", projector type "mlp" (LLaVA-1.5): a CLIP-layout
//     ViT followed by a 2-layer MLP projector into the text embedding space.
//
// The vision-side facts below were read from llama.cpp's sources
// (tools/mtmd/models/llava.cpp, clip.cpp, mtmd-image.cpp) and then checked
// numerically against the installed llama.cpp 0.7.0 (Debian build
// 11669): a plain C++ reference of the ViT + projector, fed the same
// image_size x image_size image, reproduces mtmd_get_output_embd() to
// ~4e-4 relative (fp16 GELU table), while each alternative hypothesis
// (all n_layer blocks, class token first, rows 0..N-1, quick_gelu) is off by
// 0.2-100%. The text-side facts are llama.cpp's standard "llama" graph
// (src/llama-model.cpp); the pair loads and generates, but the text graph
// was not compared against a reference numerically. A trainer that wants
// llama.cpp to reproduce its outputs must implement exactly this.
//
// ---------------------------------------------------------------------------
// Shape convention
// ---------------------------------------------------------------------------
// vlm_tensor::shape is in ggml order (ne0 = fastest-varying dimension), and
// data is stored in that order. A row-major PyTorch tensor of shape
// [d_{k-1}, ..., d_1, d_0] has exactly the same bytes as a ggml tensor with
// ne = {d_0, d_1, ..., d_{k-1}}. So:
//   * nn.Linear weight [out, in]            -> shape {in, out}; copy bytes as is.
//     ggml_mul_mat(W, x) computes W·x, i.e. y = x @ W^T like nn.Linear.
//   * nn.Embedding weight [n_rows, n_embd]  -> shape {n_embd, n_rows}.
//   * nn.Conv2d weight [out_c, in_c, kh, kw] -> shape {kw, kh, in_c, out_c}.
//   * 1-D vectors (norm weights, biases)    -> shape {n}.
//
// ---------------------------------------------------------------------------
// Text model (general.architecture = "llama"), per token x (dim n_embd):
// ---------------------------------------------------------------------------
//   token_embd.weight        {n_embd, n_vocab}  h = E[token]
//   for each layer i (blk.i.*):
//     attn_norm.weight       {n_embd}           a = rms_norm(h) * w
//                                                rms_norm(v) = v / sqrt(mean(v^2) + rms_eps)
//     attn_q.weight          {n_embd, n_head*d}     q = Wq a   (d = n_embd / n_head)
//     attn_k.weight          {n_embd, n_head_kv*d}  k = Wk a
//     attn_v.weight          {n_embd, n_head_kv*d}  v = Wv a
//       RoPE on q and k, per head, llama.cpp "NORM" rope (LLAMA_ROPE_TYPE_NORM):
//       ADJACENT pairs (x[2j], x[2j+1]) are rotated by angle
//       pos * rope_freq_base^(-2j/d). This is NOT HF's rotate_half (NEOX)
//       layout: a trainer using rotate_half must permute the rows of Wq/Wk
//       per head (as convert_hf_to_gguf.py does) or use adjacent pairs.
//       Causal softmax(q·k^T / sqrt(d)) v, GQA when n_head_kv < n_head.
//     attn_output.weight     {n_head*d, n_embd} h += Wo attn
//     ffn_norm.weight        {n_embd}           b = rms_norm(h) * w
//     ffn_gate.weight        {n_embd, n_ff}
//     ffn_up.weight          {n_embd, n_ff}
//     ffn_down.weight        {n_ff, n_embd}     h += Wdown (silu(Wgate b) * (Wup b))
//   output_norm.weight       {n_embd}           o = rms_norm(h) * w
//   output.weight            {n_embd, n_vocab}  logits = Wout o   (untied)
//
// Image embeddings produced by the mmproj are fed to the text model in place
// of token embeddings (one position per image token, causal like text).
//
// ---------------------------------------------------------------------------
// Vision model (general.architecture = "clip", clip.projector_type = "mlp")
// ---------------------------------------------------------------------------
// Preprocessing (mtmd "fixed size" preprocessor for projector mlp without
// image_grid_pinpoints):
//   * the RGB image is resized to image_size x image_size keeping the aspect
//     ratio (bicubic), the remainder padded with colour (122,116,104)
//     (the CLIP mean as bytes); an image that is already
//     image_size x image_size is passed through unchanged (the reference
//     check above feeds exactly such images).
//     Trainers should therefore feed square image_size images.
//   * pixel value p in [0,255] -> (p/255 - image_mean[c]) / image_std[c],
//     laid out planar: ggml inp_raw {W, H, 3} == PyTorch [3, H, W].
// Graph (clip_graph_llava), P = patch_size, N = (image_size/P)^2 patches:
//   v.patch_embd.weight      {P, P, 3, n_embd}  Conv2d(3, n_embd, P, stride P, no padding)
//   v.patch_embd.bias        {n_embd}           added to every patch
//     patches are ordered row-major (y outer, x inner), like PyTorch's
//     conv output flattened: [n_embd, H/P, W/P] -> [N, n_embd].
//   v.class_embd             {n_embd}           optional, see below
//   v.position_embd.weight   {n_embd, n_pos}    n_pos = N (+1 with class_embd)
//     seq = patches (+ class token), seq[j] += pos_embd[j]
//   v.pre_ln.weight/.bias    {n_embd}           LayerNorm(eps = ln_eps) ("pre_layrnorm")
//   for each layer i (v.blk.i.*), pre-norm transformer block:
//     ln1.weight/.bias       {n_embd}           a = LayerNorm(x)
//     attn_q/k/v.weight      {n_embd, n_embd}   + .bias {n_embd}; n_head heads,
//                                               non-causal softmax(q·k^T/sqrt(d)) v
//     attn_out.weight/.bias  {n_embd, n_embd}   x += Wo attn + bo
//     ln2.weight/.bias       {n_embd}           b = LayerNorm(x)
//     ffn_up.weight/.bias    {n_embd, n_ff}     (HF fc1)
//     ffn_down.weight/.bias  {n_ff, n_embd}     (HF fc2)   x += down(gelu(up(b)))
//   NO post-LayerNorm is written (v.post_ln.* would be applied after the
//   feature layer if present; LLaVA's hidden_states[-2] has none).
//   Feature layer: only the first n_layer-1 blocks are EXECUTED (LLaVA's
//   "second to last layer", hidden_states[-2]); the last block's weights must
//   exist in the file (the loader requires them) but never influence the
//   output. A trainer should train an (n_layer-1)-block ViT and write one
//   extra dummy block. (clip.vision.feature_layer is not written.)
//   Projector (mm.0 / mm.2 = HF multi_modal_projector.linear_1 / linear_2):
//     mm.0.weight/.bias      {n_embd, n_proj_hidden}, {n_proj_hidden}
//     gelu
//     mm.2.weight/.bias      {n_proj_hidden, n_embd_text}, {n_embd_text}
//   Output: one image token per patch, N tokens (no class token is ever
//   added to the count), each n_embd_text wide, in patch order - except for
//   the class-token quirk below.
//
// GELU: clip.use_gelu = true is written, so BOTH the ViT MLP and the
// projector use ggml_gelu = the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (torch: approximate="tanh").
// On the CPU backend ggml evaluates it through an fp16 lookup table (input
// and result rounded to fp16, |x| >= 10 passed through / zeroed), so expect
// ~1e-3 relative deviations from torch there; at that precision erf-GELU
// is numerically indistinguishable, the source is unambiguous (ggml_gelu,
// not ggml_gelu_erf). Without clip.use_gelu the ViT MLP would use quick_gelu
// x*sigmoid(1.702x); the projector always uses ggml_gelu.
// Attention in the ViT may run as flash attention (mtmd default "auto"),
// which casts K/V to f16 - another ~1e-4 relative source of deviation.
//
// Class-token quirk (llama.cpp 0.7.0, projector mlp): when v.class_embd is
// present, llama.cpp APPENDS the class token after the patches (sequence
// index N, position-embedding row N; patch j gets row j) and then returns
// sequence rows 1..N, i.e. it drops patch 0 and returns the class token as
// the last image token. That differs from HF CLIP / LLaVA (class first,
// position row 0, rows 1..N returned) and may be fixed upstream later.
// vlm_vision_config::class_embedding = false avoids it: then n_pos = N and
// all N patches are returned in order - recommended for trained models,
// whose behaviour then cannot change if upstream fixes the quirk.
//
// ffn_up/ffn_down naming: llama.cpp swaps up/down for projector mlp when
// ffn_down has ne0 == n_embd (legacy files); so n_ff == n_embd would be
// misread. write_vlm_gguf rejects n_ff == n_embd.
//
// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------
// Token ids: 0 <unk> (UNKNOWN), 1 <s> (CONTROL, bos), 2 </s> (CONTROL, eos),
// 3..258 the byte tokens <0x00>..<0xFF> (BYTE), then control_tokens
// (CONTROL), then the pieces that make every word a single token (NORMAL).
// llama.cpp's SPM tokenizer starts from single UTF-8 characters and
// repeatedly merges the adjacent pair with the highest score whose
// concatenation is in the vocabulary; characters not in the vocabulary fall
// back to byte tokens. For every word w we add all its prefixes, both with
// the word-boundary marker "▁" (U+2581, what a preceding space becomes) and
// without it (a word at the start of the text, right after "\n" or a
// control token), plus every single character. Because the leftmost piece of a word can always
// absorb its right neighbour (the result is a prefix, hence in the
// vocabulary) and no piece spans "▁" in its middle, every word ends up as
// exactly one token regardless of merge order. Scores rise with piece
// length so the whole word is the preferred piece.
// Words are thus single tokens after a space ("▁red") and elsewhere ("red"),
// and a word directly followed by punctuation also splits cleanly
// ("red,blue?" -> red , blue ?). Unknown characters become <0xNN> tokens.
// Every prefix piece ("▁re", "cir") is an ordinary token too, so an
// untrained model can emit them; training only ever sees whole words.
// See vlm_vocab::add_space_prefix for the leading-space behaviour.
// "<|im_end|>" is additionally registered as end-of-turn
// (tokenizer.ggml.eot_token_id) when present, so llama_vocab_is_eog() is
// true for it as well as for </s>.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace eagle {

struct vlm_text_config {
    int   n_embd      = 64;
    int   n_layer     = 2;
    int   n_head      = 4;
    int   n_head_kv   = 4;
    int   n_ff        = 128;
    int   n_ctx_train = 512;
    float rope_freq_base = 10000.0f;
    float rms_eps        = 1e-5f;
};

struct vlm_vision_config {
    int   image_size    = 32;
    int   patch_size    = 8;
    int   n_embd        = 32;
    int   n_layer       = 3;   // the last block is loaded but not executed
    int   n_head        = 4;
    int   n_ff          = 64;  // must differ from n_embd (see header notes)
    int   n_proj_hidden = 64;  // mm.0 output width
    float ln_eps        = 1e-5f;
    bool  class_embedding = true; // see "class-token quirk" above
    std::array<float, 3> image_mean = {0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> image_std  = {0.26862954f, 0.26130258f, 0.27577711f};
};

struct vlm_vocab {
    std::vector<std::string> words;          // e.g. "red", "circle", "?"
    std::vector<std::string> control_tokens; // e.g. "<|im_start|>", "<|im_end|>"
    std::string chat_template;               // stored verbatim; empty = none
    // tokenizer.ggml.add_space_prefix. false (default): text is tokenized as
    // written, so "<|im_end|>\n" stays <|im_end|> <0x0A> and the first word
    // of a turn is the bare piece ("user"). true: llama.cpp prepends a space
    // to the text and after every special token (so "▁user", and a lone "▁"
    // token before a "\n" that follows a special token).
    bool add_space_prefix = false;
};

// llama.cpp token types (tokenizer.ggml.token_type)
enum class vlm_token_type : int32_t {
    normal  = 1,
    unknown = 2,
    control = 3,
    byte    = 6,
};

struct vlm_token {
    std::string    text;
    float          score = 0.0f;
    vlm_token_type type  = vlm_token_type::normal;
};

// Fixed ids of the always-present tokens.
inline constexpr int vlm_unk_id = 0;
inline constexpr int vlm_bos_id = 1;
inline constexpr int vlm_eos_id = 2;

struct vlm_tensor {
    std::string          name;
    std::vector<int64_t> shape; // ggml order ne0, ne1, ...
    std::vector<float>   data;  // empty in layouts; ggml order when filled
};

struct vlm_weights {
    std::vector<vlm_tensor> text;
    std::vector<vlm_tensor> vision;
};

// The full token list written to the text model (ids = indices).
// Throws std::runtime_error on an empty word, a word containing whitespace,
// or a duplicate/colliding control token.
std::vector<vlm_token> vlm_build_tokens(const vlm_vocab & vocab);

// Number of tokens vlm_build_tokens() produces.
int vlm_vocab_size(const vlm_vocab & vocab);

// Every tensor the pair needs (name + shape, data empty), in file order,
// for a trainer to fill.
std::vector<vlm_tensor> vlm_text_tensor_layout(const vlm_text_config & cfg, int n_vocab);
std::vector<vlm_tensor> vlm_vision_tensor_layout(const vlm_vision_config & cfg, int n_embd_text);

// Deterministic random weights (same seed -> byte-identical files on any
// platform; Box-Muller on std::mt19937_64): matrices ~ N(0,1) * scale /
// sqrt(fan_in), embeddings (token, class, position) ~ N(0,1) * scale,
// biases ~ N(0,1) * 0.1 * scale, norm weights = 1.
vlm_weights vlm_random_weights(const vlm_text_config & text, const vlm_vision_config & vision,
                               int n_vocab, uint64_t seed, float scale);

// Write both files. Validates configs and that every tensor in `weights`
// matches the layouts exactly (name, order, shape, data size).
// Throws std::runtime_error naming the offending file/tensor/value.
void write_vlm_gguf(const std::string & model_path, const std::string & mmproj_path,
                    const vlm_text_config & text, const vlm_vision_config & vision,
                    const vlm_vocab & vocab, const vlm_weights & weights);

} // namespace eagle
