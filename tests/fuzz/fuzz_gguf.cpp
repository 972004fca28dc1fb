// Fuzz target: a .gguf file of arbitrary bytes, opened through the real path API (GGUFReader,
// then load_gguf).
//
// Properties: a bad file is a minigpt::FileError that names the file; a file that opens has
// every tensor aligned and inside the file, and each tensor reads as floats (or is refused by
// name for a type minigpt cannot read); a file that loads as a gpt2 model has only finite
// weights, saves again as F32 and loads back to the same config and the same weights, bit for
// bit. Nothing else may happen: no other exception, no out-of-bounds read, no allocation
// beyond what the file holds.
#include "fuzz_common.hpp"

#include <minigpt/gguf.hpp>

#include <cmath>
#include <vector>

using namespace minigpt;

namespace {

void read_every_tensor(const GGUFReader& r, std::size_t file_size) {
  for (const GGUFTensorInfo& t : r.tensors()) {
    FUZZ_CHECK(t.offset % r.alignment() == 0, "tensor '" + t.name + "' is not aligned");
    FUZZ_CHECK(static_cast<std::size_t>(r.data_offset() + t.offset + t.bytes) <= file_size,
               "tensor '" + t.name + "' lies outside the file");
    std::vector<float> values(static_cast<std::size_t>(t.count));
    const bool readable = t.type == 0 || t.type == 1 || t.type == 8 || t.type == 30;
    try {
      r.read_f32(t, values.data(), true);
      FUZZ_CHECK(readable, "a tensor of an unsupported type was read: " + t.name);
    } catch (const FileError& e) {
      FUZZ_CHECK(!readable && fuzz::mentions(e.what(), t.name), e.what());
    }
    if (t.type == 8) {
      try {
        const detail::Q8_0Matrix m = r.q8_0(t);
        FUZZ_CHECK(m.rows * m.cols == t.count, "Q8_0 matrix size");
      } catch (const FileError& e) {
        FUZZ_CHECK(fuzz::mentions(e.what(), t.name) && fuzz::mentions(e.what(), "non-finite scale"), e.what());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/model.gguf";
  fuzz::write_bytes(path, data, size);
  try {
    GGUFReader r(path);
    read_every_tensor(r, size);
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
  }
  try {
    GGUFModel m = load_gguf(path, true);
    const Parameters<float>& p = m.model.parameters();
    FUZZ_CHECK(p.size() == m.model.config().parameter_count(), "parameter count");
    for (Index i = 0; i < p.size(); ++i) FUZZ_CHECK(std::isfinite(p.data()[i]), "a loaded weight is not finite");
    if (m.tokenizer) FUZZ_CHECK(m.tokenizer->vocab_size() <= m.model.config().vocab_size, "tokenizer larger than the model");
    // Saved again (F32) and loaded back: the same model, bit for bit.
    if (m.model.config().activation() == Activation::gelu_tanh) {
      const std::string again = fuzz::scratch_dir() + "/again.gguf";
      save_gguf(m.model, m.tokenizer ? &*m.tokenizer : nullptr, again);
      GGUFModel b = load_gguf(again);
      FUZZ_CHECK(b.model.config() == m.model.config(), "the config changed in a round trip");
      FUZZ_CHECK((b.model.parameters().flat() == p.flat()).all(), "the weights changed in a round trip");
      FUZZ_CHECK(b.tokenizer.has_value() == m.tokenizer.has_value(), "the tokenizer was lost in a round trip");
    }
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
  }
  return 0;
}
