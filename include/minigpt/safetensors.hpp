// minigpt/safetensors.hpp — reading and writing the safetensors file format.
//
// Chapter idea: a trained model is nothing but its parameters (매개변수), saved. Hugging Face
// keeps GPT-2's 124M numbers in `model.safetensors`:
//
//     [8 bytes: N, little-endian]  [N bytes: JSON header]  [data]
//     header: {"wte.weight": {"dtype": "F32", "shape": [50257, 768],
//                             "data_offsets": [0, 154389504]}, ...,
//              "__metadata__": {"format": "pt"}}
//
// Offsets count from the start of the data; the tensors must tile the data exactly, with no
// overlap and no gap. Everything in a file is checked before a single number is used: a
// truncated file, a header length of 0 or past the end, a malformed header, an unknown dtype,
// offsets out of range, overlapping or leaving gaps, a shape that disagrees with the byte
// count: each is a FileError naming the file and the tensor.
//
// Shapes in: a file.  Shapes out: named tensors of any shape, converted to float or double.
#pragma once

#include "detail/checked.hpp"
#include "detail/io.hpp"
#include "error.hpp"
#include "tensor.hpp"

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace minigpt {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

enum class DType { F32, F16, BF16, F64 };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
  }
  return "?";
}
inline Index dtype_size(DType d) { return d == DType::F64 ? 8 : d == DType::F32 ? 4 : 2; }

// One tensor as the header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype_text;  // as written in the file, e.g. "F32", "I64"
  bool dtype_known = false;
  DType dtype = DType::F32;
  std::vector<Index> shape;
  Index begin = 0, end = 0;  // byte range within the data section
  Index count() const { return Tensor<float>::count(shape); }
};

inline std::string shape_text(const std::vector<Index>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace detail {

// A read-only memory map of a whole file, released on destruction.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw FileError(path, "", "cannot open for reading (" + errno_text(errno) + ")");
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw FileError(path, "", "not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        throw FileError(path, "", "cannot map the file (" + errno_text(errno) + ")");
      }
      data_ = static_cast<const unsigned char*>(p);
    }
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::string path_;
  int fd_ = -1;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

template <typename S>
S decode_scalar(const unsigned char* p, DType d) {
  switch (d) {
    case DType::F32: {
      float f;
      std::memcpy(&f, p, 4);
      return static_cast<S>(f);
    }
    case DType::F64: {
      double f;
      std::memcpy(&f, p, 8);
      return static_cast<S>(f);
    }
    case DType::F16: {
      std::uint16_t bits;
      std::memcpy(&bits, p, 2);
      return static_cast<S>(static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(bits)));
    }
    case DType::BF16: {
      std::uint16_t bits;
      std::memcpy(&bits, p, 2);
      return static_cast<S>(static_cast<float>(Eigen::numext::bit_cast<Eigen::bfloat16>(bits)));
    }
  }
  return S(0);
}

}  // namespace detail

// An open safetensors file: the header parsed and checked, the data mapped.
class SafetensorsReader {
 public:
  // The largest header accepted (the format's own reference reader uses the same bound).
  static constexpr std::uint64_t max_header_bytes = 100u << 20;

  explicit SafetensorsReader(const std::string& path) : path_(path), file_(path) {
    const std::size_t size = file_.size();
    if (size < 8)
      throw FileError(path_, "header length", "file is truncated: " + std::to_string(size) +
                                                  " bytes, but a safetensors file starts with an 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | file_.data()[i];
    if (n == 0) throw FileError(path_, "header length", "is 0; the JSON header cannot be empty");
    if (n > size - 8)
      throw FileError(path_, "header length", std::to_string(n) + " runs past the end of the file (" +
                                                  std::to_string(size) + " bytes)");
    if (n > max_header_bytes)
      throw FileError(path_, "header length", std::to_string(n) + " is more than the limit of " +
                                                  std::to_string(max_header_bytes) + " bytes");
    data_ = file_.data() + 8 + n;
    data_size_ = static_cast<Index>(size - 8 - n);
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(file_.data() + 8, file_.data() + 8 + n);
    } catch (const nlohmann::json::exception& e) {
      throw FileError(path_, "header", std::string("malformed JSON: ") + e.what());
    }
    if (!header.is_object()) throw FileError(path_, "header", "must be a JSON object");
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        if (!it->is_object()) throw FileError(path_, "__metadata__", "must be an object of strings");
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (!m->is_string()) throw FileError(path_, "__metadata__." + m.key(), "must be a string");
          metadata_[m.key()] = m->get<std::string>();
        }
        continue;
      }
      entries_.push_back(parse_entry(it.key(), it.value()));
    }
    check_layout();
  }

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const SafetensorsEntry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

  // Converts the tensor into dst (e.count() scalars). Refuses dtypes minigpt cannot read
  // and, unless allow_non_finite, NaN or infinite values.
  template <typename S>
  void read(const SafetensorsEntry& e, S* dst, bool allow_non_finite = false) const {
    if (!e.dtype_known)
      throw FileError(path_, "tensor '" + e.name + "'", "dtype " + e.dtype_text + " is not supported (F32, F16, BF16, F64)");
    const unsigned char* p = data_ + e.begin;
    const Index n = e.count(), step = dtype_size(e.dtype);
    if (e.dtype == DType::F32 && std::is_same<S, float>::value) {
      std::memcpy(static_cast<void*>(dst), p, static_cast<std::size_t>(n) * 4);
    } else {
      for (Index i = 0; i < n; ++i) dst[i] = detail::decode_scalar<S>(p + i * step, e.dtype);
    }
    if (!allow_non_finite)
      for (Index i = 0; i < n; ++i)
        if (!std::isfinite(dst[i])) {
          // An F64 value past float's range is finite in the file: say so, not "non-finite".
          const double original = detail::decode_scalar<double>(p + i * step, e.dtype);
          throw FileError(path_, "tensor '" + e.name + "'",
                          std::isfinite(original)
                              ? "value " + std::to_string(original) + " at index " + std::to_string(i) +
                                    " does not fit in " + (sizeof(S) == 4 ? "float" : "the scalar type")
                              : "holds a non-finite value (" + std::to_string(original) + ") at index " +
                                    std::to_string(i));
        }
  }

  template <typename S>
  std::vector<S> read(const std::string& name, bool allow_non_finite = false) const {
    const SafetensorsEntry* e = find(name);
    if (e == nullptr) throw FileError(path_, "tensor '" + name + "'", "missing");
    std::vector<S> out(static_cast<std::size_t>(e->count()));
    read(*e, out.data(), allow_non_finite);
    return out;
  }

 private:
  SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& j) const {
    const std::string field = "tensor '" + name + "'";
    if (!j.is_object()) throw FileError(path_, field, "must be an object with dtype, shape and data_offsets");
    SafetensorsEntry e;
    e.name = name;
    auto dt = j.find("dtype");
    if (dt == j.end() || !dt->is_string()) throw FileError(path_, field, "dtype missing or not a string");
    e.dtype_text = dt->get<std::string>();
    static const std::pair<const char*, DType> known[] = {
        {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64}};
    Index element_size = 0;
    for (const auto& k : known)
      if (e.dtype_text == k.first) {
        e.dtype = k.second;
        e.dtype_known = true;
        element_size = dtype_size(k.second);
      }
    if (!e.dtype_known) {
      // Other dtypes may sit in a file beside the weights (e.g. integer buffers); their
      // sizes are still checked so the layout check below stays exact.
      static const std::pair<const char*, Index> sizes[] = {{"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I8", 1}, {"U8", 1},
                                                            {"BOOL", 1},    {"I16", 2},     {"U16", 2}, {"I32", 4},
                                                            {"U32", 4},     {"I64", 8},     {"U64", 8}};
      for (const auto& s : sizes)
        if (e.dtype_text == s.first) element_size = s.second;
      if (element_size == 0) throw FileError(path_, field, "unknown dtype '" + e.dtype_text + "'");
    }
    auto sh = j.find("shape");
    if (sh == j.end() || !sh->is_array()) throw FileError(path_, field, "shape missing or not an array");
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
        throw FileError(path_, field, "shape " + sh->dump() + " must hold non-negative integers");
      e.shape.push_back(static_cast<Index>(d.get<std::uint64_t>()));
    }
    auto off = j.find("data_offsets");
    if (off == j.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw FileError(path_, field, "data_offsets must be [begin, end] with non-negative integers");
    const auto begin = (*off)[0].get<std::uint64_t>(), end = (*off)[1].get<std::uint64_t>();
    if (begin > end || end > static_cast<std::uint64_t>(data_size_))
      throw FileError(path_, field, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                        "] are out of range: the data section has " + std::to_string(data_size_) +
                                        " bytes");
    e.begin = static_cast<Index>(begin);
    e.end = static_cast<Index>(end);
    Index bytes = element_size;
    try {
      for (Index d : e.shape) bytes = detail::checked_mul(bytes, d, "shape");
    } catch (const ArgumentError&) {
      throw FileError(path_, field, "shape " + shape_text(e.shape) + " is too large");
    }
    if (bytes != e.end - e.begin)
      throw FileError(path_, field, "dtype " + e.dtype_text + " and shape " + shape_text(e.shape) + " need " +
                                        std::to_string(bytes) + " bytes, data_offsets give " +
                                        std::to_string(e.end - e.begin));
    return e;
  }

  // The tensors must cover the data section exactly once: no overlap, no gap.
  void check_layout() const {
    std::vector<const SafetensorsEntry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    Index at = 0;
    std::string previous = "the start of the data";
    for (const SafetensorsEntry* e : order) {
      if (e->begin < at)
        throw FileError(path_, "tensor '" + e->name + "'", "data_offsets overlap " + previous);
      if (e->begin > at)
        throw FileError(path_, "tensor '" + e->name + "'", "data_offsets leave a gap of " +
                                                               std::to_string(e->begin - at) + " bytes after " + previous);
      at = e->end;
      previous = "tensor '" + e->name + "'";
    }
    if (at != data_size_)
      throw FileError(path_, "data", std::to_string(data_size_ - at) + " bytes after the last tensor belong to none");
  }

  std::string path_;
  detail::MappedFile file_;
  const unsigned char* data_ = nullptr;
  Index data_size_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: a name, a shape, and count(shape) scalars at data.
template <typename S>
struct TensorToWrite {
  std::string name;
  std::vector<Index> shape;
  const S* data;
};

// A safetensors file ready to write: its 8-byte length and JSON header, followed by the
// tensors' own memory (not copied). Tensors are F32 for float and F64 for double, in the
// given order.
template <typename S>
class SafetensorsFile {
 public:
  SafetensorsFile(const std::vector<TensorToWrite<S>>& tensors,
                  const std::map<std::string, std::string>& metadata = {{"format", "pt"}}) {
    static_assert(std::is_same<S, float>::value || std::is_same<S, double>::value, "float or double");
    nlohmann::ordered_json header;
    Index offset = 0;
    for (const auto& t : tensors) {
      const Index bytes = Tensor<S>::count(t.shape) * static_cast<Index>(sizeof(S));
      header[t.name] = nlohmann::ordered_json{{"dtype", std::is_same<S, float>::value ? "F32" : "F64"},
                                              {"shape", t.shape},
                                              {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string json = header.dump();
    json.append((8 - json.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the format suggests
    const std::uint64_t n = json.size();
    prefix_.assign(8, '\0');
    for (int i = 0; i < 8; ++i) prefix_[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    prefix_ += json;
    pieces_.emplace_back(prefix_.data(), prefix_.size());
    for (const auto& t : tensors)
      pieces_.emplace_back(reinterpret_cast<const char*>(t.data),
                           static_cast<std::size_t>(Tensor<S>::count(t.shape)) * sizeof(S));
  }
  SafetensorsFile(const SafetensorsFile&) = delete;  // pieces_ points into prefix_
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // For detail::write_files_atomic, when several files must be replaced together.
  const std::vector<std::pair<const char*, std::size_t>>& pieces() const { return pieces_; }

 private:
  std::string prefix_;
  std::vector<std::pair<const char*, std::size_t>> pieces_;
};

// Writes tensors with metadata to path, atomically: the previous file stays intact unless the
// new one is complete.
template <typename S>
void save_safetensors(const std::string& path, const std::vector<TensorToWrite<S>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}}) {
  const SafetensorsFile<S> file(tensors, metadata);
  detail::write_file_atomic(path, file.pieces());
}

}  // namespace minigpt
