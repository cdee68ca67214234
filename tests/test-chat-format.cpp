// Chat templates (eagle/chat-format.h): per family, the rendered prompt equals the text the model's published
// Hugging Face template writes for one fixed question about one image, with the image expanded as the family's
// processor expands it. Each expected string below is written from the template named in its comment
// (processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) with
// messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": k_question}]}], and a
// {"role": "system", "content": [{"type": "text", "text": k_system}]} turn first where the case has one).
#include "eagle/chat-format.h"
#include "eagle/error.h"
#include "eagle/vlm.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using eagle::chat_family;

const std::string k_question = "What is in the image?";
const std::string k_system = "Answer in one word.";
const std::string k_marker = "<__media__>"; // libmtmd's default marker: stands for its image chunk

struct template_case {
    chat_family family;
    std::optional<std::string> system; // nullopt: the family's default
    std::string hf_text;      // the published template's output
    std::string hf_image;     // what hf_text writes for the image
    std::string image_as_fed; // the processor's expansion of hf_image, libmtmd's image chunk written as k_marker
};

// libmtmd's image chunk (llama.cpp tools/mtmd/mtmd.cpp, init_vision) holds the delimiters the processors write
// next to the image tokens: Qwen's <|vision_start|>/<|vision_end|>, Gemma 3's <start_of_image>/<end_of_image>,
// InternVL's <img>/</img>, Pixtral's [IMG_BREAK]/[IMG_END], Llama 4's <|image_start|>/<|image_end|>, Idefics3's
// <fake_token_around_image><global-img>, MiniCPM-V's <image_id>/<image>/<slice> runs.
const template_case k_cases[] = {
    // llava-hf/llava-1.5-7b-hf chat_template.json: role.upper() + ': ', images first ('<image>\n'), then each
    // text + ' ', then 'ASSISTANT:'; a system turn is its text + ' ' with no role name. The processor repeats
    // <image> (576 image tokens, no delimiters). The authors' datasets/LLaVA-1_5-7B-coco-caption.json generated_ids
    // agree: BOS, "USER: ", 576 x 32000, "\n", the question, " ASSISTANT:".
    {chat_family::llava_1_5, std::nullopt, "USER: <image>\nWhat is in the image? ASSISTANT:", "<image>", k_marker},
    {chat_family::llava_1_5, k_system, "Answer in one word. USER: <image>\nWhat is in the image? ASSISTANT:", "<image>",
     k_marker},
    // Qwen/Qwen2-VL-2B-Instruct and Qwen/Qwen2.5-VL-3B-Instruct chat_template.json: the default system turn
    // "You are a helpful assistant." when none is given; the image is <|vision_start|><|image_pad|><|vision_end|>
    // with the text right after it (the authors' datasets/Qwen2.5-VL-3B-coco-caption.json generated_ids agree:
    // 151644 8948 198 "You are a helpful assistant." 151645 198 151644 872 198 151652 n x 151655 151653, then the
    // question with no "\n" before it).
    {chat_family::qwen2_vl, std::nullopt,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
     "<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    {chat_family::qwen2_5_vl, std::nullopt,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
     "<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    {chat_family::qwen2_5_vl, k_system,
     "<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\n"
     "<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    // --system '': no system turn (the Hugging Face template cannot omit it; this is eagle's choice)
    {chat_family::qwen2_5_vl, "",
     "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n"
     "<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    // Qwen/Qwen3-VL-2B-Instruct chat_template.json: no default system turn
    {chat_family::qwen3_vl, std::nullopt,
     "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n"
     "<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    {chat_family::qwen3_vl, k_system,
     "<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\n"
     "<|vision_start|><|image_pad|><|vision_end|>What is in the image?<|im_end|>\n<|im_start|>assistant\n",
     "<|vision_start|><|image_pad|><|vision_end|>", k_marker},
    // google/gemma-3-4b-it chat_template.json: bos_token, no system role (its text + '\n\n' opens the first user
    // turn), '<start_of_image>' for an image, texts trimmed. Gemma3Processor expands <start_of_image> to
    // "\n\n<start_of_image>" + 256 x <image_soft_token> + "<end_of_image>\n\n".
    {chat_family::gemma3, std::nullopt,
     "<bos><start_of_turn>user\n<start_of_image>What is in the image?<end_of_turn>\n<start_of_turn>model\n",
     "<start_of_image>", "\n\n" + k_marker + "\n\n"},
    {chat_family::gemma3, k_system,
     "<bos><start_of_turn>user\nAnswer in one word.\n\n<start_of_image>What is in the image?<end_of_turn>\n"
     "<start_of_turn>model\n",
     "<start_of_image>", "\n\n" + k_marker + "\n\n"},
    // HuggingFaceTB/SmolVLM-256M-Instruct chat_template.json: '<|im_start|>' (its BOS), role | capitalize, ':'
    // before an image and ': ' before a text, '<end_of_utterance>\n' after each turn, then 'Assistant:'.
    // Idefics3Processor expands <image> to the <fake_token_around_image> / <global-img> / row-col run.
    {chat_family::smolvlm, std::nullopt, "<|im_start|>User:<image>What is in the image?<end_of_utterance>\nAssistant:",
     "<image>", k_marker},
    {chat_family::smolvlm, k_system,
     "<|im_start|>System: Answer in one word.<end_of_utterance>\nUser:<image>What is in the image?<end_of_utterance>\n"
     "Assistant:",
     "<image>", k_marker},
    // OpenGVLab/InternVL3_5-4B-HF chat template (the authors' InternVL): chatml with no default system turn,
    // '<IMG_CONTEXT>\n' for an image; InternVLProcessor expands <IMG_CONTEXT> to <img> + N x <IMG_CONTEXT> + </img>.
    // The authors' datasets/InternVL3_5-4B-MMVP-VQA.json generated_ids agree: <|im_start|>user\n, <img>,
    // 256 x <IMG_CONTEXT>, </img>, "\n", the question, <|im_end|>\n<|im_start|>assistant\n.
    {chat_family::internvl, std::nullopt,
     "<|im_start|>user\n<IMG_CONTEXT>\nWhat is in the image?<|im_end|>\n<|im_start|>assistant\n", "<IMG_CONTEXT>",
     k_marker},
    {chat_family::internvl, k_system,
     "<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\n<IMG_CONTEXT>\nWhat is in the image?<|im_end|>\n"
     "<|im_start|>assistant\n",
     "<IMG_CONTEXT>", k_marker},
    // mistral-community/pixtral-12b chat_template.json: bos_token, '[INST]' (with the system text + '\n\n' on the
    // last user turn), '[IMG]' for an image, '[/INST]'; PixtralProcessor expands [IMG] to rows of [IMG] ended by
    // [IMG_BREAK], the last by [IMG_END].
    {chat_family::pixtral, std::nullopt, "<s>[INST][IMG]What is in the image?[/INST]", "[IMG]", k_marker},
    {chat_family::pixtral, k_system, "<s>[INST]Answer in one word.\n\n[IMG]What is in the image?[/INST]", "[IMG]",
     k_marker},
    // openbmb/MiniCPM-V-2_6: chat() writes the image as "(<image>./</image>)" joined to the text with "\n", then
    // tokenizer_config.json's Qwen2 chatml template adds the default system turn "You are a helpful assistant.".
    {chat_family::minicpm_v_2_6, std::nullopt,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n(<image>./</image>)\n"
     "What is in the image?<|im_end|>\n<|im_start|>assistant\n",
     "(<image>./</image>)", k_marker},
    // meta-llama/Llama-4-Scout-17B-16E-Instruct chat_template.json: bos_token, header turns ended by <|eot|>,
    // '<|image|>' for an image, texts as given; Llama4Processor expands it to <|image_start|> ... <|image_end|>.
    {chat_family::llama4, std::nullopt,
     "<|begin_of_text|><|header_start|>user<|header_end|>\n\n<|image|>What is in the image?<|eot|>"
     "<|header_start|>assistant<|header_end|>\n\n",
     "<|image|>", k_marker},
    // (the system text is trimmed: system_message = messages[0]['content'][0]['text']|trim)
    {chat_family::llama4, " " + k_system + "\n",
     "<|begin_of_text|><|header_start|>system<|header_end|>\n\nAnswer in one word.<|eot|>"
     "<|header_start|>user<|header_end|>\n\n<|image|>What is in the image?<|eot|><|header_start|>assistant<|header_end|>\n\n",
     "<|image|>", k_marker},
};

std::string as_fed(const template_case & c) {
    std::string text = c.hf_text;
    const size_t at = text.find(c.hf_image);
    EXPECT_NE(at, std::string::npos) << c.hf_text;
    EXPECT_EQ(text.find(c.hf_image, at + 1), std::string::npos) << "one image in " << c.hf_text;
    return text.replace(at, c.hf_image.size(), c.image_as_fed);
}

TEST(chat_format, every_family_renders_its_hugging_face_template) {
    for (const template_case & c : k_cases) {
        const std::string name(eagle::chat_family_of(c.family).name);
        EXPECT_EQ(eagle::render_chat_prompt(c.family, c.system, k_question, k_marker), as_fed(c))
            << name << ", system " << (c.system ? "'" + *c.system + "'" : "default");
    }
}

TEST(chat_format, the_table_covers_every_family_but_llama_cpp) {
    for (const eagle::chat_family_info & f : eagle::chat_families()) {
        bool covered = false;
        for (const template_case & c : k_cases) {
            covered = covered || c.family == f.family;
        }
        EXPECT_EQ(covered, f.family != chat_family::llama_cpp) << f.name;
    }
}

TEST(chat_format, an_image_placeholder_puts_the_image_inside_the_text) {
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::qwen3_vl, std::nullopt, "Look: <image> what is it?", k_marker),
              "<|im_start|>user\nLook: " + k_marker + " what is it?<|im_end|>\n<|im_start|>assistant\n");
    // SmolVLM writes ': ' before a leading text, ':' before a leading image
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::smolvlm, std::nullopt, "Look: <image>", k_marker),
              "<|im_start|>User: Look: " + k_marker + "<end_of_utterance>\nAssistant:");
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::llava_1_5, std::nullopt, "<image> is it red?", k_marker),
              "USER: " + k_marker + " is it red? ASSISTANT:");
    // Gemma trims each text around the image, and keeps the processor's blank lines
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::gemma3, std::nullopt, " Look: <image> why? ", k_marker),
              "<bos><start_of_turn>user\nLook:\n\n" + k_marker + "\n\nwhy?<end_of_turn>\n<start_of_turn>model\n");
}

// several images: one placeholder per image, in order, or none (each where the template puts a leading image)
TEST(chat_format, several_images_go_where_their_placeholders_are_or_first) {
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::qwen2_5_vl, "", "<image> or <image>?", k_marker, 2),
              "<|im_start|>user\n" + k_marker + " or " + k_marker + "?<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::llava_1_5, "", "which is red?", k_marker, 2),
              "USER: " + k_marker + "\n" + k_marker + "\nwhich is red? ASSISTANT:");
    EXPECT_EQ(eagle::render_chat_prompt(chat_family::gemma3, std::nullopt, " a <image> b <image> c ", k_marker, 2),
              "<bos><start_of_turn>user\na\n\n" + k_marker + "\n\nb\n\n" + k_marker + "\n\nc<end_of_turn>\n<start_of_turn>model\n");
    EXPECT_EQ(eagle::place_image_marker("which is red?", k_marker, false, 3), k_marker + "\n" + k_marker + "\n" + k_marker + "\nwhich is red?");
    EXPECT_EQ(eagle::place_image_marker("<image> vs <image>", k_marker, true, 2), k_marker + " vs " + k_marker);
    for (const std::string prompt : {"<image> only one", "<image><image><image> three"}) {
        try {
            eagle::render_chat_prompt(chat_family::qwen2_5_vl, std::nullopt, prompt, k_marker, 2);
            FAIL() << prompt;
        } catch (const eagle::error & e) {
            EXPECT_NE(std::string(e.what()).find("placeholders for 2 images"), std::string::npos) << e.what();
        }
        EXPECT_THROW(eagle::place_image_marker(prompt, k_marker, false, 2), eagle::error) << prompt;
    }
}

TEST(chat_format, bad_requests_are_rejected) {
    try {
        eagle::render_chat_prompt(chat_family::qwen2_5_vl, std::nullopt, "<image> and <image>", k_marker);
        FAIL() << "two placeholders accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("<image> and <image>"), std::string::npos) << e.what();
    }
    try {
        eagle::render_chat_prompt(chat_family::llama_cpp, std::nullopt, k_question, k_marker);
        FAIL() << "llama_cpp rendered without llama.cpp";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::unsupported);
    }
}

TEST(chat_format, names_parse_and_bad_names_list_the_families) {
    EXPECT_EQ(eagle::parse_chat_family("auto"), std::nullopt);
    for (const eagle::chat_family_info & f : eagle::chat_families()) {
        EXPECT_EQ(eagle::parse_chat_family(f.name), f.family) << f.name;
        EXPECT_EQ(&eagle::chat_family_of(f.family), &f) << f.name;
    }
    try {
        eagle::parse_chat_family("qwen25");
        FAIL() << "'qwen25' accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        const std::string what = e.what();
        EXPECT_NE(what.find("'qwen25'"), std::string::npos) << what;
        EXPECT_NE(what.find("qwen2.5-vl"), std::string::npos) << what;
    }
}

TEST(chat_format, system_presets_resolve_and_other_text_stays_itself) {
    EXPECT_EQ(eagle::resolve_system_prompt("be brief"), "be brief");
    EXPECT_EQ(eagle::resolve_system_prompt(""), "");
    const std::string continuation = eagle::resolve_system_prompt("preset:eagle-continuation");
    // the EAGLE authors' closed-model system prompt, word for word (tutorial/API_interpretation.ipynb)
    EXPECT_EQ(continuation.rfind("You are a text continuation engine.\nGiven a prefix already produced by the assistant, "
                                 "you must continue it.\nRules:\n1) Output ONLY the continuation (suffix), NOT the prefix.\n", 0),
              0u) << continuation;
    EXPECT_NE(continuation.find("4) Start your output with the next token immediately (often a leading space).\n"),
              std::string::npos);
    ASSERT_EQ(eagle::system_presets().size(), 1u);
    EXPECT_EQ(eagle::system_presets()[0].text, continuation);
    try {
        eagle::resolve_system_prompt("preset:closed");
        FAIL() << "'preset:closed' accepted";
    } catch (const eagle::error & e) {
        EXPECT_EQ(e.code(), eagle::errc::invalid_argument);
        const std::string what = e.what();
        EXPECT_NE(what.find("'preset:closed'"), std::string::npos) << what;
        EXPECT_NE(what.find("eagle-continuation"), std::string::npos) << what;
    }
}

// Excerpts of each published template: the tokens that tell the families apart.
TEST(chat_format, families_are_detected_from_the_gguf_template_and_name) {
    struct detect_case {
        std::string tmpl, name;
        chat_family expected;
    };
    const detect_case cases[] = {
        {"{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
         "{% endif %}...<|vision_start|><|image_pad|><|vision_end|>",
         "Qwen2.5-VL-3B-Instruct", chat_family::qwen2_5_vl},
        {"{%- if messages[0].role == 'system' %}...<|vision_start|><|image_pad|><|vision_end|>", "Qwen3-VL-2B-Instruct",
         chat_family::qwen3_vl},
        {"{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}...<start_of_turn>...'<start_of_image>'", "gemma-3-4b-it",
         chat_family::gemma3},
        {"<|im_start|>{% for message in messages %}...<end_of_utterance>\n{% endfor %}", "SmolVLM-256M-Instruct",
         chat_family::smolvlm},
        {"{{- bos_token }}...[INST]...{{- \"[IMG]\" }}...[/INST]", "pixtral-12b", chat_family::pixtral},
        {"{{- bos_token }}...<|header_start|>user<|header_end|>\n\n...'<|image|>'", "Llama-4-Scout-17B-16E-Instruct",
         chat_family::llama4},
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}...'<IMG_CONTEXT>\n'", "InternVL3_5-4B-HF",
         chat_family::internvl},
        // MiniCPM-V 2.6 ships Qwen2's text template: only its name tells
        {"{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful "
         "assistant.<|im_end|>\n' }}{% endif %}",
         "MiniCPM-V-2_6", chat_family::minicpm_v_2_6},
        {"{% for message in messages %}...{{ '<image>\n' }}...{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}",
         "llava-1.5-7b-hf", chat_family::llava_1_5},
        // look-alikes that render otherwise: Idefics3-8B (<|begin_of_text|>, not SmolVLM's <|im_start|>), Mistral Small
        // 3.1 ([IMG] with its own [SYSTEM_PROMPT] turn)
        {"<|begin_of_text|>{% for message in messages %}{{message['role'].capitalize()}}...<end_of_utterance>\n",
         "Idefics3-8B-Llama3", chat_family::llama_cpp},
        {"{{- bos_token }}{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}...{{- '[IMG]' }}",
         "Mistral-Small-3.1-24B-Instruct-2503", chat_family::llama_cpp},
        // plain chatml (the ShapesWorld model's template) and no template at all: llama.cpp's table
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
         "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
         "shapesworld", chat_family::llama_cpp},
        {"", "", chat_family::llama_cpp},
    };
    for (const detect_case & c : cases) {
        EXPECT_EQ(eagle::detect_chat_family(c.tmpl, c.name), c.expected) << c.name;
    }
}

} // namespace
