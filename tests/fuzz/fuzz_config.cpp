// Fuzz target: a config.json of arbitrary bytes, through load_config (the real path API).
//
// Properties: a bad file is a minigpt::FileError naming the file; a config that loads is
// valid, its parameter count is computed without overflow and equals the parameter table's,
// and it survives save_config -> load_config unchanged.
#include "fuzz_common.hpp"

#include <minigpt/config_file.hpp>
#include <minigpt/parameters.hpp>

using namespace minigpt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/config.json";
  fuzz::write_bytes(path, data, size);
  GPTConfig c;
  try {
    c = load_config(path);
  } catch (const FileError& e) {
    FUZZ_CHECK(e.where() == path, e.what());
    return 0;
  }
  c.validate();  // must not throw: load_config validated it
  const Index n = c.parameter_count();
  FUZZ_CHECK(n > 0, "parameter count " + std::to_string(n));
  FUZZ_CHECK(c.n_embd % c.n_head == 0 && c.head_size() > 0, "head size");
  if (n <= (Index(1) << 20) && c.n_layer <= 1000) {  // the table is as long as n_layer
    const ParameterTable table(c);
    FUZZ_CHECK(table.total() == n, "table total " + std::to_string(table.total()) + " != " + std::to_string(n));
  }
  const std::string again = fuzz::scratch_dir() + "/config-again.json";
  save_config(c, again);
  const GPTConfig c2 = load_config(again);
  FUZZ_CHECK(c2 == c, "save_config -> load_config changed the config");
  FUZZ_CHECK(config_from_json(config_to_json(c), "json") == c, "config_to_json -> config_from_json");
  return 0;
}
