#include "eagle/chat-format.h"

#include "common/text.h"
#include "eagle/error.h"

#include <array>
#include <vector>
#include <string>

namespace eagle {

namespace {

constexpr std::string_view k_qwen_system = "You are a helpful assistant.";

constexpr std::array<chat_family_info, 11> k_families{{
    {chat_family::llama_cpp, "llama.cpp", "", "the GGUF's tokenizer.chat_template, through llama.cpp's template table"},
    {chat_family::llava_1_5, "llava-1.5", "", "llava-hf/llava-1.5-7b-hf chat_template.json"},
    {chat_family::qwen2_vl, "qwen2-vl", k_qwen_system, "Qwen/Qwen2-VL-2B-Instruct chat_template.json"},
    {chat_family::qwen2_5_vl, "qwen2.5-vl", k_qwen_system, "Qwen/Qwen2.5-VL-3B-Instruct chat_template.json"},
    {chat_family::qwen3_vl, "qwen3-vl", "", "Qwen/Qwen3-VL-2B-Instruct chat_template.json"},
    {chat_family::gemma3, "gemma3", "", "google/gemma-3-4b-it chat_template.json, Gemma3Processor"},
    {chat_family::smolvlm, "smolvlm", "", "HuggingFaceTB/SmolVLM-256M-Instruct chat_template.json (Idefics3)"},
    {chat_family::internvl, "internvl", "", "OpenGVLab/InternVL3_5-4B-HF chat_template.jinja"},
    {chat_family::pixtral, "pixtral", "", "mistral-community/pixtral-12b chat_template.json"},
    {chat_family::minicpm_v_2_6, "minicpm-v-2.6", k_qwen_system,
     "openbmb/MiniCPM-V-2_6 tokenizer_config.json and its chat() (\"(<image>./</image>)\\n\" before the text)"},
    {chat_family::llama4, "llama4", "", "meta-llama/Llama-4-Scout-17B-16E-Instruct chat_template.json"},
}};

// How one family writes the image and wraps the turn. image_first: the text the template writes for an image
// item given before the text item; image_inline: the image alone, where a "<image>" placeholder was. "{}"
// stands for the engine's marker.
struct layout {
    std::string_view image_first;
    std::string_view image_inline;
    bool trims_text; // the template writes text items with Jinja's | trim
};

layout layout_of(chat_family f) {
    switch (f) {
        case chat_family::llava_1_5:     return {"{}\n", "{}", false};         // '<image>\n', then the texts
        case chat_family::gemma3:        return {"\n\n{}\n\n", "\n\n{}\n\n", true}; // the processor's
                                                                                    // "\n\n<start_of_image>...<end_of_image>\n\n"
        case chat_family::internvl:      return {"{}\n", "{}", false};         // '<IMG_CONTEXT>\n'
        case chat_family::minicpm_v_2_6: return {"{}\n", "{}", false};         // chat() joins items with "\n"
        default:                         return {"{}", "{}", false};           // the image tokens only
    }
}

std::string with_marker(std::string_view pattern, const std::string & marker) {
    std::string out(pattern);
    out.replace(out.find("{}"), 2, marker);
    return out;
}

// The user turn's content with the images in place; *image_leads tells whether the content starts with one.
std::string user_content(chat_family f, const std::string & prompt, const std::string & marker, int32_t n_images,
                         bool * image_leads) {
    static const std::string placeholder = "<image>";
    const layout lay = layout_of(f);
    auto text = [&](const std::string & t) { return lay.trims_text ? trim_space(t) : t; };
    std::vector<std::string> texts; // the prompt's text between placeholders
    for (size_t begin = 0;;) {
        const size_t at = prompt.find(placeholder, begin);
        texts.push_back(prompt.substr(begin, at == std::string::npos ? std::string::npos : at - begin));
        if (at == std::string::npos) {
            break;
        }
        begin = at + placeholder.size();
    }
    const size_t n_placeholders = texts.size() - 1;
    if (n_placeholders == 0) {
        *image_leads = true;
        std::string out;
        for (int32_t i = 0; i < n_images; ++i) {
            out += with_marker(lay.image_first, marker);
        }
        return out + text(prompt);
    }
    if (n_images == 1 && n_placeholders > 1) {
        throw error(errc::invalid_argument, "prompt '" + prompt + "' has more than one <image> placeholder; eagle "
                                            "explains one image at a time");
    }
    if (n_placeholders != size_t(n_images)) {
        throw error(errc::invalid_argument, "prompt '" + prompt + "' has " + std::to_string(n_placeholders) +
                                                " <image> placeholders for " + std::to_string(n_images) + " images");
    }
    *image_leads = texts.front().empty();
    std::string out = text(texts.front());
    for (size_t i = 1; i < texts.size(); ++i) {
        out += with_marker(lay.image_inline, marker) + text(texts[i]);
    }
    return out;
}

// "<|im_start|>system\n...<|im_end|>\n<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n"
std::string chatml(const std::string & system, const std::string & content) {
    std::string out;
    if (!system.empty()) {
        out += "<|im_start|>system\n" + system + "<|im_end|>\n";
    }
    return out + "<|im_start|>user\n" + content + "<|im_end|>\n<|im_start|>assistant\n";
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

} // namespace

std::span<const chat_family_info> chat_families() { return k_families; }

const chat_family_info & chat_family_of(chat_family family) {
    for (const chat_family_info & info : k_families) {
        if (info.family == family) {
            return info;
        }
    }
    throw error(errc::invalid_argument, "chat_family_of: unknown family " + std::to_string(int(family)));
}

std::optional<chat_family> parse_chat_family(std::string_view name) {
    if (name == "auto") {
        return std::nullopt;
    }
    std::string names = "auto";
    for (const chat_family_info & info : k_families) {
        if (info.name == name) {
            return info.family;
        }
        names += ", " + std::string(info.name);
    }
    throw error(errc::invalid_argument, "--chat-template '" + std::string(name) + "' is not a template family (" + names + ")");
}

chat_family detect_chat_family(std::string_view tmpl, std::string_view model_name) {
    if (contains(tmpl, "<|vision_start|>")) {
        return contains(tmpl, k_qwen_system) ? chat_family::qwen2_5_vl : chat_family::qwen3_vl;
    }
    if (contains(tmpl, "<start_of_turn>")) {
        return chat_family::gemma3;
    }
    if (contains(tmpl, "<end_of_utterance>") && contains(tmpl, "<|im_start|>")) { // Idefics3-8B opens with
        return chat_family::smolvlm;                                                 // <|begin_of_text|> instead
    }
    if (contains(tmpl, "[IMG]") && !contains(tmpl, "[SYSTEM_PROMPT]")) { // Mistral Small 3.1 writes its own system
        return chat_family::pixtral;
    }
    if (contains(tmpl, "<|header_start|>")) {
        return chat_family::llama4;
    }
    if (contains(tmpl, "<IMG_CONTEXT>") || contains(model_name, "InternVL")) {
        return chat_family::internvl;
    }
    if (contains(model_name, "MiniCPM-V")) {
        return chat_family::minicpm_v_2_6;
    }
    if (contains(tmpl, "ASSISTANT:") && contains(tmpl, "<image>")) {
        return chat_family::llava_1_5;
    }
    return chat_family::llama_cpp;
}

std::string render_chat_prompt(chat_family family, const std::optional<std::string> & system_given,
                               const std::string & prompt, const std::string & marker, int32_t n_images) {
    if (family == chat_family::llama_cpp) {
        throw error(errc::unsupported, "render_chat_prompt: the llama.cpp family is rendered by the engine, with "
                                       "llama.cpp's template table");
    }
    const std::string system = system_given ? *system_given : std::string(chat_family_of(family).default_system);
    bool image_leads = false;
    const std::string content = user_content(family, prompt, marker, n_images, &image_leads);
    switch (family) {
        case chat_family::llava_1_5: // the system turn is its text and a space, with no role name
            return (system.empty() ? "" : system + " ") + "USER: " + content + " ASSISTANT:";
        case chat_family::qwen2_vl:
        case chat_family::qwen2_5_vl:
        case chat_family::qwen3_vl:
        case chat_family::internvl:
        case chat_family::minicpm_v_2_6:
            return chatml(system, content);
        case chat_family::gemma3: // no system role: the system text opens the first user turn
            return "<bos><start_of_turn>user\n" + (system.empty() ? "" : system + "\n\n") + content +
                   "<end_of_turn>\n<start_of_turn>model\n";
        case chat_family::smolvlm: // "<|im_start|>" is SmolVLM's BOS; "User:" takes no space before an image
            return "<|im_start|>" + (system.empty() ? "" : "System: " + system + "<end_of_utterance>\n") + "User" +
                   (image_leads ? ":" : ": ") + content + "<end_of_utterance>\nAssistant:";
        case chat_family::pixtral: // the system text opens the last user turn
            return "<s>[INST]" + (system.empty() ? "" : system + "\n\n") + content + "[/INST]";
        case chat_family::llama4: // the system text trimmed, the texts not
            return "<|begin_of_text|>" +
                   (system.empty() ? "" : "<|header_start|>system<|header_end|>\n\n" + trim_space(system) + "<|eot|>") +
                   "<|header_start|>user<|header_end|>\n\n" + content + "<|eot|><|header_start|>assistant<|header_end|>\n\n";
        case chat_family::llama_cpp:
            break;
    }
    throw error(errc::invalid_argument, "render_chat_prompt: unknown family " + std::to_string(int(family)));
}

namespace {

// Their text, word for word: a preset exists so that their setup can be repeated exactly.
constexpr std::array<system_preset, 1> k_system_presets{{
    {"eagle-continuation",
     "You are a text continuation engine.\n"
     "Given a prefix already produced by the assistant, you must continue it.\n"
     "Rules:\n"
     "1) Output ONLY the continuation (suffix), NOT the prefix.\n"
     "2) Do NOT repeat any part of the prefix.\n"
     "3) Continue seamlessly as if it were the same sentence.\n"
     "4) Start your output with the next token immediately (often a leading space).\n",
     "github.com/RuoyuChen10/EAGLE tutorial/API_interpretation.ipynb, score_probs_vector_from_cv2_token_strs_continuation"},
}};

constexpr std::string_view k_preset_prefix = "preset:";

} // namespace

std::span<const system_preset> system_presets() {
    return k_system_presets;
}

std::string resolve_system_prompt(std::string_view value) {
    if (!value.starts_with(k_preset_prefix)) {
        return std::string(value);
    }
    const std::string_view name = value.substr(k_preset_prefix.size());
    std::string names;
    for (const system_preset & p : k_system_presets) {
        if (p.name == name) {
            return std::string(p.text);
        }
        names += (names.empty() ? "" : ", ") + std::string(p.name);
    }
    throw error(errc::invalid_argument, "--system '" + std::string(value) + "' names no preset (presets: " + names + ")");
}

} // namespace eagle
