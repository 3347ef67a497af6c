// ONNX import: parses an ONNX model with size limits, reads its initializers (checking
// every size and external data path), then maps its nodes onto Netloom layers, folding
// the multi-node patterns exporters write (MatMul+Add, the Erf GELU, x·Sigmoid(x)) back into
// the layer a person would draw.
//
// Note [External data]: a tensor stored outside the .onnx file names a `location` relative
// to the model's folder. A hostile file could name "../../etc/passwd", an absolute path or a
// symlink pointing anywhere, so the location must be relative, contain no "..", not be a
// symlink, and resolve (canonically) inside the folder; offset and length are checked
// against the file's size and the tensor's element count before anything is read.
#include "importers/onnx/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/run/graph_executor.h"

namespace nl::importers {

namespace {

namespace fs = std::filesystem;
using graph::AttrMap;
using graph::NodeId;
using graph::PortRef;

constexpr int kMinOpset = 7, kMaxOpset = 18;

// Float attributes travel as float32: 1e-5 comes back as 9.99999975e-06. Seven significant
// digits is what float32 holds, so round-tripped settings read as the user typed them.
double clean(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return std::strtod(buf, nullptr);
}

class Importer {
 public:
  Importer(const onnx::ModelProto& m, std::string file, std::string folder, const OnnxImportOptions& o)
      : m_(m), g_(m.graph()), file_(std::move(file)), folder_(std::move(folder)), frozen_(o.frozen_inputs) {}

  project::Project run() {
    check_opsets();
    read_ranks();
    for (const auto& t : g_.initializer()) constants_[t.name()] = read_tensor(t);
    for (const auto& [name, t] : frozen_) constants_[name] = t;
    // Graph outputs keep their names (they are what a run returns); layers yield to them.
    for (const auto& out : g_.output()) used_names_.insert(out.name());
    for (const auto& in : g_.input())
      if (!constants_.count(in.name())) add_input(in);
    for (int i = 0; i < g_.node_size(); ++i) index_consumers(i);
    for (int i = 0; i < g_.node_size(); ++i)
      if (!consumed_.count(i)) map_node(i);
    for (const auto& out : g_.output()) add_output(out);
    layout();
    project::Project p;
    p.name = g_.name().empty() ? fs::path(file_).stem().string() : g_.name();
    p.description = m_.doc_string();
    p.graph = std::move(graph_);
    p.weights = std::move(weights_);
    return p;
  }

 private:
  [[noreturn]] void error(const onnx::NodeProto& n, const std::string& what) const {
    fail(file_, ": node '", n.name(), "' (", n.op_type(), "): ", what);
  }

  // ---- the model's envelope ----
  void check_opsets() {
    NL_CHECK(m_.has_graph(), file_, ": not an ONNX model (no graph)");
    for (const auto& op : m_.opset_import()) {
      if (op.domain().empty() || op.domain() == "ai.onnx") {
        opset_ = op.version();
      }
    }
    NL_CHECK(opset_ > 0, file_, ": not an ONNX model (no opset for the default domain)");
    NL_CHECK(opset_ >= kMinOpset && opset_ <= kMaxOpset, file_, ": opset ", opset_, " is not supported (",
             kMinOpset, "–", kMaxOpset, ")");
    for (const auto& n : g_.node())
      if (!n.domain().empty() && n.domain() != "ai.onnx")
        error(n, "operators of domain '" + n.domain() + "' (vendor contrib ops) are not supported");
  }

  // Ranks of intermediate values from ONNX's own shape inference, for the few mappings that
  // depend on them (BatchNorm1d or 2d, Transpose without perm, LayerNormalization's axis).
  void read_ranks() {
    onnx::ModelProto copy = m_;
    try {
      onnx::shape_inference::InferShapes(copy);
    } catch (const std::exception&) {
      // Ranks are a convenience: mappings that need one and find none say so themselves.
    }
    auto note = [&](const onnx::ValueInfoProto& v) {
      if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
        ranks_[v.name()] = v.type().tensor_type().shape().dim_size();
    };
    for (const auto& v : copy.graph().value_info()) note(v);
    for (const auto& v : copy.graph().input()) note(v);
    for (const auto& v : copy.graph().output()) note(v);
  }
  int64_t rank_of(const onnx::NodeProto& n, const std::string& value) const {
    auto it = ranks_.find(value);
    if (it == ranks_.end()) error(n, "the rank of '" + value + "' is unknown, which this mapping needs");
    return it->second;
  }

  // ---- tensors ----
  Tensor read_tensor(const onnx::TensorProto& t) const {
    return tensor_from_proto(t, file_ + ": initializer '" + t.name() + "'", [&](size_t bytes, const std::string& what) {
      return read_external(t, bytes, what);
    });
  }

 public:
  // `external` reads a tensor stored outside the message (Note [External data]).
  static Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& what,
                                  const std::function<std::string(size_t, const std::string&)>& external) {
    Shape shape;
    int64_t numel = 1;
    for (int64_t d : t.dims()) {
      NL_CHECK(d >= 0 && d < (int64_t{1} << 40), what, ": dimension ", d, " is invalid");
      NL_CHECK(numel <= std::numeric_limits<int64_t>::max() / std::max<int64_t>(d, 1), what, ": too many elements");
      numel *= d;
      shape.push_back(d);
    }
    DType dtype;
    switch (t.data_type()) {
      case onnx::TensorProto::FLOAT: dtype = DType::Float32; break;
      case onnx::TensorProto::INT64: dtype = DType::Int64; break;
      case onnx::TensorProto::INT32: dtype = DType::Int64; break;  // widened below
      default: fail(what, ": element type ", t.data_type(), " is not supported (float32, int64, int32)");
    }
    size_t elem = t.data_type() == onnx::TensorProto::INT32 ? 4 : 8;
    if (dtype == DType::Float32) elem = 4;
    size_t bytes = static_cast<size_t>(numel) * elem;
    std::string raw;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      raw = external(bytes, what);
    } else if (t.has_raw_data()) {
      NL_CHECK(t.raw_data().size() == bytes, what, ": raw_data holds ", t.raw_data().size(), " bytes, expected ",
               bytes);
      raw = t.raw_data();
    }
    Tensor out = Tensor::empty(shape, dtype);
    if (!raw.empty() || bytes == 0) {
      if (t.data_type() == onnx::TensorProto::INT32) {
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
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      check(t.float_data_size());
      std::memcpy(out.raw_data(), t.float_data().data(), bytes);
    } else if (t.data_type() == onnx::TensorProto::INT64) {
      check(t.int64_data_size());
      std::memcpy(out.raw_data(), t.int64_data().data(), bytes);
    } else {
      check(t.int32_data_size());
      for (int64_t i = 0; i < numel; ++i) out.data<int64_t>()[i] = t.int32_data(static_cast<int>(i));
    }
    return out;
  }

 private:
  // Note [External data].
  std::string read_external(const onnx::TensorProto& t, size_t bytes, const std::string& what) const {
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

  const Tensor* constant(const std::string& value) const {
    auto it = constants_.find(value);
    return it == constants_.end() ? nullptr : &it->second;
  }
  const Tensor& require_constant(const onnx::NodeProto& n, int input, const char* what) const {
    if (input >= n.input_size() || n.input(input).empty()) error(n, std::string("has no ") + what);
    const Tensor* t = constant(n.input(input));
    if (!t) error(n, std::string(what) + " '" + n.input(input) + "' must be a constant (an initializer)");
    return *t;
  }
  std::vector<int64_t> const_ints(const onnx::NodeProto& n, int input, const char* what) const {
    const Tensor& t = require_constant(n, input, what);
    if (t.dtype() != DType::Int64) error(n, std::string(what) + " must hold integers");
    return t.to_vector<int64_t>();
  }
  std::optional<double> const_scalar(const std::string& value) const {
    const Tensor* t = constant(value);
    if (!t || t->numel() != 1) return std::nullopt;
    return t->to(DType::Float32).item();
  }

  // ---- attributes ----
  static const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  static int64_t attr_i(const onnx::NodeProto& n, const std::string& name, int64_t def) {
    const auto* a = find_attr(n, name);
    return a ? a->i() : def;
  }
  static double attr_f(const onnx::NodeProto& n, const std::string& name, double def) {
    const auto* a = find_attr(n, name);
    return a ? clean(a->f()) : def;
  }
  static std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name,
                                        std::vector<int64_t> def) {
    const auto* a = find_attr(n, name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  static std::string attr_s(const onnx::NodeProto& n, const std::string& name, std::string def) {
    const auto* a = find_attr(n, name);
    return a ? a->s() : def;
  }

  // ---- the graph being built ----
  // The layer a Netloom export wrote this node for (its doc_string), or empty.
  static std::string netloom_layer(const onnx::NodeProto& n) {
    static const std::string tag = "Netloom layer '";
    const std::string& d = n.doc_string();
    if (d.rfind(tag, 0) != 0) return {};
    auto end = d.rfind("' (");
    return end == std::string::npos || end < tag.size() ? std::string() : d.substr(tag.size(), end - tag.size());
  }
  // Whether a multi-node pattern may fold `b` into `a`'s layer: not when a Netloom export
  // says they are two layers a user drew (Sigmoid then Mul is not always SiLU).
  static bool same_layer(const onnx::NodeProto& a, const onnx::NodeProto& b) {
    std::string la = netloom_layer(a), lb = netloom_layer(b);
    return la.empty() || lb.empty() || la == lb;
  }

  std::string layer_name(const onnx::NodeProto& n) {
    std::string tagged = netloom_layer(n);
    std::string base = !tagged.empty()      ? tagged
                       : !n.name().empty()  ? n.name()
                       : n.output_size()    ? n.output(0)
                                            : n.op_type();
    return free_name(base);
  }
  // `base` itself while unused (names come back as exported), else base_2, base_3 …
  std::string free_name(const std::string& base) {
    std::string name = base;
    for (int i = 2; used_names_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_names_.insert(name);
    return name;
  }

  NodeId add_layer(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs) {
    auto r = graph_.add_node(type, layer_name(n), attrs);
    if (!r) error(n, "cannot become a " + type + " layer: " + r.error);
    return r.value;
  }
  void connect(const onnx::NodeProto& n, const std::string& value, NodeId id, int slot) {
    auto it = values_.find(value);
    if (it == values_.end()) {
      if (constant(value)) error(n, "input '" + value + "' is a constant, which this layer takes only as data");
      error(n, "uses '" + value + "' before anything produces it (the graph is not topologically sorted)");
    }
    auto r = graph_.connect({it->second, {id, slot}});
    if (!r) error(n, "cannot connect '" + value + "': " + r.error);
  }
  void set_weight(NodeId id, const std::string& param, const Tensor& t) {
    weights_[run::module_name_for(graph_.node(id).name) + "." + param] = t.contiguous().clone();
  }
  // A one-input layer fed by the node's first input, producing its first output.
  // `last`: the final node of a folded pattern, whose name the layer takes.
  NodeId unary(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs = {},
               const std::string& out = {}, const onnx::NodeProto* last = nullptr) {
    NodeId id = add_layer(last ? *last : n, type, attrs);
    connect(n, n.input(0), id, 0);
    values_[out.empty() ? n.output(0) : out] = {id, 0};
    return id;
  }

  void add_input(const onnx::ValueInfoProto& in) {
    const auto& tt = in.type().tensor_type();
    std::string dtype;
    if (tt.elem_type() == onnx::TensorProto::FLOAT)
      dtype = "float32";
    else if (tt.elem_type() == onnx::TensorProto::INT64)
      dtype = "int64";
    else
      fail(file_, ": graph input '", in.name(), "' has element type ", tt.elem_type(), " (float32 or int64 only)");
    std::vector<int64_t> shape;
    for (const auto& d : tt.shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    auto r = graph_.add_node("Input", free_name(in.name()), {{"shape", shape}, {"dtype", dtype}});
    NL_CHECK(r, file_, ": graph input '", in.name(), "': ", r.error);
    values_[in.name()] = {r.value, 0};
  }

  void add_output(const onnx::ValueInfoProto& out) {
    std::string source = out.name();
    const std::string& name = out.name();
    if (auto it = output_identity_.find(out.name()); it != output_identity_.end()) source = it->second;
    auto r = graph_.add_node("Output", name);
    NL_CHECK(r, file_, ": graph output '", out.name(), "': ", r.error);
    auto v = values_.find(source);
    NL_CHECK(v != values_.end(), file_, ": graph output '", out.name(), "' is not produced by any node");
    auto c = graph_.connect({v->second, {r.value, 0}});
    NL_CHECK(c, file_, ": graph output '", out.name(), "': ", c.error);
  }

  // ---- consumers, for patterns that span nodes ----
  void index_consumers(int i) {
    for (const auto& v : g_.node(i).input())
      if (!v.empty()) consumers_[v].push_back(i);
  }
  bool is_graph_output(const std::string& v) const {
    for (const auto& o : g_.output())
      if (o.name() == v) return true;
    return false;
  }
  // The one node reading `value` when exactly one does (and it is not a graph output).
  const onnx::NodeProto* only_consumer(const std::string& value, const char* op, int* index = nullptr) const {
    auto it = consumers_.find(value);
    if (it == consumers_.end() || it->second.size() != 1 || is_graph_output(value)) return nullptr;
    const onnx::NodeProto& c = g_.node(it->second[0]);
    if (c.op_type() != op) return nullptr;
    if (index) *index = it->second[0];
    return &c;
  }
  static bool near(std::optional<double> v, double want) { return v && std::abs(*v - want) < 1e-4 * std::max(1.0, std::abs(want)); }
  // The other input of a binary node, given one of them.
  static std::string other_input(const onnx::NodeProto& n, const std::string& one) {
    return n.input(0) == one ? n.input(1) : n.input(0);
  }

  // ---- the op table ----
  void map_node(int index) {
    const onnx::NodeProto& n = g_.node(index);
    const std::string& op = n.op_type();
    if (op == "Constant") return read_constant_node(n);
    if (op == "Gemm") return map_gemm(n);
    if (op == "MatMul") return map_matmul(n);
    if (op == "Conv") return map_conv(n);
    if (op == "ConvTranspose") return map_conv_transpose(n);
    if (op == "BatchNormalization") return map_batch_norm(n);
    if (op == "LayerNormalization") return map_layer_norm(n);
    if (op == "Relu") return (void)unary(n, "ReLU");
    if (op == "LeakyRelu") return (void)unary(n, "LeakyReLU", {{"negative_slope", attr_f(n, "alpha", 0.01)}});
    if (op == "Tanh") return (void)unary(n, "Tanh");
    if (op == "Sigmoid") return map_sigmoid(n);
    if (op == "Softmax") return map_softmax(n);
    if (op == "Clip") return map_clip(n);
    if (op == "Div") return map_div(n);
    if (op == "ReduceMean") return map_reduce_mean(n);
    if (op == "MaxPool" || op == "AveragePool") return map_pool(n);
    if (op == "GlobalAveragePool") return map_global_pool(n);
    if (op == "Flatten") return map_flatten(n);
    if (op == "Reshape") {
      if (attr_i(n, "allowzero", 0)) error(n, "allowzero = 1 is not supported");
      return (void)unary(n, "Reshape", {{"shape", const_ints(n, 1, "shape")}});
    }
    if (op == "Transpose") {
      std::vector<int64_t> perm = attr_ints(n, "perm", {});
      if (const Tensor* w = constant(n.input(0))) {  // a transposed weight, folded (MatMul → Linear)
        if (w->dim() != 2 || (!perm.empty() && perm != std::vector<int64_t>{1, 0}))
          error(n, "only 2-d transposes of constants are folded");
        transposed_weights_[n.output(0)] = *w;
        constants_[n.output(0)] = w->t().contiguous();
        return;
      }
      if (perm.empty())  // reverses the axes
        for (int64_t d = rank_of(n, n.input(0)) - 1; d >= 0; --d) perm.push_back(d);
      return (void)unary(n, "Permute", {{"dims", perm}});
    }
    if (op == "Concat") return map_variadic(n, "Concat", {{"dim", attr_i(n, "axis", 1)}});
    if (op == "Sum") return map_variadic(n, "Add", {});
    if (op == "Add" || op == "Mul") return map_binary(n, op);
    if (op == "Identity") return map_identity(n);
    if (op == "Dropout") return map_dropout(n);
    if (op == "Gather") return map_gather(n);
    if (op == "Slice") return map_slice(n);
    if (op == "Split") return map_split(n);
    error(n, "op " + op + " has no Netloom layer yet");
  }

  void read_constant_node(const onnx::NodeProto& n) {
    const auto* a = find_attr(n, "value");
    if (!a || !a->has_t()) error(n, "only Constant nodes with a tensor 'value' are supported");
    constants_[n.output(0)] = read_tensor(a->t());
  }

  // x·W + b as a Linear layer; `w_out_in` is W in PyTorch's out×in layout.
  void linear(const onnx::NodeProto& n, const std::string& x, const Tensor& w_out_in, const Tensor* bias,
              const std::string& out, const onnx::NodeProto* last = nullptr) {
    NodeId id = add_layer(last ? *last : n, "Linear", {{"out_features", w_out_in.size(0)}, {"bias", bias != nullptr}});
    connect(n, x, id, 0);
    set_weight(id, "weight", w_out_in);
    if (bias) set_weight(id, "bias", bias->reshape({w_out_in.size(0)}));
    values_[out] = {id, 0};
  }

  void map_gemm(const onnx::NodeProto& n) {
    if (attr_i(n, "transA", 0)) error(n, "only Gemm with transA = 0 maps to Linear");
    const Tensor& b = require_constant(n, 1, "weight B");
    if (b.dim() != 2) error(n, "weight B must be 2-d");
    Tensor w = attr_i(n, "transB", 0) ? b : b.t().contiguous();
    const Tensor* c = n.input_size() > 2 && !n.input(2).empty() ? &require_constant(n, 2, "bias C") : nullptr;
    if (c && c->numel() != w.size(0) && c->numel() != 1) error(n, "bias C must hold one value per output");
    // alpha and beta scale the constants, so the layer holds the weights it applies.
    double alpha = find_attr(n, "alpha") ? find_attr(n, "alpha")->f() : 1.0;
    double beta = find_attr(n, "beta") ? find_attr(n, "beta")->f() : 1.0;
    if (alpha != 1.0) w = mul(w, alpha);
    Tensor bias;
    if (c) {
      bias = c->numel() == 1 ? mul(ones({w.size(0)}), c->to(DType::Float32).item()) : c->reshape({w.size(0)});
      if (beta != 1.0) bias = mul(bias, beta);
    }
    linear(n, n.input(0), w, c ? &bias : nullptr, n.output(0));
  }

  void map_matmul(const onnx::NodeProto& n) {
    // B constant (or a Transpose of one, as Netloom writes it): a Linear layer.
    Tensor w;
    if (const Tensor* b = constant(n.input(1)); b && b->dim() == 2) w = b->t().contiguous();
    if (auto it = transposed_weights_.find(n.input(1)); it != transposed_weights_.end()) w = it->second;
    if (!w.defined()) {
      NodeId id = add_layer(n, "MatMul", {});
      connect(n, n.input(0), id, 0);
      connect(n, n.input(1), id, 1);
      values_[n.output(0)] = {id, 0};
      return;
    }
    int add_index = -1;
    const onnx::NodeProto* add = only_consumer(n.output(0), "Add", &add_index);
    const Tensor* bias = add ? constant(other_input(*add, n.output(0))) : nullptr;
    if (bias && bias->numel() == w.size(0) && bias->dim() == 1 && same_layer(n, *add)) {
      consumed_.insert(add_index);
      linear(n, n.input(0), w, bias, add->output(0), add);
    } else {
      linear(n, n.input(0), w, nullptr, n.output(0));
    }
  }

  // pads [b1, b2, …, e1, e2, …] → symmetric padding, or the end-heavy padding of "same".
  struct Padding {
    std::vector<int64_t> pads;
    bool same = false;
  };
  Padding read_pads(const onnx::NodeProto& n, size_t spatial, const std::vector<int64_t>& k,
                    const std::vector<int64_t>& d, const std::vector<int64_t>& stride) const {
    std::string auto_pad = attr_s(n, "auto_pad", "NOTSET");
    bool unit_stride = std::all_of(stride.begin(), stride.end(), [](int64_t s) { return s == 1; });
    if (auto_pad == "VALID") return {std::vector<int64_t>(spatial, 0), false};
    if (auto_pad == "SAME_UPPER" && unit_stride) return {std::vector<int64_t>(spatial, 0), true};
    if (auto_pad != "NOTSET") error(n, "auto_pad " + auto_pad + " is not supported here");
    std::vector<int64_t> pads = attr_ints(n, "pads", std::vector<int64_t>(2 * spatial, 0));
    if (pads.size() != 2 * spatial) error(n, "pads must hold 2 values per spatial dimension");
    bool symmetric = true, same = unit_stride;
    for (size_t j = 0; j < spatial; ++j) {
      symmetric &= pads[j] == pads[j + spatial];
      int64_t total = d.empty() ? k[j] - 1 : d[j] * (k[j] - 1);
      same &= pads[j] == total / 2 && pads[j + spatial] == total - total / 2;
    }
    if (symmetric) return {std::vector<int64_t>(pads.begin(), pads.begin() + spatial), false};
    if (same) return {std::vector<int64_t>(spatial, 0), true};
    error(n, "asymmetric padding is not supported yet");
  }

  // Conv1d takes integers, the 2-d layers pairs.
  static graph::AttrValue window(const std::vector<int64_t>& v) {
    if (v.size() == 1) return v[0];
    return v;
  }

  void map_conv(const onnx::NodeProto& n) {
    const Tensor& w = require_constant(n, 1, "weight W");
    if (w.dim() != 3 && w.dim() != 4) error(n, "only 1-d and 2-d convolutions map to a layer (Conv1d, Conv2d)");
    size_t spatial = w.dim() - 2;
    std::vector<int64_t> k(w.shape().begin() + 2, w.shape().end());
    std::vector<int64_t> stride = attr_ints(n, "strides", std::vector<int64_t>(spatial, 1));
    std::vector<int64_t> dil = attr_ints(n, "dilations", std::vector<int64_t>(spatial, 1));
    Padding p = read_pads(n, spatial, k, dil, stride);
    bool bias = n.input_size() > 2 && !n.input(2).empty();
    AttrMap a = {{"out_channels", w.size(0)}, {"kernel_size", window(k)},         {"stride", window(stride)},
                 {"dilation", window(dil)},   {"groups", attr_i(n, "group", 1)}, {"bias", bias},
                 {"padding_type", std::string(p.same ? "same" : "explicit")}};
    if (!p.same) a["padding"] = window(p.pads);  // "same" ignores it: left at its default
    NodeId id = unary(n, spatial == 1 ? "Conv1d" : "Conv2d", a);
    set_weight(id, "weight", w);
    if (bias) set_weight(id, "bias", require_constant(n, 2, "bias B"));
  }

  void map_conv_transpose(const onnx::NodeProto& n) {
    const Tensor& w = require_constant(n, 1, "weight W");
    if (w.dim() != 4) error(n, "only 2-d transposed convolutions map to a layer (ConvTranspose2d)");
    if (find_attr(n, "output_shape")) error(n, "output_shape is not supported; give pads and output_padding");
    std::vector<int64_t> k = {w.size(2), w.size(3)};
    std::vector<int64_t> stride = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
    std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0});
    if (attr_s(n, "auto_pad", "NOTSET") != "NOTSET" || pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3])
      error(n, "only explicit symmetric padding is supported");
    int64_t group = attr_i(n, "group", 1);
    bool bias = n.input_size() > 2 && !n.input(2).empty();
    NodeId id = unary(n, "ConvTranspose2d",
                      {{"out_channels", w.size(1) * group},
                       {"kernel_size", k},
                       {"stride", stride},
                       {"padding", std::vector<int64_t>{pads[0], pads[1]}},
                       {"dilation", dil},
                       {"output_padding", attr_ints(n, "output_padding", {0, 0})},
                       {"groups", group},
                       {"bias", bias}});
    set_weight(id, "weight", w);
    if (bias) set_weight(id, "bias", require_constant(n, 2, "bias B"));
  }

  void map_batch_norm(const onnx::NodeProto& n) {
    if (attr_i(n, "training_mode", 0)) error(n, "training_mode = 1 is not supported");
    int64_t rank = rank_of(n, n.input(0));
    if (rank < 2 || rank > 4) error(n, "expects a rank 2-4 input, got rank " + std::to_string(rank));
    NodeId id = unary(n, rank == 4 ? "BatchNorm2d" : "BatchNorm1d",
                      {{"eps", attr_f(n, "epsilon", 1e-5)}, {"momentum", clean(1.0 - attr_f(n, "momentum", 0.9))}});
    set_weight(id, "weight", require_constant(n, 1, "scale"));
    set_weight(id, "bias", require_constant(n, 2, "bias B"));
    set_weight(id, "running_mean", require_constant(n, 3, "mean"));
    set_weight(id, "running_var", require_constant(n, 4, "var"));
    set_weight(id, "num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
  }

  void map_layer_norm(const onnx::NodeProto& n) {
    int64_t axis = attr_i(n, "axis", -1);
    int64_t dims = axis < 0 ? -axis : rank_of(n, n.input(0)) - axis;
    const Tensor& scale = require_constant(n, 1, "scale");
    NodeId id = unary(n, "LayerNorm", {{"normalized_dims", dims}, {"eps", attr_f(n, "epsilon", 1e-5)}});
    set_weight(id, "weight", scale);
    set_weight(id, "bias", n.input_size() > 2 && !n.input(2).empty() ? require_constant(n, 2, "bias B")
                                                                      : zeros(scale.shape()));
  }

  // Sigmoid(x) read only by Mul(x, ·) is SiLU.
  void map_sigmoid(const onnx::NodeProto& n) {
    int mul_index = -1;
    const onnx::NodeProto* mul = only_consumer(n.output(0), "Mul", &mul_index);
    if (mul && other_input(*mul, n.output(0)) == n.input(0) && same_layer(n, *mul)) {
      consumed_.insert(mul_index);
      unary(n, "SiLU", {}, mul->output(0), mul);
      return;
    }
    unary(n, "Sigmoid");
  }

  void map_softmax(const onnx::NodeProto& n) {
    int64_t axis = attr_i(n, "axis", opset_ >= 13 ? -1 : 1);
    // Before opset 13 Softmax flattened the axes from `axis` on; it equals a per-axis
    // softmax only over the last axis.
    if (opset_ < 13 && axis != -1 && axis != rank_of(n, n.input(0)) - 1)
      error(n, "opset " + std::to_string(opset_) + " Softmax over axis " + std::to_string(axis) +
                   " (not the last) has no layer yet");
    unary(n, "Softmax", {{"dim", axis}});
  }

  void map_clip(const onnx::NodeProto& n) {
    std::optional<double> lo, hi;
    if (opset_ < 11) {
      lo = attr_f(n, "min", -std::numeric_limits<float>::max());
      hi = attr_f(n, "max", std::numeric_limits<float>::max());
    } else {
      if (n.input_size() > 1 && !n.input(1).empty()) lo = const_scalar(n.input(1));
      if (n.input_size() > 2 && !n.input(2).empty()) hi = const_scalar(n.input(2));
    }
    if (near(lo, 0) && near(hi, 6)) return (void)unary(n, "ReLU6");
    if (near(lo, 0) && (!hi || *hi >= std::numeric_limits<float>::max())) return (void)unary(n, "ReLU");
    error(n, "only Clip(0, 6) (ReLU6) and Clip(0) (ReLU) have a layer yet");
  }

  // Div(x, √2) → Erf → Add 1 → Mul x → Mul 0.5: GELU as PyTorch (and Netloom) export it.
  void map_div(const onnx::NodeProto& n) {
    int i_erf, i_add, i_mul, i_half;
    const onnx::NodeProto *erf = nullptr, *add = nullptr, *mul = nullptr, *half = nullptr;
    if (near(const_scalar(n.input(1)), std::sqrt(2.0)) && (erf = only_consumer(n.output(0), "Erf", &i_erf)) &&
        (add = only_consumer(erf->output(0), "Add", &i_add)) &&
        near(const_scalar(other_input(*add, erf->output(0))), 1.0) &&
        (mul = only_consumer(add->output(0), "Mul", &i_mul)) && other_input(*mul, add->output(0)) == n.input(0) &&
        (half = only_consumer(mul->output(0), "Mul", &i_half)) &&
        near(const_scalar(other_input(*half, mul->output(0))), 0.5) && same_layer(n, *half)) {
      consumed_.insert({i_erf, i_add, i_mul, i_half});
      unary(n, "GELU", {{"approximate", std::string("none")}}, half->output(0), half);
      return;
    }
    error(n, "op Div has no Netloom layer yet (only as part of the Erf GELU pattern)");
  }

  // ReduceMean → Sub → Pow 2 → ReduceMean → Add eps → Sqrt → Div (→ Mul scale → Add bias):
  // LayerNorm as PyTorch exports it before opset 17 (and Netloom too).
  void map_reduce_mean(const onnx::NodeProto& n) {
    auto axes_of = [&](const onnx::NodeProto& r) {
      return opset_ >= 18 && r.input_size() > 1 ? const_ints(r, 1, "axes") : attr_ints(r, "axes", {});
    };
    std::vector<int64_t> axes = axes_of(n);
    const std::string& x = n.input(0);
    int i_sub, i_pow, i_var, i_add, i_sqrt, i_div, i_mul = -1, i_bias = -1;
    const onnx::NodeProto *sub, *pow, *var, *add, *sqrt, *div, *mul = nullptr, *bias = nullptr;
    auto fail_pattern = [&] { error(n, "op ReduceMean has no Netloom layer yet (only as part of the LayerNorm pattern)"); };
    if (!(sub = only_consumer(n.output(0), "Sub", &i_sub)) || sub->input(0) != x || !same_layer(n, *sub))
      fail_pattern();
    const std::string& centered = sub->output(0);
    auto users = consumers_.find(centered);
    if (users == consumers_.end() || users->second.size() != 2) fail_pattern();
    i_pow = g_.node(users->second[0]).op_type() == "Pow" ? users->second[0] : users->second[1];
    i_div = i_pow == users->second[0] ? users->second[1] : users->second[0];
    pow = &g_.node(i_pow);
    div = &g_.node(i_div);
    if (pow->op_type() != "Pow" || !near(const_scalar(pow->input(1)), 2.0) || div->op_type() != "Div" ||
        div->input(0) != centered)
      fail_pattern();
    if (!(var = only_consumer(pow->output(0), "ReduceMean", &i_var)) || axes_of(*var) != axes ||
        !(add = only_consumer(var->output(0), "Add", &i_add)) ||
        !(sqrt = only_consumer(add->output(0), "Sqrt", &i_sqrt)) || div->input(1) != sqrt->output(0))
      fail_pattern();
    std::optional<double> eps = const_scalar(other_input(*add, var->output(0)));
    if (!eps) fail_pattern();
    // Trailing axes only: [-k … -1] (or their positive spelling).
    int64_t k = static_cast<int64_t>(axes.size());
    std::vector<int64_t> trailing = axes;
    if (k && axes[0] >= 0) {
      int64_t rank = rank_of(n, x);
      for (auto& a : trailing) a -= rank;
    }
    for (int64_t j = 0; j < k; ++j)
      if (trailing[j] != j - k) error(n, "a LayerNorm pattern over axes that are not the last ones has no layer yet");
    const onnx::NodeProto* last = div;
    const Tensor *scale = nullptr, *shift = nullptr;
    if ((mul = only_consumer(div->output(0), "Mul", &i_mul)) && (scale = constant(other_input(*mul, div->output(0))))) {
      last = mul;
      if ((bias = only_consumer(mul->output(0), "Add", &i_bias)) &&
          (shift = constant(other_input(*bias, mul->output(0)))))
        last = bias;
    }
    if (!scale) error(n, "a LayerNorm pattern without a scale has no layer yet");
    consumed_.insert({i_sub, i_pow, i_var, i_add, i_sqrt, i_div});
    if (last != div) consumed_.insert(i_mul);
    if (last == bias) consumed_.insert(i_bias);
    NodeId id = unary(n, "LayerNorm", {{"normalized_dims", k}, {"eps", clean(*eps)}}, last->output(0), last);
    set_weight(id, "weight", *scale);
    set_weight(id, "bias", shift ? *shift : zeros(scale->shape()));
  }

  void map_pool(const onnx::NodeProto& n) {
    bool is_max = n.op_type() == "MaxPool";
    if (n.output_size() > 1 && !n.output(1).empty()) error(n, "the Indices output is not supported");
    std::vector<int64_t> k = attr_ints(n, "kernel_shape", {});
    if (k.size() != 2) error(n, "only 2-d pooling maps to a layer (MaxPool2d, AvgPool2d)");
    std::vector<int64_t> stride = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
    Padding p = read_pads(n, 2, k, dil, stride);
    if (p.same) error(n, "\"same\" padding of a pooling layer is not supported yet");
    AttrMap a = {{"kernel_size", k},
                 {"stride", stride},
                 {"padding", p.pads},
                 {"ceil_mode", attr_i(n, "ceil_mode", 0) != 0}};
    if (is_max)
      a["dilation"] = dil;
    else
      a["count_include_pad"] = attr_i(n, "count_include_pad", 0) != 0;
    unary(n, is_max ? "MaxPool2d" : "AvgPool2d", a);
  }

  // GlobalAveragePool read only by Flatten(axis 1) is GlobalAvgPool2d (N×C).
  void map_global_pool(const onnx::NodeProto& n) {
    if (rank_of(n, n.input(0)) != 4) error(n, "only 2-d global pooling (N×C×H×W) maps to a layer");
    int flat_index = -1;
    const onnx::NodeProto* flat = only_consumer(n.output(0), "Flatten", &flat_index);
    if (flat && attr_i(*flat, "axis", 1) == 1 && same_layer(n, *flat)) {
      consumed_.insert(flat_index);
      unary(n, "GlobalAvgPool2d", {}, flat->output(0), flat);
      return;
    }
    unary(n, "AdaptiveAvgPool2d", {{"output_size", std::vector<int64_t>{1, 1}}});
  }

  void map_flatten(const onnx::NodeProto& n) {
    int64_t axis = attr_i(n, "axis", 1);
    if (axis == 1) return (void)unary(n, "Flatten", {{"start_dim", int64_t{1}}, {"end_dim", int64_t{-1}}});
    if (axis == 0) return (void)unary(n, "Reshape", {{"shape", std::vector<int64_t>{1, -1}}});
    int64_t rank = rank_of(n, n.input(0));
    if (axis < 0) axis += rank;
    if (axis == 1) return (void)unary(n, "Flatten", {{"start_dim", int64_t{1}}, {"end_dim", int64_t{-1}}});
    if (axis <= 0 || axis >= rank) error(n, "Flatten with axis " + std::to_string(axis) + " has no layer yet");
    // Two merges: the trailing axes into one, then the leading ones.
    NodeId tail = unary(n, "Flatten", {{"start_dim", axis}, {"end_dim", int64_t{-1}}}, n.output(0) + "/tail");
    NodeId head = add_layer(n, "Flatten", {{"start_dim", int64_t{0}}, {"end_dim", axis - 1}});
    auto r = graph_.connect({{tail, 0}, {head, 0}});
    if (!r) error(n, r.error);
    values_[n.output(0)] = {head, 0};
  }

  void map_variadic(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs) {
    NodeId id = add_layer(n, type, attrs);
    for (int s = 0; s < n.input_size(); ++s) connect(n, n.input(s), id, s);
    values_[n.output(0)] = {id, 0};
  }

  void map_binary(const onnx::NodeProto& n, const std::string& op) {
    if (constant(n.input(0)) || constant(n.input(1)))
      error(n, op + " with a constant operand has no layer yet");
    map_variadic(n, op, {});
  }

  void map_identity(const onnx::NodeProto& n) {
    // An Identity that only renames a value into a graph output is how Output nodes export.
    if (is_graph_output(n.output(0)) && n.name() == n.output(0) && !consumers_.count(n.output(0))) {
      output_identity_[n.output(0)] = n.input(0);
      return;
    }
    if (const Tensor* t = constant(n.input(0))) {
      constants_[n.output(0)] = *t;
      return;
    }
    unary(n, "Identity");
  }

  void map_dropout(const onnx::NodeProto& n) {
    if (n.output_size() > 1 && !n.output(1).empty() && consumers_.count(n.output(1)))
      error(n, "the mask output is not supported");
    double p = opset_ >= 12 ? (n.input_size() > 1 && !n.input(1).empty() ? const_scalar(n.input(1)).value_or(0.5)
                                                                         : 0.5)
                            : attr_f(n, "ratio", 0.5);
    unary(n, "Dropout", {{"p", clean(p)}});
  }

  void map_gather(const onnx::NodeProto& n) {
    const Tensor* table = constant(n.input(0));
    if (!table || table->dim() != 2 || attr_i(n, "axis", 0) != 0)
      error(n, "only Gather of rows of a 2-d initializer (an embedding table) has a layer yet");
    NodeId id = add_layer(n, "Embedding", {{"num_embeddings", table->size(0)}, {"embedding_dim", table->size(1)}});
    connect(n, n.input(1), id, 0);
    set_weight(id, "weight", *table);
    values_[n.output(0)] = {id, 0};
  }

  void map_slice(const onnx::NodeProto& n) {
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = attr_ints(n, "starts", {});
      ends = attr_ints(n, "ends", {});
      axes = attr_ints(n, "axes", {});
    } else {
      starts = const_ints(n, 1, "starts");
      ends = const_ints(n, 2, "ends");
      if (n.input_size() > 3 && !n.input(3).empty()) axes = const_ints(n, 3, "axes");
      if (n.input_size() > 4 && !n.input(4).empty()) steps = const_ints(n, 4, "steps");
    }
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
      error(n, "starts, ends, axes and steps differ in length");
    for (int64_t step : steps)
      if (step < 1) error(n, "only positive steps are supported");
    // One Slice layer per axis, chained.
    std::string value = n.input(0);
    for (size_t k = 0; k < starts.size(); ++k) {
      NodeId id = add_layer(n, "Slice", {{"dim", axes[k]}, {"start", starts[k]}, {"end", ends[k]}, {"step", steps[k]}});
      connect(n, value, id, 0);
      value = k + 1 == starts.size() ? n.output(0) : n.output(0) + "/axis" + std::to_string(k);
      values_[value] = {id, 0};
    }
  }

  void map_split(const onnx::NodeProto& n) {
    std::vector<int64_t> sizes;
    if (opset_ >= 13 && n.input_size() > 1 && !n.input(1).empty())
      sizes = const_ints(n, 1, "split");
    else if (opset_ < 13)
      sizes = attr_ints(n, "split", {});
    AttrMap a = {{"dim", attr_i(n, "axis", 0)}, {"num_outputs", int64_t{n.output_size()}}};
    // Equal sizes are what an empty list means, and keep a round trip's attributes as drawn.
    bool equal = std::all_of(sizes.begin(), sizes.end(), [&](int64_t v) { return v == sizes.front(); });
    if (!sizes.empty() && !equal) a["sizes"] = sizes;
    NodeId id = add_layer(n, "Split", a);
    connect(n, n.input(0), id, 0);
    for (int p = 0; p < n.output_size(); ++p) values_[n.output(p)] = {id, p};
  }

  // Left to right by longest path from an input, stacked top to bottom within a column.
  void layout() {
    std::map<NodeId, int> column;
    std::map<int, int> rows;
    for (NodeId id : graph_.topological_order()) {
      int c = 0;
      for (const auto& e : graph_.edges_into(id)) c = std::max(c, column[e.from.node] + 1);
      column[id] = c;
      graph::NodeUi ui = graph_.node(id).ui;
      ui.x = 220.0 * c;
      ui.y = 120.0 * rows[c]++;
      graph_.set_ui(id, ui);
    }
  }

  const onnx::ModelProto& m_;
  const onnx::GraphProto& g_;
  std::string file_, folder_;
  int64_t opset_ = 0;
  graph::ModelGraph graph_;
  std::map<std::string, Tensor> weights_;
  std::map<std::string, Tensor> constants_;
  std::map<std::string, Tensor> transposed_weights_;  // Transpose(W) outputs, for MatMul → Linear
  std::map<std::string, PortRef> values_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, std::string> output_identity_;  // graph output → the value it renames
  std::map<std::string, int64_t> ranks_;
  std::set<int> consumed_;
  std::set<std::string> used_names_;
  std::map<std::string, Tensor> frozen_;
};

}  // namespace

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

Tensor read_onnx_tensor_file(const std::string& path, std::string* name) {
  std::error_code ec;
  NL_CHECK(fs::is_regular_file(path, ec), path, ": no such file");
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto t;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  NL_CHECK(t.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage(), path, ": not a valid TensorProto");
  if (name) *name = t.name();
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
