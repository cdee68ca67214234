// eagle/chat-format.h - the prompt text a vision-language model is fed for one question about its image(s).
//
// The reference pipeline (the authors' scripts) renders a prompt with the model's Hugging Face chat template
// (processor.apply_chat_template) and its processor's image expansion. llama.cpp's built-in template table
// renders differently for several families: no default system turn for Qwen2-VL / Qwen2.5-VL, a newline after
// the image. Here each family's Hugging Face rendering is written out, so the scored tokens are the ones the
// reference scored; `chat_family::llama_cpp` keeps llama.cpp's table for every other model (and the embedded
// ShapesWorld model, trained on that rendering).
//
//   const eagle::chat_family f = eagle::detect_chat_family(gguf_chat_template, gguf_name);
//   std::string text = eagle::render_chat_prompt(f, std::nullopt, "describe the image", "<__media__>");
//
// Thread safety: pure functions over a constant table.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace eagle {

enum class chat_family {
    llama_cpp,      // the model's GGUF template through llama.cpp's built-in table, the image first on its own line
    llava_1_5,      // llava-hf/llava-1.5-7b-hf
    qwen2_vl,       // Qwen/Qwen2-VL-2B-Instruct
    qwen2_5_vl,     // Qwen/Qwen2.5-VL-3B-Instruct (the same template as Qwen2-VL)
    qwen3_vl,       // Qwen/Qwen3-VL-2B-Instruct
    gemma3,         // google/gemma-3-4b-it
    smolvlm,        // HuggingFaceTB/SmolVLM-256M-Instruct (Idefics3)
    internvl,       // OpenGVLab/InternVL3_5-4B-HF (the authors' InternVL)
    pixtral,        // mistral-community/pixtral-12b
    minicpm_v_2_6,  // openbmb/MiniCPM-V-2_6
    llama4,         // meta-llama/Llama-4-Scout-17B-16E-Instruct
};

struct chat_family_info {
    chat_family family;
    std::string_view name;           // as --chat-template takes it ("qwen2.5-vl")
    std::string_view default_system; // the system turn the template writes when none is given; empty: none
    std::string_view source;         // the published template it follows (Hugging Face repository)
};

// Every family, llama_cpp first.
std::span<const chat_family_info> chat_families();
const chat_family_info & chat_family_of(chat_family family);

// A --chat-template value: a family's name, or "auto" (nullopt: detect it from the model). Throws
// errc::invalid_argument naming the value and listing the names.
std::optional<chat_family> parse_chat_family(std::string_view name);

// The family of a model from its GGUF chat template (tokenizer.chat_template) and name (general.name), by
// the tokens only that family's template writes; llama_cpp when none matches. MiniCPM-V 2.6 ships Qwen2's
// text template, so it is found by its name.
chat_family detect_chat_family(std::string_view chat_template, std::string_view model_name);

// The text for one user turn and the start of the answer, exactly as the family's Hugging Face template and
// processor write it, with `marker` standing for the image tokens the engine inserts (libmtmd's image chunk,
// its delimiters included: Qwen's <|vision_start|>..<|vision_end|>, Gemma 3's <start_of_image>..<end_of_image>).
// What the processor adds around the image that libmtmd does not is written here (Gemma 3's "\n\n" either
// side). The image goes where the prompt's one "<image>" placeholder is, else where the template puts an
// image given before the text. system: nullopt = the family's default system turn; "" = none. The text
// begins with the BOS token's text when the template writes it (the engine drops it when its tokenizer adds
// BOS itself). Throws errc::invalid_argument for more than one placeholder, errc::unsupported for llama_cpp
// (its rendering is llama.cpp's, done by the engine). n_images > 1: one placeholder per image, each in order,
// or none (every image where the template puts one given before the text, in order); another count throws.
std::string render_chat_prompt(chat_family family, const std::optional<std::string> & system, const std::string & prompt,
                               const std::string & marker, int32_t n_images = 1);

// Named system turns, for --system preset:NAME. "eagle-continuation": the system prompt the EAGLE authors send
// closed models with their approximate, one-call-per-token scoring (tutorial/API_interpretation.ipynb of
// github.com/RuoyuChen10/EAGLE), so that a run with --server-api openai reproduces their closed-model setup.
struct system_preset {
    std::string_view name;
    std::string_view text;
    std::string_view source;
};
std::span<const system_preset> system_presets();

// A --system value: "preset:NAME" is that preset's text (errc::invalid_argument naming the value and listing the
// presets for an unknown NAME); any other value is the text itself.
std::string resolve_system_prompt(std::string_view value);

} // namespace eagle
