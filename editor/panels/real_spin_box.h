// A QDoubleSpinBox that shows values the way attributes are written (0.1, 1e-05) instead
// of a fixed number of decimals, so an epsilon of 1e-5 is neither shown as 0.00 nor rounded.
#pragma once
#include <QDoubleSpinBox>

namespace nl::editor {

class RealSpinBox : public QDoubleSpinBox {
  Q_OBJECT

 public:
  explicit RealSpinBox(QWidget* parent = nullptr);

  QString textFromValue(double value) const override;
  double valueFromText(const QString& text) const override;
  QValidator::State validate(QString& text, int& pos) const override;
};

}  // namespace nl::editor
