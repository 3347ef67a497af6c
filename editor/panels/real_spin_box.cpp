// RealSpinBox: shortest round-trip text for attribute values.
#include "editor/panels/real_spin_box.h"

namespace nl::editor {

RealSpinBox::RealSpinBox(QWidget* parent) : QDoubleSpinBox(parent) {
  // QDoubleSpinBox rounds the value to decimals(); keep enough for any float attribute.
  setDecimals(12);
}

QString RealSpinBox::textFromValue(double value) const { return QString::number(value, 'g', 8); }

double RealSpinBox::valueFromText(const QString& text) const { return text.trimmed().toDouble(); }

QValidator::State RealSpinBox::validate(QString& text, int&) const {
  QString t = text.trimmed();
  if (t.isEmpty() || t == "-" || t == "+" || t == "." || t.endsWith('e') || t.endsWith('E') || t.endsWith("e-") ||
      t.endsWith("e+"))
    return QValidator::Intermediate;
  bool ok = false;
  double v = t.toDouble(&ok);
  if (!ok) return QValidator::Invalid;
  return (v >= minimum() && v <= maximum()) ? QValidator::Acceptable : QValidator::Intermediate;
}

}  // namespace nl::editor
