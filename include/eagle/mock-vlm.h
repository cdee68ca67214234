// eagle/mock-vlm.h - the mock engine: a weight-free, analytic vision-language model, for tests and examples
// (load_vlm({.engine = "mock"}) is the same thing through the factory).
//
// The image is cut into 2x2 quadrants; each gets a colour name (red, green, blue, yellow, black, white,
// gray) from its mean pixel. The answer the model "sees" is, quadrant by quadrant,
//     "top left <colour> top right <colour> bottom left <colour> bottom right <colour>" + end token
// Position t of an answer predicts: the row word (t % 3 == 0), the column word (1), or the colour of
// quadrant t / 3 (2), then the end token. Logits are 6 for the expected word, 0 for the rest; at a colour
// position a colour c gets 1 + 6 * kept(q) * [c is the quadrant's colour], kept(q) = fraction of quadrant
// q's pixels the mask keeps. So p(colour) falls smoothly as its quadrant is removed, and no other region
// matters: an explanation must rank the quadrant of a colour word first. The fill mode makes no difference
// (removed pixels count as removed whatever they become), and the prompt only has to be well formed.
// The vocabulary is those words plus "<unk>", "<eos>" and "<image>"; text is split on spaces.
// Thread safety and ownership as in eagle/vlm.h.
#pragma once

#include "eagle/vlm.h"

#include <memory>

namespace eagle {

// model_params.engine must be "mock" or empty; the paths are ignored (no files are read).
std::unique_ptr<vlm_model> load_mock_vlm(const model_params & params);
std::unique_ptr<vlm_model> load_mock_vlm(); // engine "mock", default params

} // namespace eagle
