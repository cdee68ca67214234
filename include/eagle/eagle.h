// eagle/eagle.h - eagle.cpp: black-box explanations of what vision-language models generate (EAGLE,
// arXiv 2509.22496), for the GGUF models llama.cpp runs.
//
// Usage (scoring masked images; see eagle/vlm.h):
//   eagle::vlm_model   model({"model.gguf", "mmproj.gguf"});
//   eagle::vlm_session session(model, {});
//   eagle::image_rgb8  image = eagle::load_image("cat.png");
//   auto answer = session.generate(image, "describe the image", false, 64);
//   std::vector<int32_t> ids; for (auto & t : answer.tokens) ids.push_back(t.id);
//   session.prepare({image, "describe the image", false, ids});
//   std::vector<eagle::mask> masks = {eagle::mask::full(image.nx, image.ny)};
//   std::vector<float> probs(masks.size() * session.n_targets());
//   session.score(masks, probs);
#pragma once

#include "eagle/error.h"
#include "eagle/image.h"
#include "eagle/log.h"
#include "eagle/scorer.h"
#include "eagle/vlm.h"

namespace eagle {

const char * version(); // eagle.cpp's own version, e.g. "0.1.0"

} // namespace eagle
