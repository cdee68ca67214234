// _eagle: the Python binding of the library, as thin as the CLI. It binds the model/session factory, one
// explanation end to end (run_explanation -> explanation_record), the record's views as numpy arrays, the
// folder writer, the page and the metrics; python/eagle/__init__.py turns them into the public API.
//
// Long calls release the GIL. The progress callback re-acquires it, checks for signals (Ctrl-C raises
// KeyboardInterrupt after the search stops cleanly; the session stays usable) and calls the Python callback.
// Errors: eagle::error maps by category (invalid_argument -> ValueError, io -> OSError, unsupported ->
// NotImplementedError, model/backend -> RuntimeError) with the library's message.
#include "eagle/backends.h"
#include "eagle/eagle.h"
#include "eagle/scorer-json.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

using array_u8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

eagle::image_rgb8 image_from_array(const array_u8 & a) {
    if (a.ndim() != 3 || a.shape(2) != 3) {
        throw eagle::error(eagle::errc::invalid_argument, "image: expected an HxWx3 uint8 array, got shape " +
                                                              std::string(py::str(py::cast(std::vector<py::ssize_t>(
                                                                  a.shape(), a.shape() + a.ndim())))));
    }
    eagle::image_rgb8 image{int32_t(a.shape(1)), int32_t(a.shape(0)), {}};
    image.rgb.assign(a.data(), a.data() + a.size());
    return image;
}

py::array_t<uint8_t> array_from_image(const eagle::image_rgb8 & image) {
    py::array_t<uint8_t> out({py::ssize_t(image.ny), py::ssize_t(image.nx), py::ssize_t(3)});
    std::memcpy(out.mutable_data(), image.rgb.data(), image.rgb.size());
    return out;
}

template <typename T>
py::array_t<T> array_1d(const std::vector<T> & v) {
    py::array_t<T> out(py::ssize_t(v.size()));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

py::array_t<float> array_2d(const std::vector<std::vector<float>> & rows) {
    const size_t n_cols = rows.empty() ? 0 : rows.front().size();
    py::array_t<float> out({py::ssize_t(rows.size()), py::ssize_t(n_cols)});
    float * dst = out.mutable_data();
    for (const auto & row : rows) {
        std::copy(row.begin(), row.end(), dst);
        dst += n_cols;
    }
    return out;
}

py::array_t<float> map_array(const std::vector<float> & map, const eagle::region_set & regions) {
    py::array_t<float> out({py::ssize_t(regions.ny), py::ssize_t(regions.nx)});
    std::copy(map.begin(), map.end(), out.mutable_data());
    return out;
}

py::object json_to_python(const nlohmann::ordered_json & j) {
    return py::module_::import("json").attr("loads")(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

// A loaded model and its one session (a session is per-run state; Python users get one per Model).
class py_model {
public:
    py_model(const eagle::model_params & mp, const eagle::session_params & sp) {
        py::gil_scoped_release release;
        model_ = eagle::load_vlm(mp);
        session_ = model_->new_session(sp);
    }

    py::dict generate(const array_u8 & image, const std::string & prompt, bool use_raw_prompt, int32_t max_tokens) {
        eagle::generate_request req{image_from_array(image), prompt, use_raw_prompt, max_tokens};
        eagle::generation g;
        {
            py::gil_scoped_release release;
            g = session_->generate(req);
        }
        py::list tokens;
        for (const eagle::generated_token & t : g.tokens) {
            tokens.append(py::dict(py::arg("id") = t.id, py::arg("piece") = py::bytes(t.piece), py::arg("prob") = t.prob,
                                   py::arg("is_eog") = t.is_eog));
        }
        return py::dict(py::arg("text") = g.text, py::arg("tokens") = tokens);
    }

    eagle::explanation_record explain(eagle::explanation_request request, const std::optional<array_u8> & image,
                                      const py::object & progress) {
        if (image) {
            request.image = image_from_array(*image);
        }
        bool is_interrupted = false;
        const auto on_progress = [&](eagle::run_phase phase, int32_t n_done, int32_t n_total) {
            py::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() != 0) {
                is_interrupted = true; // the KeyboardInterrupt stays set; raised once the search has stopped
                return false;
            }
            if (!progress.is_none()) {
                try {
                    const py::object keep_going =
                        progress(phase == eagle::run_phase::search ? "search" : "revise", n_done, n_total);
                    return keep_going.is_none() || keep_going.cast<bool>();
                } catch (py::error_already_set & e) {
                    e.restore(); // re-raised below, after the search has stopped
                    is_interrupted = true;
                    return false;
                }
            }
            return true;
        };
        eagle::explanation_record rec;
        {
            py::gil_scoped_release release;
            rec = eagle::run_explanation(*model_, *session_, request, on_progress);
        }
        if (is_interrupted && PyErr_Occurred()) {
            throw py::error_already_set();
        }
        return rec;
    }

    std::string description() const { return model_->description(); }
    std::string chat_template() const { return std::string(eagle::chat_family_of(model_->chat_format()).name); }
    std::string format_prompt(const std::string & prompt, bool use_raw_prompt) const {
        return model_->format_prompt(prompt, use_raw_prompt);
    }
    std::string engine_version() const { return model_->engine_version(); }
    py::dict stats() const { return json_to_python(eagle::to_json(session_->stats())); }
    std::vector<int32_t> tokenize(const std::string & text) const { return model_->tokenize(text, false); }
    py::bytes token_piece(int32_t id) const { return py::bytes(model_->token_piece(id)); }

private:
    std::unique_ptr<eagle::vlm_model> model_;
    std::unique_ptr<eagle::vlm_session> session_;
};

eagle::map_source map_source_from(const std::string & name) {
    if (name == "attribution") return eagle::map_source::attribution;
    if (name == "add-value" || name == "add_value") return eagle::map_source::add_value;
    throw eagle::error(eagle::errc::invalid_argument, "map '" + name + "' is not attribution or add-value");
}

} // namespace

PYBIND11_MODULE(_eagle, m) {
    m.doc() = "eagle.cpp's library (use the `eagle` package, not this module)";

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const eagle::error & e) {
            switch (e.code()) {
                case eagle::errc::invalid_argument: PyErr_SetString(PyExc_ValueError, e.what()); return;
                case eagle::errc::io:               PyErr_SetString(PyExc_OSError, e.what()); return;
                case eagle::errc::unsupported:      PyErr_SetString(PyExc_NotImplementedError, e.what()); return;
                case eagle::errc::model:
                case eagle::errc::backend:          PyErr_SetString(PyExc_RuntimeError, e.what()); return;
            }
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    });

    m.attr("version") = eagle::version();
    m.attr("llama_cpp") = eagle::llama_cpp_info().version;
    m.attr("default_model") = EAGLE_DEFAULT_MODEL;
    m.attr("default_mmproj") = EAGLE_DEFAULT_MMPROJ;
    m.attr("default_image") = EAGLE_DEFAULT_IMAGE;
    m.def("engines", &eagle::vlm_engines);
    m.def("load_image", [](const std::string & path) { return array_from_image(eagle::load_image(path)); });
    m.def("search_modes", &eagle::search_mode_names);
    m.def("methods", &eagle::method_names);

    py::class_<eagle::model_params>(m, "ModelParams")
        .def(py::init<>())
        .def_readwrite("engine", &eagle::model_params::engine)
        .def_readwrite("model_path", &eagle::model_params::model_path)
        .def_readwrite("mmproj_path", &eagle::model_params::mmproj_path)
        .def_readwrite("n_threads", &eagle::model_params::n_threads)
        .def_readwrite("n_workers", &eagle::model_params::n_workers)
        .def_readwrite("pin_workers", &eagle::model_params::pin_workers)
        .def_readwrite("n_gpu_layers", &eagle::model_params::n_gpu_layers)
        .def_readwrite("blas", &eagle::model_params::blas)
        .def_readwrite("chat_template", &eagle::model_params::chat_template)
        .def_readwrite("system_prompt", &eagle::model_params::system_prompt);
    py::class_<eagle::session_params>(m, "SessionParams")
        .def(py::init<>())
        .def_readwrite("n_seq", &eagle::session_params::n_seq)
        .def_readwrite("n_ctx", &eagle::session_params::n_ctx)
        .def_readwrite("use_flash_attn", &eagle::session_params::use_flash_attn)
        .def_readwrite("use_f32_kv", &eagle::session_params::use_f32_kv)
        .def_readwrite("use_memo", &eagle::session_params::use_memo);

    // the request: filled from Python keywords by eagle/__init__.py
    py::class_<eagle::explanation_request>(m, "Request")
        .def(py::init<>())
        .def_readwrite("image_path", &eagle::explanation_request::image_path)
        .def_readwrite("more_image_paths", &eagle::explanation_request::more_image_paths)
        .def_readwrite("prompt", &eagle::explanation_request::prompt)
        .def_readwrite("use_raw_prompt", &eagle::explanation_request::use_raw_prompt)
        .def_readwrite("answer_text", &eagle::explanation_request::answer_text)
        .def_readwrite("max_tokens", &eagle::explanation_request::max_tokens)
        .def_readwrite("append_eog", &eagle::explanation_request::append_eog)
        .def_readwrite("target_words", &eagle::explanation_request::target_words)
        .def_readwrite("target_indices", &eagle::explanation_request::target_indices)
        .def_readwrite("target_text", &eagle::explanation_request::target_text)
        .def_readwrite("revise", &eagle::explanation_request::revise)
        .def_readwrite("prompt_ids", &eagle::explanation_request::prompt_ids)
        .def_readwrite("image_token", &eagle::explanation_request::image_token)
        .def_readwrite("answer_ids", &eagle::explanation_request::answer_ids)
        .def_readwrite("target_token_ids", &eagle::explanation_request::target_token_ids)
        .def_readwrite("fit_size", &eagle::explanation_request::fit_size)
        .def("set_fit", [](eagle::explanation_request & r, const std::string & name) { r.fit = eagle::fit_mode_from_string(name); })
        .def_readwrite("method", &eagle::explanation_request::method)
        .def("set_fill", [](eagle::explanation_request & r, const std::string & name) { r.fill = eagle::fill_mode_from_string(name); })
        .def("set_regions", [](eagle::explanation_request & r, const std::string & kind, int32_t n_divisions,
                               const std::string & grid, const std::string & labels_path) {
            r.regions.kind = eagle::region_kind_from_string(kind);
            r.regions.n_divisions = n_divisions;
            eagle::parse_grid(grid, r.regions);
            r.regions.labels_path = labels_path;
        })
        .def("set_search", [](eagle::explanation_request & r, const std::string & method, const std::string & search,
                              float lambda1, float lambda2, uint64_t seed, int32_t n_samples, int32_t max_regions,
                              float stop_fraction, int32_t lazy_batch, float lazy_epsilon, int32_t search_scope,
                              int32_t pending_samples, int32_t update_step) {
            eagle::explain_params & p = r.params;
            p.lambda1 = lambda1;
            p.lambda2 = lambda2;
            p.mode = eagle::search_mode_from_string(search);
            r.method = method;
            eagle::set_method(p, method);
            p.sampling.seed = seed;
            p.sampling.n_samples = n_samples;
            p.budget.max_regions = max_regions;
            p.budget.stop_fraction = stop_fraction;
            p.lazy.batch = lazy_batch;
            p.lazy.epsilon = lazy_epsilon;
            p.efficient.search_scope = search_scope;
            p.efficient.pending_samples = pending_samples;
            p.efficient.update_step = update_step;
        })
        .def("set_ground_truth", [](eagle::explanation_request & r, const std::string & json_text) {
            r.ground_truth = nlohmann::ordered_json::parse(json_text);
        });

    py::class_<eagle::explanation_record>(m, "Record")
        .def_readonly("answer", &eagle::explanation_record::answer_text)
        .def_property_readonly("answer_ids", [](const eagle::explanation_record & r) { return array_1d(r.answer); })
        .def_property_readonly("words", [](const eagle::explanation_record & r) {
            py::list out;
            for (const std::string & w : r.words) out.append(py::bytes(w));
            return out;
        })
        .def_property_readonly("target_indices", [](const eagle::explanation_record & r) { return array_1d(r.target_indices); })
        .def_property_readonly("target_ids", [](const eagle::explanation_record & r) { return array_1d(r.target_ids); })
        .def_property_readonly("order", [](const eagle::explanation_record & r) { return array_1d(r.result.order); })
        .def_property_readonly("n_ranked", [](const eagle::explanation_record & r) { return r.result.n_ranked; })
        .def_property_readonly("n_regions", [](const eagle::explanation_record & r) { return r.result.n_regions; })
        .def_property_readonly("is_complete", [](const eagle::explanation_record & r) { return r.result.is_complete; })
        .def_property_readonly("insertion_score", [](const eagle::explanation_record & r) { return array_1d(r.result.insertion_score); })
        .def_property_readonly("deletion_score", [](const eagle::explanation_record & r) { return array_1d(r.result.deletion_score); })
        .def_property_readonly("smdl_score", [](const eagle::explanation_record & r) { return array_1d(r.result.smdl_score); })
        .def_property_readonly("region_area", [](const eagle::explanation_record & r) { return array_1d(r.result.region_area); })
        .def_property_readonly("insertion_word_score", [](const eagle::explanation_record & r) { return array_2d(r.result.insertion_word_score); })
        .def_property_readonly("deletion_word_score", [](const eagle::explanation_record & r) { return array_2d(r.result.deletion_word_score); })
        .def_property_readonly("org_score", [](const eagle::explanation_record & r) { return array_1d(r.result.org_score); })
        .def_property_readonly("baseline_score", [](const eagle::explanation_record & r) { return array_1d(r.result.baseline_score); })
        .def_property_readonly("marginal_gain", [](const eagle::explanation_record & r) { return array_1d(r.result.marginal_gain); })
        .def_property_readonly("region_attribution", [](const eagle::explanation_record & r) { return array_1d(r.result.region_value); })
        .def_property_readonly("n_evaluations", [](const eagle::explanation_record & r) { return r.result.n_evaluations; })
        .def_property_readonly("n_memo_hits", [](const eagle::explanation_record & r) { return r.result.n_memo_hits; })
        .def_property_readonly("t_search_us", [](const eagle::explanation_record & r) { return r.result.t_search_us; })
        .def_property_readonly("image", [](const eagle::explanation_record & r) { return array_from_image(r.request.image); })
        .def_property_readonly("labels", [](const eagle::explanation_record & r) {
            py::array_t<int32_t> out({py::ssize_t(r.regions.ny), py::ssize_t(r.regions.nx)});
            std::copy(r.regions.labels.begin(), r.regions.labels.end(), out.mutable_data());
            return out;
        })
        .def("attribution_map", [](const eagle::explanation_record & r) {
            return map_array(eagle::attribution_map(r.result, r.regions), r.regions);
        })
        .def("token_map", [](const eagle::explanation_record & r, int32_t i_target) {
            if (i_target < 0 || size_t(i_target) >= r.target_indices.size()) {
                throw eagle::error(eagle::errc::invalid_argument, "token_map: target " + std::to_string(i_target) + " of " +
                                                                      std::to_string(r.target_indices.size()));
            }
            return map_array(eagle::token_gain_map(r.result, r.regions, i_target, r.request.params.lambda1,
                                                   r.request.params.lambda2),
                             r.regions);
        })
        .def("to_json", [](const eagle::explanation_record & r) { return eagle::explanation_json_text(r); })
        .def("to_dict", [](const eagle::explanation_record & r) { return json_to_python(eagle::to_json(r)); })
        .def("save", [](const eagle::explanation_record & r, const std::string & dir) {
            py::gil_scoped_release release;
            eagle::write_explanation_folder(dir, r);
        })
        .def("html", [](const eagle::explanation_record & r) {
            return eagle::render_html_report(r, eagle::render_explanation_images(r));
        })
        .def("metrics", [](const eagle::explanation_record & r, double sensitivity, const std::string & map) {
            return json_to_python(eagle::sample_metrics_to_json(eagle::evaluate_record(r, map_source_from(map), sensitivity)));
        });

    py::class_<py_model>(m, "Model")
        .def(py::init<const eagle::model_params &, const eagle::session_params &>())
        .def("generate", &py_model::generate)
        .def("explain", &py_model::explain, py::arg("request"), py::arg("image") = py::none(), py::arg("progress") = py::none())
        .def_property_readonly("description", &py_model::description)
        .def_property_readonly("engine_version", &py_model::engine_version)
        .def_property_readonly("chat_template", &py_model::chat_template)
        .def("format_prompt", &py_model::format_prompt)
        .def("stats", &py_model::stats)
        .def("tokenize", &py_model::tokenize)
        .def("token_piece", &py_model::token_piece);

    m.def("evaluate_records", [](const std::vector<const eagle::explanation_record *> & records, double sensitivity,
                                 const std::string & map) {
        std::vector<eagle::sample_metrics> samples;
        for (const eagle::explanation_record * r : records) {
            samples.push_back(eagle::evaluate_record(*r, map_source_from(map), sensitivity));
        }
        return json_to_python(eagle::summary_to_json(eagle::summarize(samples)));
    });
    m.def("evaluate_dirs", [](const std::vector<std::string> & dirs, double sensitivity, const std::string & map) {
        std::vector<eagle::sample_metrics> samples;
        for (const std::string & dir : dirs) {
            bool is_single = false;
            for (const eagle::explanation_files & f : eagle::discover_explanations(dir, is_single)) {
                samples.push_back(eagle::evaluate_explanation_files(f, map_source_from(map), sensitivity));
            }
        }
        return json_to_python(eagle::summary_to_json(eagle::summarize(samples)));
    });
}
