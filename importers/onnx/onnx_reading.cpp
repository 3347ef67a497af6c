// ONNX reading: parses a model with byte and nesting limits, reads tensors (checking every
// size and external data path), checks opsets and collects ONNX's own shape inference.
//
// Note [External data]: a tensor stored outside the .onnx file names a `location` relative
// to the model's folder. A hostile file could name "../../etc/passwd", an absolute path or a
// symlink pointing anywhere, so the location must be relative, contain no "..", not be a
// symlink, and resolve (canonically) inside the folder; offset and length are checked
// against the file's size and the tensor's element count before anything is read.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/shape_inference/implementation.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "importers/onnx/onnx_importer.h"

namespace nl::importers {

namespace fs = std::filesystem;

namespace detail {

double clean(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return std::strtod(buf, nullptr);
}

// ---- the model's envelope ----

// Note [Old opsets]: Netloom implements the ops as opsets 7–18 define them. A model of an
// older opset still imports when every node's op is one whose definition at that opset is
// the one Netloom implements: `since` holds, per op, the opset from which its definition has
// been Netloom's (later versions only accept more element types), and a model's opset must
// be at least that. Add, Mul
// … (legacy `broadcast` attribute before 7), BatchNormalization (`is_test`, `spatial`),
// Dropout and the like changed meaning, so an opset-6 model using them is refused, naming them.
void Importer::check_old_opset() const {
  static const std::map<std::string, int64_t> since = {
      {"GlobalAveragePool", 1}, {"GlobalMaxPool", 1}, {"Not", 1},        {"Softplus", 1},     {"Softsign", 1},
      {"Identity", 1},          {"HardSigmoid", 6},   {"Elu", 6},        {"Selu", 6},         {"LeakyRelu", 6},
      {"InstanceNormalization", 6}, {"Relu", 6},      {"Sigmoid", 6},    {"Tanh", 6},         {"Exp", 6},
      {"Log", 6},               {"Sqrt", 6},          {"Abs", 6},        {"Neg", 6},          {"Floor", 6},
      {"Ceil", 6},              {"Reciprocal", 6}};
  std::set<std::string> changed;
  for (const auto& n : g_.node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
    auto it = since.find(n.op_type());
    if (it == since.end() || it->second > opset_) changed.insert(n.op_type());
  }
  if (changed.empty()) return;
  std::string names;
  for (const auto& op : changed) names += (names.empty() ? "" : ", ") + op;
  fail(file_, ": opset ", opset_, " is not supported (", kMinOpset, "–", kMaxOpset, "): ", names,
       changed.size() == 1 ? " is" : " are", " defined differently at opset ", opset_,
       " than Netloom implements (Note [Old opsets] lists the ops an older model may use)");
}
void Importer::check_opsets() {
  NL_CHECK(m_.has_graph(), file_, ": not an ONNX model (no graph)");
  for (const auto& op : m_.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") {
      opset_ = op.version();
    }
  }
  NL_CHECK(opset_ > 0, file_, ": not an ONNX model (no opset for the default domain)");
  NL_CHECK(opset_ <= kMaxOpset, file_, ": opset ", opset_, " is not supported (", kMinOpset, "–", kMaxOpset, ")");
  if (opset_ < kMinOpset) check_old_opset();
  for (const auto& n : g_.node())
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      error(n, "operators of domain '" + n.domain() + "' (vendor contrib ops) are not supported");
}

// Shapes of intermediate values from ONNX's own shape inference, for the mappings that
// depend on a rank (BatchNorm1d or 2d, Transpose without perm, LayerNormalization's axis) and
// for folding Shape nodes into constants.
void Importer::read_ranks() {
  onnx::ModelProto copy = m_;
  // What an exporter wrote may be shapeless (PyTorch's own inference gives up on some
  // values), and inference would keep it: start from the graph alone.
  copy.mutable_graph()->clear_value_info();
  try {
    // Data propagation follows Shape → Gather → Concat … so sizes computed from shapes
    // (a Slice's end, a Reshape's target) are known where ONNX can tell.
    onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/0, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception&) {
    // Shapes are a convenience: mappings that need one and find none say so themselves.
  }
  auto note = [&](const onnx::ValueInfoProto& v) {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
    ValueShape s;
    s.elem_type = v.type().tensor_type().elem_type();
    for (const auto& d : v.type().tensor_type().shape().dim()) {
      s.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
      s.params.push_back(d.has_dim_param() ? d.dim_param() : std::string());
    }
    shapes_[v.name()] = std::move(s);
  };
  for (const auto& v : copy.graph().value_info()) note(v);
  for (const auto& v : copy.graph().input()) note(v);
  for (const auto& v : copy.graph().output()) note(v);
}

// ONNX's inference first; where it gave up (it does on some PyTorch attention graphs), what
// Netloom's own analysis of the graph built so far says of the value. A node's output
// depends only on nodes added before it, so an analysis stays valid for the ids it covered.
const ValueShape* Importer::shape_of(const std::string& value) const {
  if (auto it = shapes_.find(value); it != shapes_.end() && !it->second.dims.empty()) return &it->second;
  if (auto it = derived_shapes_.find(value); it != derived_shapes_.end()) return &it->second;
  auto v = values_.find(value);
  if (v == values_.end()) {
    auto it = shapes_.find(value);
    return it == shapes_.end() ? nullptr : &it->second;
  }
  if (v->second.node >= analyzed_below_) {
    analysis_ = graph::analyze(graph_);
    analyzed_below_ = graph_.next_id();
  }
  const graph::TensorInfo* t = analysis_.output(v->second.node, v->second.port);
  if (!t) {
    auto it = shapes_.find(value);
    return it == shapes_.end() ? nullptr : &it->second;
  }
  ValueShape s;
  for (const graph::Dim& d : t->shape) {
    s.dims.push_back(d.is_known() ? d.size : -1);
    s.params.push_back(d.is_known() ? std::string() : d.symbol);
  }
  return &(derived_shapes_[value] = std::move(s));
}

int64_t Importer::rank_of(const onnx::NodeProto& n, const std::string& value) const {
  const ValueShape* s = shape_of(value);
  if (!s) no_layer("the rank of '" + value + "' is unknown, which the layer mapping needs");
  return static_cast<int64_t>(s->dims.size());
}

// ---- tensors ----
Tensor Importer::read_tensor(const onnx::TensorProto& t) const {
  return tensor_from_proto(t, file_ + ": initializer '" + t.name() + "'", [&](size_t bytes, const std::string& what) {
    return read_external(t, bytes, what);
  });
}

// Note [Widened integers]: int8, int16, uint16, uint32 and uint64 tensors are read into
// int64, as int32 ones are: the engine computes integers in int64, and every value of these
// types is exact there (a uint64 value past int64's range is refused). Arithmetic on them
// then follows int64, so an overflow the narrower type would wrap does not (uint8 keeps its
// own dtype and wraps).
int widened_integer_bytes(int32_t data_type) {
  switch (data_type) {
    case onnx::TensorProto::INT8: return 1;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16: return 2;
    case onnx::TensorProto::UINT32: return 4;
    case onnx::TensorProto::UINT64: return 8;
    default: return 0;
  }
}

Tensor Importer::widened_integers(const onnx::TensorProto& t, const std::string& what, const Shape& shape, int width,
                                  const std::function<std::string(size_t, const std::string&)>& external) {
  int64_t numel = shape.numel();
  bool is_signed = t.data_type() == onnx::TensorProto::INT8 || t.data_type() == onnx::TensorProto::INT16;
  size_t bytes = static_cast<size_t>(numel) * static_cast<size_t>(width);
  std::string raw;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    raw = external(bytes, what);
  } else if (t.has_raw_data()) {
    NL_CHECK(t.raw_data().size() == bytes, what, ": raw_data holds ", t.raw_data().size(), " bytes, expected ", bytes);
    raw = t.raw_data();
  } else {  // typed fields: the 8- and 16-bit types travel in int32_data, uint32 and uint64 in uint64_data
    int count = width >= 4 ? t.uint64_data_size() : t.int32_data_size();
    NL_CHECK(count == numel, what, ": holds ", count, " values, expected ", numel);
  }
  Tensor out = Tensor::empty(shape, DType::Int64);
  auto* dst = out.data<int64_t>();
  auto store = [&](int64_t i, uint64_t bits) {  // `bits`: the value's low `width` bytes
    if (is_signed) {
      int shift = 64 - 8 * width;
      dst[i] = static_cast<int64_t>(bits << shift) >> shift;  // sign-extend
    } else {
      NL_CHECK(bits <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), what, ": uint64 value ", bits,
               " is past the int64 range Netloom computes integers in");
      dst[i] = static_cast<int64_t>(bits);
    }
  };
  if (!raw.empty() || bytes == 0) {
    for (int64_t i = 0; i < numel; ++i) {
      uint64_t bits = 0;
      std::memcpy(&bits, raw.data() + static_cast<size_t>(i) * width, static_cast<size_t>(width));  // little-endian
      store(i, bits);
    }
    return out;
  }
  bool in_uint64 = width >= 4;
  for (int64_t i = 0; i < numel; ++i) {
    auto k = static_cast<int>(i);
    store(i, in_uint64 ? t.uint64_data(k) : static_cast<uint64_t>(static_cast<uint32_t>(t.int32_data(k))));
  }
  return out;
}

// `external` reads a tensor stored outside the message (Note [External data]).
Tensor Importer::tensor_from_proto(const onnx::TensorProto& t, const std::string& what,
                                const std::function<std::string(size_t, const std::string&)>& external) {
  Shape shape;
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    NL_CHECK(d >= 0 && d < (int64_t{1} << 40), what, ": dimension ", d, " is invalid");
    NL_CHECK(numel <= std::numeric_limits<int64_t>::max() / std::max<int64_t>(d, 1), what, ": too many elements");
    numel *= d;
    shape.push_back(d);
  }
  if (int width = widened_integer_bytes(t.data_type())) return widened_integers(t, what, shape, width, external);
  DType dtype;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: dtype = DType::Float32; break;
    case onnx::TensorProto::INT64: dtype = DType::Int64; break;
    case onnx::TensorProto::INT32: dtype = DType::Int64; break;  // widened below
    case onnx::TensorProto::BOOL: dtype = DType::Bool; break;
    case onnx::TensorProto::DOUBLE: dtype = DType::Float32; break;  // narrowed below: Netloom computes in float32
    // Stored as they are; the generic ops compute them in a wider type and convert back.
    case onnx::TensorProto::UINT8: dtype = DType::UInt8; break;
    case onnx::TensorProto::FLOAT16: dtype = DType::Float16; break;
    case onnx::TensorProto::BFLOAT16: dtype = DType::BFloat16; break;
    default:
      fail(what, ": element type ", t.data_type(),
           " is not supported (float32, float64, float16, bfloat16, bool, integers)");
  }
  size_t elem = t.data_type() == onnx::TensorProto::INT32 ? 4 : 8;
  if (dtype == DType::Float32 || dtype == DType::Float16 || dtype == DType::BFloat16 || dtype == DType::UInt8)
    elem = dtype_size(dtype);
  if (dtype == DType::Bool) elem = 1;
  if (t.data_type() == onnx::TensorProto::DOUBLE) elem = 8;
  size_t bytes = static_cast<size_t>(numel) * elem;
  std::string raw;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    raw = external(bytes, what);
  } else if (t.has_raw_data()) {
    NL_CHECK(t.raw_data().size() == bytes, what, ": raw_data holds ", t.raw_data().size(), " bytes, expected ",
             bytes);
    raw = t.raw_data();
  } else {  // typed fields: their count must match before anything is allocated
    int count = t.data_type() == onnx::TensorProto::DOUBLE  ? t.double_data_size()
                : t.data_type() == onnx::TensorProto::FLOAT ? t.float_data_size()
                : t.data_type() == onnx::TensorProto::INT64 ? t.int64_data_size()
                                                            : t.int32_data_size();
    NL_CHECK(count == numel, what, ": holds ", count, " values, expected ", numel);
  }
  Tensor out = Tensor::empty(shape, dtype);
  if (!raw.empty() || bytes == 0) {
    if (t.data_type() == onnx::TensorProto::DOUBLE) {
      auto* dst = out.data<float>();
      for (int64_t i = 0; i < numel; ++i) {
        double v;
        std::memcpy(&v, raw.data() + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
    } else if (t.data_type() == onnx::TensorProto::INT32) {
      auto* dst = out.data<int64_t>();
      for (int64_t i = 0; i < numel; ++i) {
        int32_t v;
        std::memcpy(&v, raw.data() + 4 * i, 4);
        dst[i] = v;
      }
    } else if (bytes) {
      std::memcpy(out.raw_data(), raw.data(), bytes);
    }
    return out;
  }
  // Typed fields: float_data, int64_data, int32_data.
  auto check = [&](int size) {
    NL_CHECK(size == numel, what, ": holds ", size, " values, expected ", numel);
  };
  if (t.data_type() == onnx::TensorProto::DOUBLE) {
    check(t.double_data_size());
    for (int64_t i = 0; i < numel; ++i) out.data<float>()[i] = static_cast<float>(t.double_data(static_cast<int>(i)));
  } else if (t.data_type() == onnx::TensorProto::FLOAT) {
    check(t.float_data_size());
    std::memcpy(out.raw_data(), t.float_data().data(), bytes);
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    check(t.int64_data_size());
    std::memcpy(out.raw_data(), t.int64_data().data(), bytes);
  } else if (t.data_type() == onnx::TensorProto::BOOL) {  // bools travel in int32_data
    check(t.int32_data_size());
    for (int64_t i = 0; i < numel; ++i) out.data<bool>()[i] = t.int32_data(static_cast<int>(i)) != 0;
  } else if (dtype == DType::UInt8) {  // so do uint8 values
    check(t.int32_data_size());
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    for (int64_t i = 0; i < numel; ++i) dst[i] = static_cast<uint8_t>(t.int32_data(static_cast<int>(i)));
  } else if (dtype == DType::Float16 || dtype == DType::BFloat16) {  // and 16-bit floats, as their bits
    check(t.int32_data_size());
    auto* dst = static_cast<uint16_t*>(out.raw_data());
    for (int64_t i = 0; i < numel; ++i) dst[i] = static_cast<uint16_t>(t.int32_data(static_cast<int>(i)));
  } else {
    check(t.int32_data_size());
    for (int64_t i = 0; i < numel; ++i) out.data<int64_t>()[i] = t.int32_data(static_cast<int>(i));
  }
  return out;
}

// Note [External data].
std::string Importer::read_external(const onnx::TensorProto& t, size_t bytes, const std::string& what) const {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") offset = std::stoll(kv.value());
      if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(what, ": external data ", kv.key(), " '", kv.value(), "' is not a number");
    }
  }
  NL_CHECK(!folder_.empty(), what, ": external data is not allowed for a model read from memory");
  NL_CHECK(!location.empty(), what, ": external data without a location");
  fs::path rel(location);
  NL_CHECK(!rel.is_absolute() && !rel.has_root_name() && !rel.has_root_directory(), what,
           ": external data location '", location, "' is an absolute path; only files beside the model are read");
  for (const auto& part : rel)
    NL_CHECK(part != "..", what, ": external data location '", location, "' leaves the model's folder");
  fs::path full = fs::path(folder_) / rel;
  std::error_code ec;
  NL_CHECK(!fs::is_symlink(fs::symlink_status(full, ec)), what, ": external data location '", location,
           "' is a symlink; refused so the model cannot read files outside its folder");
  fs::path canon = fs::weakly_canonical(full, ec), base = fs::weakly_canonical(folder_, ec);
  auto [b_end, c_it] = std::mismatch(base.begin(), base.end(), canon.begin(), canon.end());
  NL_CHECK(b_end == base.end(), what, ": external data location '", location, "' resolves outside the model's folder");
  NL_CHECK(fs::is_regular_file(full, ec), what, ": external data file '", location, "' does not exist");
  auto size = static_cast<int64_t>(fs::file_size(full, ec));
  if (length < 0) length = static_cast<int64_t>(bytes);
  NL_CHECK(offset >= 0 && length == static_cast<int64_t>(bytes), what, ": external data length ", length,
           " does not match the tensor's ", bytes, " bytes");
  NL_CHECK(offset <= size && length <= size - offset, what, ": external data range [", offset, ", ",
           offset + length, ") lies outside '", location, "' (", size, " bytes)");
  std::ifstream f(full, std::ios::binary);
  std::string data(static_cast<size_t>(length), '\0');
  f.seekg(offset);
  f.read(data.data(), length);
  NL_CHECK(f.good() || length == 0, what, ": could not read external data from '", location, "'");
  return data;
}

}  // namespace detail

using detail::Importer;

project::Project import_onnx_bytes(const std::string& bytes, const std::string& file, const std::string& folder,
                                   const OnnxImportOptions& options) {
  NL_CHECK(!bytes.empty(), file, ": the file is empty");
  NL_CHECK(static_cast<int64_t>(bytes.size()) <= options.max_file_bytes, file, ": ", bytes.size(),
           " bytes is over the limit of ", options.max_file_bytes);
  onnx::ModelProto model;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(static_cast<int>(std::min<int64_t>(options.max_file_bytes, INT32_MAX)));
  coded.SetRecursionLimit(options.max_nesting);
  NL_CHECK(model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage(), file,
           ": not a valid ONNX model (the protobuf message is truncated, corrupt, or nested deeper than ",
           options.max_nesting, " levels)");
  NL_CHECK(model.ir_version() > 0 && model.has_graph(), file,
           ": not an ONNX model (no ir_version or graph; wrong file type?)");
  return Importer(model, file, folder, options).run();
}

Tensor read_onnx_tensor_file(const std::string& path, std::string* name, int32_t declared_elem_type) {
  std::error_code ec;
  NL_CHECK(fs::is_regular_file(path, ec), path, ": no such file");
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto t;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  NL_CHECK(t.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage(), path, ": not a valid TensorProto");
  if (name) *name = t.name();
  // onnx 1.12 writes bfloat16 test data as uint16 tensors holding the bit patterns.
  if (declared_elem_type == onnx::TensorProto::BFLOAT16 && t.data_type() == onnx::TensorProto::UINT16)
    t.set_data_type(onnx::TensorProto::BFLOAT16);
  return Importer::tensor_from_proto(t, path, [&](size_t, const std::string& what) -> std::string {
    fail(what, ": external data is not supported in a tensor file");
  });
}

project::Project import_onnx(const std::string& path, const OnnxImportOptions& options) {
  std::error_code ec;
  NL_CHECK(fs::is_regular_file(path, ec), path, ": no such file");
  auto size = static_cast<int64_t>(fs::file_size(path, ec));
  NL_CHECK(!ec && size <= options.max_file_bytes, path, ": ", size, " bytes is over the limit of ",
           options.max_file_bytes);
  std::ifstream f(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), size);
  NL_CHECK(f.good() || size == 0, path, ": could not read the file");
  std::string folder = fs::path(path).parent_path().string();
  return import_onnx_bytes(bytes, path, folder.empty() ? "." : folder, options);
}

}  // namespace nl::importers
