// The inspector: building the form from a schema, keeping it in step with the document,
// and turning edits into setAttribute/renameNode requests.
#include "editor/panels/inspector_widget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>
#include <climits>

#include "editor/panels/real_spin_box.h"

namespace nl::editor {

using graph::AttrKind;
using graph::AttrSpec;
using graph::AttrValue;

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// "3, 3" for the line edits of list attributes (no brackets: they are typed that way too).
QString listText(const AttrValue& v) {
  QStringList parts;
  if (auto* ints = std::get_if<std::vector<int64_t>>(&v))
    for (int64_t x : *ints) parts << QString::number(x);
  if (auto* reals = std::get_if<std::vector<double>>(&v))
    for (double x : *reals) parts << QString::number(x, 'g', 8);
  return parts.join(", ");
}

// Parses "3, 3" or "[3, 3]" into the list the kind stores; an error says which item is bad.
std::optional<AttrValue> parseList(AttrKind kind, QString text, QString* error) {
  text = text.trimmed();
  if (text.startsWith('[') && text.endsWith(']')) text = text.mid(1, text.size() - 2);
  QStringList parts = text.split(',', Qt::SkipEmptyParts);
  std::vector<int64_t> ints;
  std::vector<double> reals;
  for (const QString& part : parts) {
    bool ok = false;
    if (kind == AttrKind::Ints) {
      ints.push_back(part.trimmed().toLongLong(&ok));
    } else {
      reals.push_back(part.trimmed().toDouble(&ok));
    }
    if (!ok) {
      *error = QObject::tr("'%1' is not a %2").arg(part.trimmed(), kind == AttrKind::Ints ? "whole number" : "number");
      return std::nullopt;
    }
  }
  if (kind == AttrKind::Ints) return AttrValue{ints};
  return AttrValue{reals};
}

}  // namespace

InspectorWidget::InspectorWidget(GraphDocument& doc, QWidget* parent)
    : QWidget(parent), doc_(doc), scroll_(new QScrollArea(this)) {
  scroll_->setWidgetResizable(true);
  scroll_->setFrameShape(QFrame::NoFrame);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(scroll_);
  rebuild();

  connect(&doc_, &GraphDocument::nodeChanged, this, [this](graph::NodeId id) {
    if (id == node_) refresh();
  });
  connect(&doc_, &GraphDocument::analysisChanged, this, &InspectorWidget::refresh);
  connect(&doc_, &GraphDocument::nodeRemoved, this, [this](graph::NodeId id) {
    if (id == node_) showNode(0);
  });
  connect(&doc_, &GraphDocument::graphReset, this, [this] { showNode(0); });
}

void InspectorWidget::showNode(graph::NodeId id) {
  node_ = doc_.graph().find(id) ? id : 0;
  rebuild();
}

QWidget* InspectorWidget::editor(const QString& attr) const {
  for (const Field& f : fields_)
    if (qs(f.spec.name) == attr) return f.editor;
  return nullptr;
}

QString InspectorWidget::refusal() const { return refusal_ ? refusal_->text() : QString(); }
QString InspectorWidget::analysisText() const { return analysis_ ? analysis_->text() : QString(); }
QString InspectorWidget::messagesText() const { return messages_ ? messages_->text() : QString(); }

void InspectorWidget::rebuild() {
  fields_.clear();
  name_ = nullptr;
  analysis_ = messages_ = refusal_ = nullptr;
  // The old form may be the sender of the signal that got us here: delete it later.
  if (QWidget* old = scroll_->takeWidget()) old->deleteLater();

  auto* content = new QWidget;
  auto* layout = new QVBoxLayout(content);
  const graph::Node* node = doc_.graph().find(node_);
  if (!node) {
    auto* hint = new QLabel(tr("Select a node on the canvas to see and change its settings."), content);
    hint->setWordWrap(true);
    hint->setEnabled(false);
    layout->addWidget(hint);
    layout->addStretch();
    scroll_->setWidget(content);
    return;
  }
  const graph::LayerSchema& schema = doc_.graph().registry().get(node->type);

  auto* title = new QLabel(QStringLiteral("<b>%1</b> · %2").arg(qs(schema.type), qs(schema.category)), content);
  layout->addWidget(title);
  auto* help = new QLabel(qs(schema.help), content);
  help->setWordWrap(true);
  layout->addWidget(help);

  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  name_ = new QLineEdit(content);
  name_->setToolTip(tr("The node's name: unique in the model, it keys the node's weights."));
  connect(name_, &QLineEdit::editingFinished, this, &InspectorWidget::commitName);
  form->addRow(tr("name"), name_);
  std::vector<AttrSpec> specs = schema.attrs;
  if (schema.open_attributes)  // an OnnxOp node's own ONNX attributes, editable like the rest
    for (const auto& [attr, value] : node->attrs)
      if (!schema.find_attr(attr)) specs.push_back(AttrSpec::undeclared(attr, value));
  for (const AttrSpec& spec : specs) {
    QWidget* editor = makeEditor(spec);
    editor->setParent(content);
    editor->setToolTip(qs(spec.help));
    editor->setObjectName(qs(spec.name));
    auto* label = new QLabel(qs(spec.name), content);
    label->setToolTip(qs(spec.help));
    label->setBuddy(editor);
    form->addRow(label, editor);
    fields_.push_back({spec, editor});
  }
  layout->addLayout(form);

  refusal_ = new QLabel(content);
  refusal_->setWordWrap(true);
  refusal_->setStyleSheet("color: #d32f2f;");
  refusal_->hide();
  layout->addWidget(refusal_);
  analysis_ = new QLabel(content);
  analysis_->setWordWrap(true);
  analysis_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(analysis_);
  messages_ = new QLabel(content);
  messages_->setWordWrap(true);
  messages_->setTextFormat(Qt::RichText);
  layout->addWidget(messages_);
  layout->addStretch();
  scroll_->setWidget(content);
  refresh();
}

QWidget* InspectorWidget::makeEditor(const AttrSpec& spec) {
  switch (spec.kind) {
    case AttrKind::Int: {
      auto* box = new QSpinBox;
      box->setRange(static_cast<int>(std::max<double>(spec.min.value_or(INT_MIN), INT_MIN)),
                    static_cast<int>(std::min<double>(spec.max.value_or(INT_MAX), INT_MAX)));
      // Without tracking, valueChanged comes once per Enter, focus loss or arrow step: one
      // undo step per change rather than one per digit typed.
      box->setKeyboardTracking(false);
      connect(box, &QSpinBox::valueChanged, this,
              [this, spec](int v) { commitAttribute(spec, AttrValue{int64_t{v}}); });
      return box;
    }
    case AttrKind::Float: {
      auto* box = new RealSpinBox;
      box->setRange(spec.min.value_or(-1e12), spec.max.value_or(1e12));
      box->setSingleStep(0.1);
      box->setKeyboardTracking(false);
      connect(box, &QDoubleSpinBox::valueChanged, this, [this, spec](double v) { commitAttribute(spec, AttrValue{v}); });
      return box;
    }
    case AttrKind::Bool: {
      auto* box = new QCheckBox;
      connect(box, &QCheckBox::clicked, this, [this, spec](bool on) { commitAttribute(spec, AttrValue{on}); });
      return box;
    }
    case AttrKind::Choice: {
      auto* box = new QComboBox;
      for (const std::string& c : spec.choices) box->addItem(qs(c));
      connect(box, &QComboBox::activated, this,
              [this, spec, box](int) { commitAttribute(spec, AttrValue{box->currentText().toStdString()}); });
      return box;
    }
    case AttrKind::String:
    case AttrKind::Ints:
    case AttrKind::Floats: {
      auto* edit = new QLineEdit;
      if (spec.kind != AttrKind::String) edit->setPlaceholderText(tr("e.g. 3, 3"));
      connect(edit, &QLineEdit::editingFinished, this, [this, spec, edit] { commitText(spec, edit); });
      return edit;
    }
  }
  return new QWidget;
}

void InspectorWidget::refresh() {
  const graph::Node* node = doc_.graph().find(node_);
  if (!node || !name_) return;
  {
    QSignalBlocker block(name_);
    name_->setText(qs(node->name));
  }
  graph::AttrMap attrs = doc_.graph().resolved_attributes(node_);
  for (const Field& f : fields_) {
    const AttrValue& v = attrs.at(f.spec.name);
    QSignalBlocker block(f.editor);
    if (auto* box = qobject_cast<QSpinBox*>(f.editor)) box->setValue(static_cast<int>(std::get<int64_t>(v)));
    else if (auto* real = qobject_cast<QDoubleSpinBox*>(f.editor)) real->setValue(std::get<double>(v));
    else if (auto* check = qobject_cast<QCheckBox*>(f.editor)) check->setChecked(std::get<bool>(v));
    else if (auto* combo = qobject_cast<QComboBox*>(f.editor)) combo->setCurrentText(qs(std::get<std::string>(v)));
    else if (auto* edit = qobject_cast<QLineEdit*>(f.editor))
      edit->setText(f.spec.kind == AttrKind::String ? qs(std::get<std::string>(v)) : listText(v));
  }

  const graph::GraphAnalysis& a = doc_.analysis();
  QStringList lines;
  auto it = a.nodes.find(node_);
  if (it != a.nodes.end() && it->second.inferred) {
    QStringList shapes;
    for (const auto& out : it->second.outputs) shapes << (out ? qs(graph::shape_to_string(out->shape)) : "—");
    lines << tr("Output: %1").arg(shapes.join(", "));
    const graph::LayerCost& cost = it->second.cost;
    lines << tr("Parameters: %1 (%2)").arg(qs(graph::human_count(cost.params))).arg(cost.params);
    lines << tr("FLOPs per sample: %1").arg(qs(graph::human_count(cost.flops)));
    lines << tr("Activations per sample: %1").arg(qs(graph::human_bytes(it->second.activation_bytes)));
  } else {
    lines << tr("Output: unknown until the inputs are fixed");
  }
  analysis_->setText(lines.join('\n'));

  QStringList msgs;
  for (const graph::NodeMessage& m : a.messages_for(node_)) {
    bool error = m.severity == graph::Severity::Error;
    msgs << QStringLiteral("<span style='color:%1'>%2: %3</span>")
                .arg(error ? "#d32f2f" : "#ef6c00", error ? tr("Error") : tr("Warning"), qs(m.text).toHtmlEscaped());
  }
  messages_->setText(msgs.join("<br>"));
  messages_->setVisible(!msgs.isEmpty());
}

void InspectorWidget::commitAttribute(const AttrSpec& spec, const AttrValue& value) {
  if (!doc_.graph().find(node_)) return;
  if (doc_.graph().attribute(node_, spec.name) == value) return;  // focus loss without a change
  graph::EditResult r = doc_.setAttribute(node_, spec.name, value);
  if (!r) {
    showRefusal(qs(spec.name) + ": " + qs(r.error));
    refresh();  // back to the value the graph holds
  } else {
    showRefusal({});
  }
}

void InspectorWidget::commitText(const AttrSpec& spec, QLineEdit* edit) {
  if (spec.kind == AttrKind::String) {
    commitAttribute(spec, AttrValue{edit->text().toStdString()});
    return;
  }
  QString error;
  std::optional<AttrValue> value = parseList(spec.kind, edit->text(), &error);
  if (!value) {
    showRefusal(qs(spec.name) + ": " + error);
    refresh();
    return;
  }
  commitAttribute(spec, *value);
}

void InspectorWidget::commitName() {
  const graph::Node* node = doc_.graph().find(node_);
  if (!node || !name_) return;
  std::string name = name_->text().trimmed().toStdString();
  if (name == node->name) return;
  graph::EditResult r = doc_.renameNode(node_, name);
  showRefusal(r ? QString() : tr("name: %1").arg(qs(r.error)));
  if (!r) refresh();
}

void InspectorWidget::showRefusal(const QString& reason) {
  if (!refusal_) return;
  refusal_->setText(reason);
  refusal_->setVisible(!reason.isEmpty());
}

}  // namespace nl::editor
