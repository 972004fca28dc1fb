// Fuzz target: a model.safetensors file of arbitrary bytes, opened through the real path API
// (SafetensorsReader, then load_model beside a fixed tiny config.json).
//
// Properties: a bad file is a minigpt::FileError that names the file; a file that opens has
// every tensor inside the data section, and each tensor reads (or is refused by name for a
// non-finite value or an unsupported dtype). Nothing else may happen: no other exception, no
// out-of-bounds read, no allocation beyond what the file holds.
#include "fuzz_common.hpp"

#include <minigpt/checkpoint.hpp>
#include <minigpt/safetensors.hpp>

#include <cmath>
#include <vector>

using namespace minigpt;

namespace {

// A model of 300 parameters, so that valid seeds stay about 1.5 KB.
const char* kConfig = R"({"n_layer": 1, "n_head": 2, "n_embd": 4, "n_positions": 4, "vocab_size": 8,
  "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5})";

const std::string& model_dir() {
  static const std::string dir = [] {
    const std::string d = fuzz::scratch_dir() + "/model";
    ::mkdir(d.c_str(), 0700);
    fuzz::write_bytes(d + "/config.json", std::string(kConfig));
    return d;
  }();
  return dir;
}

void read_every_tensor(const SafetensorsReader& r, std::size_t file_size) {
  for (const SafetensorsEntry& e : r.entries()) {
    FUZZ_CHECK(0 <= e.begin && e.begin <= e.end && static_cast<std::size_t>(e.end) <= file_size,
               "tensor '" + e.name + "' lies outside the file");
    std::vector<double> values(static_cast<std::size_t>(e.count()));
    if (!e.dtype_known) {
      try {
        r.read(e, values.data(), true);
        fuzz::fail("an unsupported dtype was read: " + e.dtype_text);
      } catch (const FileError& err) {
        FUZZ_CHECK(fuzz::mentions(err.what(), e.name), err.what());
      }
      continue;
    }
    r.read(e, values.data(), true);  // all values, NaN included: must not throw
    // The first value that is not finite as a float: NaN or Inf in the file, or an F64 value
    // past float's range. Reading as float must refuse exactly those, saying which kind.
    std::size_t first_bad = values.size();
    for (std::size_t i = 0; i < values.size() && first_bad == values.size(); ++i)
      if (!std::isfinite(static_cast<float>(values[i]))) first_bad = i;
    std::vector<float> f(values.size());
    try {
      r.read(e, f.data());
      FUZZ_CHECK(first_bad == values.size(), "a non-finite value was accepted in '" + e.name + "'");
    } catch (const FileError& err) {
      FUZZ_CHECK(first_bad < values.size(), std::string("a finite tensor was refused: ") + err.what());
      const bool in_file = !std::isfinite(values[first_bad]);
      FUZZ_CHECK(fuzz::mentions(err.what(), e.name) &&
                     fuzz::mentions(err.what(), "index " + std::to_string(first_bad)) &&
                     fuzz::mentions(err.what(), in_file ? "non-finite" : "does not fit in float"),
                 err.what());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& dir = model_dir();
  const std::string path = dir + "/model.safetensors";
  fuzz::write_bytes(path, data, size);
  try {
    SafetensorsReader r(path);
    read_every_tensor(r, size);
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
  }
  try {
    GPT<float> model = load_model<float>(dir);
    FUZZ_CHECK(model.parameter_count() == model.config().parameter_count(), "parameter count");
    for (Index i = 0; i < model.parameter_count(); ++i)
      FUZZ_CHECK(std::isfinite(model.parameters().data()[i]), "a loaded weight is not finite");
  } catch (const FileError& e) {
    FUZZ_CHECK(fuzz::mentions(e.what(), dir), e.what());
  }
  return 0;
}
