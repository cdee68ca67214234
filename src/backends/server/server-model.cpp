// Server engine: the model (what the servers say about themselves, their tokenizer and chat template).
#include "server-model.h"

#include "server-engine.h"

#include "eagle/log.h"

namespace eagle::server_backend {

namespace {

// End-of-turn texts llama.cpp itself recognizes as end-of-generation tokens (llama-vocab.cpp), most specific
// first: a vocabulary with one of them as a single control token ends a chat turn with it. The servers name
// only the end-of-sequence token (/props eos_token), so the others are found by tokenizing these.
const char * const k_end_of_turn_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                            "<EOT>", "<|end_of_text|>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"};

} // namespace

server_vlm_model::server_vlm_model(const model_params & params) : params_(params) {
    if (params.servers.empty()) {
        throw error(errc::invalid_argument, "engine 'server' needs at least one server URL (--server http://host:port)");
    }
    const std::vector<std::string> urls = unique_urls(params.servers);
    std::string last_down;
    for (const std::string & url : urls) {
        http_client client(url, timeouts_.connect_s, 30.0);
        try {
            const json props = call(client, "/props", "", retry_);
            const json models = call(client, "/v1/models", "", retry_);
            info_.push_back(parse_server_info(url, props, models));
        } catch (const server_down & e) {
            log(log_level::warn, std::string(e.what()) + "; dropped\n");
            last_down = e.what();
            continue;
        }
        if (info_.size() > 1) {
            check_same_model(info_.front(), info_.back());
        }
    }
    if (info_.empty()) {
        throw error(errc::io, urls.size() == 1 ? last_down : "none of the " + std::to_string(urls.size()) +
                                                                 " llama-servers answers (last: " + last_down + ")");
    }
    const server_info & first = info_.front();
    if (!params_.model_path.empty() && model_file_name(params_.model_path) != model_file_name(first.model_path)) {
        throw error(errc::model, "llama-server at " + first.url + " serves '" + model_file_name(first.model_path) +
                                     "', not '" + model_file_name(params_.model_path) + "' (--model)");
    }
    params_.model_path = first.model_path;
    params_.mmproj_path.clear();
    params_.servers.clear(); // the servers used: those that answered, as normalized URLs (the run record's)
    for (const server_info & i : info_) {
        params_.servers.push_back(i.url);
    }
    find_eog_tokens();
    // the served file's name stands in for general.name, which /props does not give
    chat_family_ = resolve_chat_family(params_.chat_template, first.chat_template, model_file_name(first.model_path));
}

std::string server_vlm_model::description() const {
    const server_info & s = info_.front();
    std::string urls;
    for (const server_info & i : info_) {
        urls += (urls.empty() ? "" : ", ") + i.url;
    }
    return "'" + model_file_name(s.model_path) + "', " + std::to_string(s.n_params) + " parameters, on " +
           std::to_string(info_.size()) + " llama-server" + (info_.size() > 1 ? "s" : "") + " (" + urls + ")";
}

std::string server_vlm_model::engine_version() const {
    return "llama-server " + info_.front().build;
}

json server_vlm_model::query(const std::string & path, const json & body) const {
    std::lock_guard<std::mutex> lock(client_mutex_);
    for (const server_info & s : info_) {
        if (is_down(s.url)) {
            continue;
        }
        if (!client_ || client_->base_url() != s.url) {
            client_ = std::make_unique<http_client>(s.url, timeouts_.connect_s, timeouts_.request_s);
        }
        try {
            return call(*client_, path, body.is_null() ? std::string() : body.dump(), retry_);
        } catch (const server_down & e) {
            log(log_level::warn, std::string(e.what()) + "; dropped, the other servers take its work\n");
            down_.mark(s.url);
        }
    }
    throw error(errc::io, "every llama-server stopped answering (" + std::to_string(info_.size()) + " given)");
}

std::vector<int32_t> server_vlm_model::tokenize(const std::string & text, bool add_bos, bool parse_special) const {
    const json r = query("/tokenize", {{"content", text}, {"add_special", add_bos}, {"parse_special", parse_special}});
    std::vector<int32_t> ids;
    for (const json & t : r.at("tokens")) {
        ids.push_back(t.is_object() ? t.at("id").get<int32_t>() : t.get<int32_t>());
    }
    return ids;
}

std::string server_vlm_model::token_piece(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
        throw error(errc::invalid_argument, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                                std::to_string(n_vocab() - 1) + ")");
    }
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (auto it = pieces_.find(id); it != pieces_.end()) {
            return it->second;
        }
    }
    // /detokenize writes control tokens as their text, as token_piece does
    const std::string piece = query("/detokenize", {{"tokens", {id}}}).at("content").get<std::string>();
    std::lock_guard<std::mutex> lock(cache_mutex_);
    pieces_[id] = piece;
    return piece;
}

bool server_vlm_model::is_control(int32_t id) const {
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (auto it = control_.find(id); it != control_.end()) {
            return it->second;
        }
    }
    // a control token's text becomes the token only when special text is parsed
    const std::string piece = token_piece(id);
    const bool control = !piece.empty() && tokenize(piece, false, true) == std::vector<int32_t>{id} &&
                         tokenize(piece, false, false) != std::vector<int32_t>{id};
    std::lock_guard<std::mutex> lock(cache_mutex_);
    control_[id] = control;
    return control;
}

std::string server_vlm_model::detokenize(std::span<const int32_t> ids) const {
    std::string text;
    for (int32_t id : ids) {
        if (!is_control(id)) {
            text += token_piece(id);
        }
    }
    if (!text.empty() && text[0] == ' ') {
        text.erase(0, 1); // as the llama engine: SPM vocabularies start a text with the word-boundary space
    }
    return text;
}

void server_vlm_model::find_eog_tokens() {
    auto single_control = [&](const std::string & text) -> int32_t {
        const std::vector<int32_t> ids = tokenize(text, false, true);
        if (ids.size() == 1 && tokenize(text, false, false) != ids) {
            return ids[0];
        }
        return -1;
    };
    for (const char * text : k_end_of_turn_texts) {
        const int32_t id = single_control(text);
        if (id >= 0) {
            eog_ids_.insert(id);
            if (eog_token_ < 0) {
                eog_token_ = id;
            }
        }
    }
    const json props = query("/props", nullptr);
    const std::string eos = props.value("eos_token", std::string());
    const int32_t eos_id = eos.empty() ? -1 : single_control(eos);
    if (eos_id >= 0) {
        eog_ids_.insert(eos_id);
        if (eog_token_ < 0) {
            eog_token_ = eos_id;
        }
    }
    if (eog_token_ < 0) {
        throw error(errc::model, "llama-server at " + info_.front().url + ": the model has no end-of-generation token "
                                 "eagle can find (eos_token '" + eos + "')");
    }
}

std::vector<sequence_part> server_vlm_model::prompt_sequence(const score_request & request) const {
    if (!request.prompt_ids.empty()) {
        throw error(errc::unsupported, "the server engine takes text prompts; a prompt given as token ids needs the "
                                       "in-process engine (drop --server)");
    }
    const std::string text = format_prompt(request.prompt, request.use_raw_prompt);
    const std::string & marker = info_.front().media_marker;
    const size_t at = text.find(marker);
    sequence_part before, image, after;
    before.ids = tokenize(text.substr(0, at), true, true);
    image.is_image = true;
    after.ids = tokenize(text.substr(at + marker.size()), false, true);
    return {before, image, after};
}

std::string server_vlm_model::format_prompt(const std::string & prompt, bool use_raw_prompt) const {
    if (!use_raw_prompt && chat_family_ != chat_family::llama_cpp) {
        return render_for_engine(*this, chat_family_, params_.system_prompt, prompt, info_.front().media_marker);
    }
    const std::string content = place_image_marker(prompt, info_.front().media_marker, use_raw_prompt);
    if (use_raw_prompt) {
        return content;
    }
    if (!has_chat_template()) {
        log(params_.system_prompt.value_or("").empty() ? log_level::info : log_level::warn,
            std::string("model has no chat template; using the prompt as written") +
                (params_.system_prompt.value_or("").empty() ? "\n" : " (without the --system text)\n"));
        return content;
    }
    json messages = json::array();
    if (!params_.system_prompt.value_or("").empty()) {
        messages.push_back({{"role", "system"}, {"content", *params_.system_prompt}});
    }
    messages.push_back({{"role", "user"}, {"content", content}});
    return query("/apply-template", {{"messages", messages}}).at("prompt").get<std::string>();
}

std::unique_ptr<vlm_model> load_model(const model_params & params) {
    return std::make_unique<server_vlm_model>(params);
}

} // namespace eagle::server_backend
